#!/usr/bin/env bash
# HTTP/1.1 server benchmark (issue 7): wrk -t1 -c50 against slotnet-serve `/`, the Qt anchor
# qhttpserver_bench `/` and nginx serving a 5-byte file, in the same run. Servers on core 0,
# wrk on core 1. Prints a markdown table (median of ROUNDS) with server CPU per request.
#   bench/server-h1.sh [ROUNDS] [SECONDS]     (defaults: 3 rounds of 10 s)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
SECS=${2:-10}
need_packages nginx wrk time openssl
build_slotnet
build_qt_anchors
start_nginx
OUT="$RUN/server-h1.$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
taskset -c "$SERVER_CPU" "$BIN/slotnet-serve" --listen 127.0.0.1:29190 --quiet > "$OUT/serve.log" 2>&1 &
SLOTNET_PID=$!; PIDS+=("$SLOTNET_PID")
taskset -c "$SERVER_CPU" "$QT/build/qhttpserver_bench" --port 29191 --max-seconds 3600 > "$OUT/qhs.log" 2>&1 &
QHS_PID=$!; PIDS+=("$QHS_PID")
wait_port 29190; wait_port 29191

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime in clock ticks
for r in $(seq 1 "$ROUNDS"); do
    log "round $r/$ROUNDS"
    for target in slotnet:http://127.0.0.1:29190/:$SLOTNET_PID qt:http://127.0.0.1:29191/:$QHS_PID nginx:http://127.0.0.1:29080/hello.txt:nginx; do
        name=${target%%:*}; rest=${target#*:}; pid=${rest##*:}; url=${rest%:*}
        [ "$pid" = nginx ] && pid=$(pgrep -f "nginx: worker process" | head -1)
        before=$(ticks "$pid")
        taskset -c "$CLIENT_CPU" wrk -t1 -c50 -d"${SECS}s" "$url" > "$OUT/$name.$r"
        after=$(ticks "$pid")
        echo "server_ticks=$((after - before))" >> "$OUT/$name.$r"
    done
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
row() {
    local name=$1 label=$2 r rps cpu
    rps=$(for r in $(seq 1 "$ROUNDS"); do sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$OUT/$name.$r"; done | median)
    cpu=$(for r in $(seq 1 "$ROUNDS"); do
        t=$(sed -n 's/^server_ticks=//p' "$OUT/$name.$r"); n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$OUT/$name.$r")
        awk -v t="$t" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN{ if (n>0) printf "%.1f\n", t/hz*1e6/n }'
    done | median)
    printf '| %s | %s | %s |\n' "$label" "$rps" "$cpu"
}
{
echo "| server (wrk -t1 -c50, ${SECS} s, median of $ROUNDS) | req/s | server CPU µs/req |"
echo "|---|---|---|"
row slotnet "slotnet-serve \`/\`"
row qt "qhttpserver_bench \`/\` (Qt 6.4)"
row nginx "nginx, 5-byte file"
} | tee "$OUT/summary.md"
