#!/usr/bin/env bash
# Debian packages pressroom needs beyond Python: a CJK font (infographic, screenshots), ffmpeg (the micro-video's
# H.264/AAC encoder and ffprobe), and for the tests
# Chromium (page tests) and PostgreSQL (the scale-out test; scripts/stack.sh).
# Installs only what is missing, so a prepared machine pays nothing.
set -euo pipefail
need=()
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # The scale-out test (tests/test_scale.py) starts its own PostgreSQL cluster from Debian's package.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "pressroom needs these Debian packages: ${need[*]} (install them with your package manager)" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing ${need[*]} ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
