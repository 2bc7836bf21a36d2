#!/usr/bin/env bash
# Debian packages pressroom needs beyond Python: a CJK font (infographic, screenshots), ffmpeg (the micro-video's
# H.264/AAC encoder and ffprobe), and for the tests
# Chromium (page tests), PostgreSQL (the scale-out test; scripts/stack.sh) and Node.js/npm, which fetch the
# pinned axe-core from the npm registry into the per-user cache (the accessibility test, tests/browser.py).
# Installs only what is missing, so a prepared machine pays nothing.
set -euo pipefail
need=()
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # The scale-out test (tests/test_scale.py) starts its own PostgreSQL cluster from Debian's package.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
fi
# axe-core, pinned (keep AXE_VERSION in tests/browser.py the same), after the Debian packages.
AXE_VERSION=4.14.1
AXE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/pressroom/axe-core-$AXE_VERSION"
axe() {
  [ "${1:-}" = "--test" ] || return 0
  [ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] && return 0
  echo "installing axe-core@$AXE_VERSION into $AXE_DIR ..." >&2
  mkdir -p "$AXE_DIR"
  npm install --prefix "$AXE_DIR" --no-audit --no-fund --silent "axe-core@$AXE_VERSION" >/dev/null
}
if [ ${#need[@]} -eq 0 ]; then axe "${1:-}"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "pressroom needs these Debian packages: ${need[*]} (install them with your package manager)" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing ${need[*]} ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
axe "${1:-}"
