#!/usr/bin/env bash
# HTTP/2 client benchmark (issue 5): 20,000 small GETs with 50 in flight over TLS+h2 against
# nginx, slotnet-fetch vs the Qt anchor (qnam_load --http2) vs h2load -c1 -m50 (the ceiling for
# one connection), plus a 1 GiB download over h2. Same run, median of ROUNDS.
#   bench/client-h2.sh [ROUNDS]
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
need_packages nginx nghttp2-client curl time openssl
build_slotnet
build_qt_anchors
start_nginx
OUT="$RUN/client-h2.$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
SMALL=https://127.0.0.1:29443/hello.txt
BIG=https://127.0.0.1:29443/gen/big.bin
N=20000
curl -sk -o /dev/null "$BIG"
for r in $(seq 1 "$ROUNDS"); do
    log "round $r/$ROUNDS"
    timed slotnet "$BIN/slotnet-fetch" -k --bench --parallel 50 --repeat $N "$SMALL" > "$OUT/slotnet.$r" 2>> "$OUT/slotnet.$r"
    timed qt "$QT/build/qnam_load" --url "$SMALL" --requests $N --concurrency 50 --http2 --insecure > "$OUT/qt.$r" 2>> "$OUT/qt.$r"
    timed h2load h2load -n $N -c 1 -m 50 "$SMALL" > "$OUT/h2load.$r" 2>> "$OUT/h2load.$r"
    timed slotnet_dl "$BIN/slotnet-fetch" -k --bench "$BIG" > "$OUT/slotnet_dl.$r" 2>> "$OUT/slotnet_dl.$r"
    timed qt_dl "$QT/build/qnam_load" --download "$BIG" --http2 --insecure > "$OUT/qt_dl.$r" 2>> "$OUT/qt_dl.$r"
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
fig() { local r; for r in $(seq 1 "$ROUNDS"); do $2 "$OUT/$1.$r"; done | median; }
rps() { sed -n 's/.*rps=\([0-9.]*\).*/\1/p' "$1" | tail -1; }
h2rps() { sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$1"; }
sl_mbps() { awk -F'seconds=' '/seconds=/{split($2,a," "); printf "%.0f\n", 1073.741824/a[1]}' "$1"; }
qt_mbps() { sed -n 's/.*MBps=\([0-9.]*\).*/\1/p' "$1"; }
{
echo "| figure (TLS + h2 against nginx, median of $ROUNDS, same run) | value | unit |"
echo "|---|---|---|"
echo "| slotnet-fetch, 20k GETs, 50 in flight | $(fig slotnet rps) | req/s |"
echo "| qnam_load --http2 (Qt 6.4), C=50 | $(fig qt rps) | req/s |"
echo "| h2load -c1 -m50 | $(fig h2load h2rps) | req/s |"
echo "| slotnet-fetch, 1 GiB over h2 | $(fig slotnet_dl sl_mbps) | MB/s |"
echo "| qnam_load --download --http2 (Qt 6.4), 1 GiB | $(fig qt_dl qt_mbps) | MB/s |"
} | tee "$OUT/summary.md"
