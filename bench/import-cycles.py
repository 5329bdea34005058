#!/usr/bin/env python3
"""Lists the import cycles among the modules (files) of a crate's src/ tree.

Usage: bench/import-cycles.py [-v] [http/src]      (-v: also list the edges of each cycle)

Every file is one module (client/conn/mod.rs is `client::conn`). An edge A -> B is a
`use crate::...`/`use super::...` line of A (grouped `{...}` imports expanded) or a
`crate::...` path written in A's code, resolved to the longest module path that is a file.
Comments and `#[cfg(test)] mod tests` blocks are skipped, so test code does not count.
Prints each strongly connected component of more than one file (a set of files that all
reach each other), largest first, and the number of edges inside it.
"""
import os
import re
import sys

args = [a for a in sys.argv[1:] if a != "-v"]
verbose = "-v" in sys.argv[1:]
root = args[0] if args else "http/src"

def module_of(path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel)

files = {}
for d, _, names in os.walk(root):
    for n in names:
        if n.endswith(".rs"):
            p = os.path.join(d, n)
            parts = os.path.relpath(p, root).split(os.sep)
            if "tests" in parts[:-1] or n == "tests.rs":
                continue
            files[module_of(p)] = p

def strip(text):
    # Drop the test module at the end of a file, then comments.
    m = re.search(r"#\[cfg\(test\)\]\s*(pub(\(crate\))?\s+)?mod\s+\w+\s*\{", text)
    if m:
        text = text[: m.start()]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(l.split("//")[0] for l in text.splitlines())

def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = tree.strip()
    i = tree.find("{")
    if i < 0:
        return [tree.split(" as ")[0].strip()]
    prefix, inner = tree[:i], tree[i + 1 : tree.rfind("}")]
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    return [p for it in items if it.strip() for p in expand(prefix + it.strip())]

def resolve(me, path):
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    if segs[0] == "crate":
        base, segs = (), segs[1:]
    elif segs[0] in ("super", "self"):
        base = me
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    elif me + (segs[0],) in files:  # `use job::Job` in client/mod.rs names a child
        base = me
    else:
        return None
    full = base + tuple(segs)
    for n in range(len(full), 0, -1):
        if full[:n] in files:
            return full[:n]
    return None

edges = {m: set() for m in files}
for m, p in files.items():
    code = strip(open(p).read())
    paths = []
    for u in re.finditer(r"\buse\s+([^;]+);", code):
        paths += expand(u.group(1))
    paths += re.findall(r"\bcrate(?:::\w+)+", code)
    for path in paths:
        t = resolve(m, path)
        if t and t != m:
            edges[m].add(t)

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        sccs.append(comp)
for v in sorted(edges):
    if v not in index:
        visit(v)

cycles = sorted((c for c in sccs if len(c) > 1), key=len, reverse=True)
name = lambda m: "::".join(m) or "lib"
if not cycles:
    print("no import cycles")
for c in cycles:
    inside = sum(1 for a in c for b in edges[a] if b in c)
    print(f"{len(c)} files, {inside} edges: " + ", ".join(sorted(name(m) for m in c)))
    if verbose:
        for a in sorted(c):
            for b in sorted(edges[a]):
                if b in c:
                    print(f"    {name(a)} -> {name(b)}")
