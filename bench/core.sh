#!/usr/bin/env bash
# Core micro-benchmarks (issue 2): slotnet-corebench vs the Qt anchor qsignal_bench, run
# alternately in the same session. Prints a markdown table with the median of ROUNDS runs.
#   bench/core.sh [ROUNDS]     (default 3)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
need_packages time
build_slotnet
build_qt_anchors
OUT="$RUN/core.$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
for r in $(seq 1 "$ROUNDS"); do
    log "round $r/$ROUNDS"
    "$BIN/slotnet-corebench" > "$OUT/slotnet.$r"
    "$QT/build/qsignal_bench" > "$OUT/qt.$r"
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
fig() { # fig PREFIX NAME: median of NAME=value over the rounds of PREFIX
    local r; for r in $(seq 1 "$ROUNDS"); do sed -n "s/^$2=\([0-9.e+]*\) .*/\1/p" "$OUT/$1.$r"; done | median
}
row() { # row LABEL UNIT SLOTNET_NAME QT_NAME BETTER(lower|higher)
    local s q ratio
    s=$(fig slotnet "$3"); q=$(fig qt "$4")
    if [ "$5" = lower ]; then ratio=$(awk -v s="$s" -v q="$q" 'BEGIN{printf "%.1fx", q/s}')
    else ratio=$(awk -v s="$s" -v q="$q" 'BEGIN{printf "%.1fx", s/q}'); fi
    printf '| %s | %s | %s | %s | %s |\n' "$1" "$s" "$q" "$2" "$ratio"
}
{
echo "| figure (median of $ROUNDS, same run) | slotnet | Qt 6.4 | unit | slotnet advantage |"
echo "|---|---|---|---|---|"
row "emit, 1 slot" ns/emit emit_1_slot_ns emit_1_slot lower
row "emit, 10 slots" ns/emit emit_10_slots_ns emit_10_slots lower
row "queued calls, same thread" calls/s queued_calls_per_s queued_invoke_rate higher
row "100k timers, overshoot past the largest timeout" ms timers_100k_overshoot_ms timer_overshoot lower
row "cross-thread posts" calls/s cross_thread_posts_per_s xthread_rate higher
} | tee "$OUT/summary.md"
