#!/usr/bin/env bash
# The server on 1 and 2 loops (issue 20): wrk -t2 -c100 against slotnet-serve --threads 1
# and --threads 2, and nginx with 1 and 2 workers, in the same run; then a new connection
# per request (Connection: close) against both ways of spreading connections over 2 loops
# (SO_REUSEPORT and one acceptor). On a 2-core machine the load generator competes with
# the server: with 1 loop the server is pinned to core 0 and wrk to core 1 (as the other
# scripts); with 2 loops (or 2 nginx workers) the server may use both cores and wrk runs
# on both too, so the 2-loop figure is what 2 cores give server and client together.
#   bench/server-threads.sh [ROUNDS] [SECONDS]     (defaults: 3 rounds of 10 s)
# Ports 28191-28193 and 28281-28282 (below the ephemeral range, away from the other scripts).
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
SECS=${2:-10}
need_packages nginx wrk
# SLOTNET_BIN=DIR runs the slotnet-serve in DIR (an earlier build) instead of building.
if [[ -n ${SLOTNET_BIN:-} ]]; then BIN=$SLOTNET_BIN; else build_slotnet; fi
OUT="$RUN/server-threads.$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT" "$RUN/www" "$RUN/tmp"
printf hello > "$RUN/www/hello.txt"
chmod -R a+rX "$RUN"
ALL_CPUS="0-$(( $(nproc) - 1 ))"
serve() {   # serve NAME CPUS PORT ARGS...: starts a server, records its pid in NAME_PID
    local name=$1 cpus=$2 port=$3; shift 3
    taskset -c "$cpus" "$@" > "$OUT/$name.log" 2>&1 &
    PIDS+=($!); printf -v "${name}_PID" %s $!
    wait_port "$port"
}
serve one "$SERVER_CPU" 28191 "$BIN/slotnet-serve" --listen 127.0.0.1:28191 --quiet --threads 1
serve two "$ALL_CPUS" 28192 "$BIN/slotnet-serve" --listen 127.0.0.1:28192 --quiet --threads 2
serve acc "$ALL_CPUS" 28193 "$BIN/slotnet-serve" --listen 127.0.0.1:28193 --quiet --threads 2 --spread acceptor
# nginx_conf WORKERS CONNECTIONS PID_NAME LISTEN...: a plain nginx config on stdout serving
# run/bench/www (hello.txt) on each "ADDR:PORT[ http2]" given.
nginx_conf() {
    local workers=$1 conns=$2 pid=$3 l; shift 3
    printf 'worker_processes %s;\ndaemon off;\npid %s;\nerror_log error.log warn;\n' "$workers" "$pid"
    printf 'events { worker_connections %s; }\nhttp {\n    access_log off;\n    keepalive_timeout 65;\n' "$conns"
    printf '    keepalive_requests 1000000;\n    types { text/plain txt; }\n    client_body_temp_path tmp/client_body;\n'
    printf '    proxy_temp_path tmp/proxy;\n    fastcgi_temp_path tmp/fastcgi;\n    uwsgi_temp_path tmp/uwsgi;\n    scgi_temp_path tmp/scgi;\n'
    for l in "$@"; do printf '    server { listen %s; root www; }\n' "$l"; done
    printf '}\n'
}
for w in 1 2; do
    nginx_conf "$w" 4096 "nginx-threads-$w.pid" "127.0.0.1:2828$w" > "$RUN/nginx-threads-$w.conf"
    cpus=$([ "$w" = 1 ] && echo "$SERVER_CPU" || echo "$ALL_CPUS")
    serve "nginx$w" "$cpus" "2828$w" nginx -p "$RUN/" -c "nginx-threads-$w.conf" -e "error-$w.log"
done
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
    log "round $r/$ROUNDS"
    taskset -c "$CLIENT_CPU" wrk -t2 -c100 -d"${SECS}s" http://127.0.0.1:28191/ > "$OUT/one.$r"
    taskset -c "$ALL_CPUS" wrk -t2 -c100 -d"${SECS}s" http://127.0.0.1:28192/ > "$OUT/two.$r"
    taskset -c "$ALL_CPUS" wrk -t2 -c100 -d"${SECS}s" http://127.0.0.1:28193/ > "$OUT/acc.$r"
    taskset -c "$CLIENT_CPU" wrk -t2 -c100 -d"${SECS}s" http://127.0.0.1:28281/hello.txt > "$OUT/nginx1.$r"
    taskset -c "$ALL_CPUS" wrk -t2 -c100 -d"${SECS}s" http://127.0.0.1:28282/hello.txt > "$OUT/nginx2.$r"
    taskset -c "$ALL_CPUS" wrk -t2 -c100 -d"${SECS}s" -H "Connection: close" http://127.0.0.1:28192/ > "$OUT/two-close.$r"
    taskset -c "$ALL_CPUS" wrk -t2 -c100 -d"${SECS}s" -H "Connection: close" http://127.0.0.1:28193/ > "$OUT/acc-close.$r"
done
row() { printf '| %s | %s |\n' "$2" "$(for r in $(seq 1 "$ROUNDS"); do rps "$OUT/$1.$r"; done | median)"; }
{
echo "| server (wrk -t2 -c100, ${SECS} s, median of $ROUNDS) | req/s |"
echo "|---|---|"
row one "slotnet-serve --threads 1 (core 0; wrk on core 1)"
row two "slotnet-serve --threads 2, SO_REUSEPORT (cores 0-1, wrk on both)"
row acc "slotnet-serve --threads 2 --spread acceptor (cores 0-1, wrk on both)"
row nginx1 "nginx, 1 worker (core 0; wrk on core 1)"
row nginx2 "nginx, 2 workers (cores 0-1, wrk on both)"
row two-close "slotnet-serve --threads 2, SO_REUSEPORT, Connection: close"
row acc-close "slotnet-serve --threads 2, one acceptor, Connection: close"
echo
echo "Load average (1, 5, 15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
} | tee "$OUT/summary.md"
