#!/bin/sh
# Regenerates docs/gui-screenshot.png: runs `slotnet-gui --demo` under Xvfb and captures its
# window mid-transfer (one download running, one cancelled).
# Needs: apt-get install -y libgtk-4-dev xvfb xauth imagemagick
set -eu
cd "$(dirname "$0")/.."
cargo build --release --manifest-path gui/Cargo.toml
bin="${CARGO_TARGET_DIR:-gui/target}/release/slotnet-gui"
out="${1:-docs/gui-screenshot.png}"
xvfb-run -a -s "-screen 0 1024x768x24" sh -c '
    # No GPU under Xvfb: the cairo renderer avoids GL software paths.
    GSK_RENDERER=cairo "$0" --demo --quit-after 6 &
    app=$!
    sleep 3
    import -window "slotnet downloads" "$1"
    wait $app
' "$bin" "$out"
echo "wrote $out"
