#!/usr/bin/env bash
# Memory per idle connection (issue 20): N idle keep-alive connections (HTTP/1.1, then h2c),
# each after one small request, held against slotnet-serve (one loop) and nginx (1 worker)
# in the same run; prints the RSS growth per connection (KiB). Servers on core 0, the
# client (bench/idle_conns.py) on core 1.
#   bench/server-memory.sh [N]      (default 10000; raises the soft open-files limit)
source "$(dirname "$0")/common.sh"
N=${1:-10000}
need_packages nginx python3
ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < N + 100 )); then log "ulimit -n $(ulimit -n) is below $N + 100"; exit 1; fi
build_slotnet
OUT="$RUN/server-memory.$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
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
start_nginx_with() {
    mkdir -p "$RUN/www" "$RUN/tmp"
    printf hello > "$RUN/www/hello.txt"
    nginx_conf 1 $((N + 1000)) nginx-memory.pid "127.0.0.1:29080" "127.0.0.1:29082 http2" > "$RUN/nginx-memory.conf"
    chmod -R a+rX "$RUN"
    taskset -c "$SERVER_CPU" nginx -p "$RUN/" -c nginx-memory.conf -e error.log &
    PIDS+=($!)
    wait_port 29080; wait_port 29082
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# measure LABEL PID PORT [client flags]: RSS of PID before and with N idle connections.
measure() {
    local label=$1 pid=$2 port=$3; shift 3
    local before after
    before=$(rss_kib "$pid")
    coproc CLIENT { taskset -c "$CLIENT_CPU" python3 "$REPO/bench/idle_conns.py" 127.0.0.1 "$port" "$N" "$@"; }
    read -r ready count <&"${CLIENT[0]}"
    sleep 1
    after=$(rss_kib "$pid")
    exec {CLIENT[1]}>&-
    wait "$CLIENT_PID" 2>/dev/null || true
    awk -v l="$label" -v b="$before" -v a="$after" -v n="$count" \
        'BEGIN { printf "| %s | %d | %d | %d | %.2f |\n", l, n, b, a, (a - b) / n }'
    sleep 1
}
start_nginx_with
NGINX_WORKER=$(pgrep -f "nginx: worker process" | head -1)
taskset -c "$SERVER_CPU" "$BIN/slotnet-serve" --listen 127.0.0.1:29190 --h2c --quiet > "$OUT/serve.log" 2>&1 &
SLOTNET_PID=$!; PIDS+=("$SLOTNET_PID")
wait_port 29190
{
echo "| server, $N idle connections | connections | RSS before (KiB) | RSS with them (KiB) | KiB per connection |"
echo "|---|---|---|---|---|"
measure "slotnet-serve, HTTP/1.1" "$SLOTNET_PID" 29190
measure "nginx (1 worker), HTTP/1.1" "$NGINX_WORKER" 29080 --nginx
measure "slotnet-serve, h2c" "$SLOTNET_PID" 29190 --h2
measure "nginx (1 worker), h2c" "$NGINX_WORKER" 29082 --h2 --nginx
} | tee "$OUT/summary.md"
