# Shared helpers for slotnet's benchmark scripts. Source it from bench/*.sh.
# Servers run pinned to core 0, load generators to core 1 (2-core machines), on loopback only.
# shellcheck shell=bash
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN="$REPO/run/bench"
QT="${QT_ANCHORS:-$REPO/../shared/anchors/qt}"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

wait_port() {
    local port=$1 i
    for ((i = 0; i < 100; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    log "port $port did not open"; return 1
}

build_slotnet() {
    # The CLI programs (slotnet-fetch, slotnet-serve) and the benchmark programs (bench/src/bin).
    (cd "$REPO" && cargo build --release -q -p slotnet-examples -p slotnet-bench)
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/release"
}

build_qt_anchors() {
    if [ ! -x "$QT/build/qnam_load" ] || [ ! -x "$QT/build/qsignal_bench" ]; then
        "$QT/build.sh" >/dev/null
    fi
}

start_nginx() {
    mkdir -p "$RUN/tls" "$RUN/www/gen" "$RUN/tmp"
    printf hello > "$RUN/www/hello.txt"
    if [ "$(stat -c %s "$RUN/www/gen/big.bin" 2>/dev/null || echo 0)" != 1073741824 ]; then
        rm -f "$RUN/www/gen/big.bin"; truncate -s 1G "$RUN/www/gen/big.bin"
    fi
    if [ ! -s "$RUN/tls/cert.pem" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$RUN/tls/key.pem" -out "$RUN/tls/cert.pem" 2>/dev/null
    fi
    cp "$REPO/bench/nginx.conf" "$RUN/nginx.conf"
    chmod -R a+rX "$RUN"
    taskset -c "$SERVER_CPU" nginx -p "$RUN/" -c nginx.conf -e error.log &
    PIDS+=($!)
    wait_port 29080; wait_port 29443; wait_port 29082
}

# timed LABEL CMD...: runs CMD pinned to the client core under GNU time; prints its stdout and
# a line "LABEL peak_rss_kib=N cpu_s=S" to stderr.
timed() {
    local label=$1; shift
    /usr/bin/time -f "$label peak_rss_kib=%M cpu_s=%U+%S wall_s=%e" taskset -c "$CLIENT_CPU" "$@"
}
