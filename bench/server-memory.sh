#!/usr/bin/env bash
# Memory per idle connection (issue 20): N idle keep-alive connections (HTTP/1.1, then h2c),
# each after one small request, held against slotnet-serve (one loop) and nginx (1 worker)
# in the same run; prints the RSS growth per connection (KiB). Each figure gets a freshly
# started server (memory freed by an earlier round would be reused and hide the growth).
# Servers on core 0, the client (bench/idle_conns.py) on core 1.
#   bench/server-memory.sh [N]      (default 10000; raises the soft open-files limit)
# Ports 28480-28490 (MEMORY_PORT to move them), so that it runs beside the other scripts.
source "$(dirname "$0")/common.sh"
N=${1:-10000}
PORT=${MEMORY_PORT:-28480}
need_packages nginx python3
ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < N + 100 )); then log "ulimit -n $(ulimit -n) is below $N + 100"; exit 1; fi
# SLOTNET_BIN=DIR measures the slotnet-serve in DIR (an earlier build) instead of building.
if [[ -n ${SLOTNET_BIN:-} ]]; then BIN=$SLOTNET_BIN; else build_slotnet; fi
OUT="$RUN/server-memory.$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT" "$RUN/www" "$RUN/tmp"
printf hello > "$RUN/www/hello.txt"
chmod -R a+rX "$RUN"
# nginx_conf WORKERS CONNECTIONS PID_NAME LISTEN...: a plain nginx config on stdout serving
# run/bench/www (hello.txt) on each "ADDR:PORT[ http2]" given.
nginx_conf() {
    local workers=$1 conns=$2 pid=$3 l; shift 3
    printf 'worker_processes %s;\ndaemon off;\npid %s;\nerror_log error.log warn;\n' "$workers" "$pid"
    printf 'events { worker_connections %s; }\nhttp {\n    access_log off;\n    keepalive_timeout 65;\n' "$conns"
    printf '    keepalive_requests 1000000;\n    types { text/plain txt; }\n    client_body_temp_path tmp/client_body;\n'
    printf '    proxy_temp_path tmp/proxy;\n    fastcgi_temp_path tmp/fastcgi;\n    uwsgi_temp_path tmp/uwsgi;\n    scgi_temp_path tmp/scgi;\n'
    for l in "$@"; do printf '    server { listen %s backlog=4096; root www; }\n' "$l"; done
    printf '}\n'
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# measure LABEL PID PORT [client flags]: RSS of PID before and with N idle connections.
measure() {
    local label=$1 pid=$2 port=$3; shift 3
    local before after ready count
    sleep 0.5
    before=$(rss_kib "$pid")
    coproc CLIENT { taskset -c "$CLIENT_CPU" python3 "$REPO/bench/idle_conns.py" 127.0.0.1 "$port" "$N" "$@"; }
    read -r ready count <&"${CLIENT[0]}" || { log "$label: the client failed"; return 1; }
    sleep 1
    after=$(rss_kib "$pid")
    exec {CLIENT[1]}>&-
    wait "$CLIENT_PID" 2>/dev/null || true
    awk -v l="$label" -v b="$before" -v a="$after" -v n="$count" \
        'BEGIN { printf "| %s | %d | %d | %d | %.2f |\n", l, n, b, a, (a - b) / n }'
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# slotnet LABEL [client flags]: a fresh slotnet-serve (one loop, h2c on), measured.
slotnet() {
    local label=$1 pid; shift
    taskset -c "$SERVER_CPU" "$BIN/slotnet-serve" --listen "127.0.0.1:$((PORT + 10))" --h2c --quiet \
        > "$OUT/serve.log" 2>&1 &
    pid=$!
    wait_port $((PORT + 10))
    measure "$label" "$pid" $((PORT + 10)) "$@"
    stop "$pid"
}
# nginx_round LABEL [client flags]: a fresh nginx (1 worker), its worker measured.
nginx_round() {
    local label=$1 master worker; shift
    nginx_conf 1 $((N + 1000)) nginx-memory.pid "127.0.0.1:$PORT" "127.0.0.1:$((PORT + 2)) http2" \
        > "$RUN/nginx-memory.conf"
    taskset -c "$SERVER_CPU" nginx -p "$RUN/" -c nginx-memory.conf -e error.log &
    master=$!
    wait_port "$PORT"; wait_port $((PORT + 2))
    worker=$(pgrep -P "$master" | head -1)
    if [[ "${1:-}" == --h2 ]]; then
        measure "$label" "$worker" $((PORT + 2)) "$@" --nginx
    else
        measure "$label" "$worker" "$PORT" "$@" --nginx
    fi
    stop "$master"
}
{
echo "| server, $N idle connections | connections | RSS before (KiB) | RSS with them (KiB) | KiB per connection |"
echo "|---|---|---|---|---|"
slotnet "slotnet-serve, HTTP/1.1"
nginx_round "nginx (1 worker), HTTP/1.1"
slotnet "slotnet-serve, h2c" --h2
nginx_round "nginx (1 worker), h2c" --h2
} | tee "$OUT/summary.md"
