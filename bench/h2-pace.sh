#!/usr/bin/env bash
# HTTP/2 server pace (issue 20): `h2load -n 200000 -c 10 -m 20` for a 5-byte body against
# slotnet-serve (one loop), nghttpd (nghttp2's C server, one thread) and nginx (one worker),
# in cleartext (h2c, prior knowledge) and over TLS with ALPN h2, in the same run. Servers on
# core 0, h2load on core 1: on a 2-core machine the load generator has one core of its own,
# and a server that needs less CPU per request than h2load leaves h2load as the bottleneck.
# Prints a markdown table (median of ROUNDS) with the server's CPU per request.
#   bench/h2-pace.sh [ROUNDS] [REQUESTS]     (defaults: 5 rounds of 200000 requests)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-5}
N=${2:-200000}
need_packages nginx nghttp2-client nghttp2-server time openssl
build_slotnet
start_nginx                       # also writes run/bench/www/hello.txt and the TLS key pair
OUT="$RUN/h2-pace.$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
TLS="$RUN/tls"

taskset -c "$SERVER_CPU" "$BIN/slotnet-serve" --listen 127.0.0.1:29290 --h2c --quiet > "$OUT/serve-h2c.log" 2>&1 &
SLOT_H2C=$!; PIDS+=("$SLOT_H2C")
taskset -c "$SERVER_CPU" "$BIN/slotnet-serve" --listen 127.0.0.1:29291 --tls "$TLS/cert.pem" "$TLS/key.pem" --quiet > "$OUT/serve-tls.log" 2>&1 &
SLOT_TLS=$!; PIDS+=("$SLOT_TLS")
taskset -c "$SERVER_CPU" nghttpd --no-tls -a 127.0.0.1 -d "$RUN/www" 29292 > "$OUT/nghttpd-h2c.log" 2>&1 &
NGH_H2C=$!; PIDS+=("$NGH_H2C")
taskset -c "$SERVER_CPU" nghttpd -a 127.0.0.1 -d "$RUN/www" 29293 "$TLS/key.pem" "$TLS/cert.pem" > "$OUT/nghttpd-tls.log" 2>&1 &
NGH_TLS=$!; PIDS+=("$NGH_TLS")
wait_port 29290; wait_port 29291; wait_port 29292; wait_port 29293
NGINX_PID=$(pgrep -f "nginx: worker process" -P "$(cat "$RUN/nginx.pid")" | head -1)

TARGETS=(
    "slotnet-h2c|http://127.0.0.1:29290/|$SLOT_H2C"
    "nghttpd-h2c|http://127.0.0.1:29292/hello.txt|$NGH_H2C"
    "nginx-h2c|http://127.0.0.1:29082/hello.txt|$NGINX_PID"
    "slotnet-tls|https://127.0.0.1:29291/|$SLOT_TLS"
    "nghttpd-tls|https://127.0.0.1:29293/hello.txt|$NGH_TLS"
    "nginx-tls|https://127.0.0.1:29443/hello.txt|$NGINX_PID"
)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime in clock ticks
for r in $(seq 1 "$ROUNDS"); do
    log "round $r/$ROUNDS"
    for t in "${TARGETS[@]}"; do
        IFS='|' read -r name url pid <<< "$t"
        before=$(ticks "$pid")
        taskset -c "$CLIENT_CPU" h2load -n "$N" -c 10 -m 20 "$url" > "$OUT/$name.$r" 2>&1
        after=$(ticks "$pid")
        echo "server_ticks=$((after - before))" >> "$OUT/$name.$r"
    done
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
row() {
    local name=$1 label=$2 r all rps cpu
    all=$(for r in $(seq 1 "$ROUNDS"); do
        sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$OUT/$name.$r"; done | sort -g | awk '{printf "%s%d", (NR > 1 ? ", " : ""), $1}')
    rps=$(for r in $(seq 1 "$ROUNDS"); do
        sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$OUT/$name.$r"; done | median)
    cpu=$(for r in $(seq 1 "$ROUNDS"); do
        t=$(sed -n 's/^server_ticks=//p' "$OUT/$name.$r")
        n=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$OUT/$name.$r")
        awk -v t="$t" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN{ if (n>0) printf "%.2f\n", t/hz*1e6/n }'
    done | median)
    printf '| %s | **%.0f** | %s | %s |\n' "$label" "$rps" "$all" "$cpu"
}
{
echo "| server (\`h2load -n $N -c 10 -m 20\`, median of $ROUNDS) | req/s | all rounds | server CPU µs/req |"
echo "|---|---|---|---|"
row slotnet-h2c "slotnet-serve \`/\`, h2c"
row nghttpd-h2c "nghttpd, 5-byte file, h2c"
row nginx-h2c "nginx, 5-byte file, h2c"
row slotnet-tls "slotnet-serve \`/\`, TLS + ALPN h2"
row nghttpd-tls "nghttpd, 5-byte file, TLS + ALPN h2"
row nginx-tls "nginx, 5-byte file, TLS + ALPN h2"
} | tee "$OUT/summary.md"
