#!/usr/bin/env bash
# HTTP/1.1 client benchmark (issue 4): slotnet-fetch vs the Qt anchor qnam_load, wrk and curl,
# in the same run, against one nginx. Prints a markdown table; raw output under run/bench/.
#   bench/client-h1.sh [ROUNDS]     (default 3 rounds, interleaved; the median is reported)
source "$(dirname "$0")/common.sh"
ROUNDS=${1:-3}
need_packages nginx wrk curl time openssl
build_slotnet
build_qt_anchors
start_nginx
OUT="$RUN/client-h1.$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
SMALL=http://127.0.0.1:29080/hello.txt
BIG=http://127.0.0.1:29080/gen/big.bin
N=20000
curl -s -o /dev/null "$BIG"   # warm the page cache (first read of the sparse file is slow)

rps_of() { sed -n 's/.*rps=\([0-9.]*\).*/\1/p' "$1" | tail -1; }
for r in $(seq 1 "$ROUNDS"); do
    log "round $r/$ROUNDS"
    for c in 6 50; do
        timed "slotnet_c$c" "$BIN/slotnet-fetch" --bench --parallel $c --repeat $N "$SMALL" \
            > "$OUT/slotnet_c$c.$r" 2>> "$OUT/slotnet_c$c.$r"
        timed "qt_c$c" "$QT/build/qnam_load" --url "$SMALL" --requests $N --concurrency $c \
            > "$OUT/qt_c$c.$r" 2>> "$OUT/qt_c$c.$r"
    done
    timed wrk_c6 wrk -t1 -c6 -d5s "$SMALL" > "$OUT/wrk_c6.$r" 2>> "$OUT/wrk_c6.$r"
    timed slotnet_dl "$BIN/slotnet-fetch" --bench "$BIG" > "$OUT/slotnet_dl.$r" 2>> "$OUT/slotnet_dl.$r"
    timed qt_dl "$QT/build/qnam_load" --download "$BIG" > "$OUT/qt_dl.$r" 2>> "$OUT/qt_dl.$r"
    timed curl_dl curl -s -o /dev/null -w 'speed=%{speed_download}\n' "$BIG" \
        > "$OUT/curl_dl.$r" 2>> "$OUT/curl_dl.$r"
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
col() { # col NAME EXTRACTOR: median over rounds of the figure, and of the peak RSS
    local name=$1 extract=$2 r vals="" rss=""
    for r in $(seq 1 "$ROUNDS"); do
        vals+="$($extract "$OUT/$name.$r")"$'\n'
        rss+="$(sed -n 's/.*peak_rss_kib=\([0-9]*\).*/\1/p' "$OUT/$name.$r")"$'\n'
    done
    printf '%s|%s' "$(printf '%s' "$vals" | median)" "$(printf '%s' "$rss" | median)"
}
slotnet_rps() { rps_of "$1"; }
qt_rps() { rps_of "$1"; }
wrk_rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
slotnet_mbps() { awk -F'seconds=' '/seconds=/{split($2,a," "); printf "%.0f\n", 1073.741824/a[1]}' "$1"; }
qt_mbps() { sed -n 's/.*MBps=\([0-9.]*\).*/\1/p' "$1"; }
curl_mbps() { awk -F'speed=' '/speed=/{printf "%.0f\n", $2/1e6}' "$1"; }

row() { local label=$1 unit=$2 v; v=$(col "$3" "$4"); printf '| %s | %s | %s | %s |\n' "$label" "${v%%|*}" "$unit" "$(( ${v##*|} / 1024 ))"; }
{
echo "| figure (median of $ROUNDS, same run) | value | unit | peak RSS MiB |"
echo "|---|---|---|---|"
row "slotnet-fetch, 20k GETs, 6 in flight" "req/s" slotnet_c6 slotnet_rps
row "qnam_load (Qt 6.4), 20k GETs, C=6" "req/s" qt_c6 qt_rps
row "wrk -t1 -c6 (5 s)" "req/s" wrk_c6 wrk_rps
row "slotnet-fetch, 20k GETs, 50 in flight" "req/s" slotnet_c50 slotnet_rps
row "qnam_load (Qt 6.4), 20k GETs, C=50" "req/s" qt_c50 qt_rps
row "slotnet-fetch, 1 GiB download" "MB/s" slotnet_dl slotnet_mbps
row "qnam_load --download (Qt 6.4), 1 GiB" "MB/s" qt_dl qt_mbps
row "curl, 1 GiB" "MB/s" curl_dl curl_mbps
} | tee "$OUT/summary.md"
