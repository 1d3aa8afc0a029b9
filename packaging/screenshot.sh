#!/usr/bin/env bash
# Screenshots of the real window for the README (the demo part with a sketch and its proposal,
# a head from the face template, the start page):
# starts a private Xvfb, runs `python -m sketchforge.app.screenshot` on it, stops Xvfb.
#   bash packaging/screenshot.sh [OUT.png] [more options for the module, e.g. --size 1600x1000]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
OUT="${1:-assets/screenshot.png}"
shift $(( $# > 0 ? 1 : 0 ))

die() { printf 'screenshot: error: %s\n' "$*" >&2; exit 1; }

command -v Xvfb >/dev/null 2>&1 || die "Xvfb is not installed: run make setup"
command -v xdpyinfo >/dev/null 2>&1 || die "xdpyinfo is not installed (Debian: x11-utils): run make setup"
[[ -x "$PY" ]] || die "no .venv: run make setup"

WORK="$(mktemp -d)"
XVFB_PID=""
cleanup() {
  if [[ -n "$XVFB_PID" ]]; then
    kill "$XVFB_PID" 2>/dev/null || true
    wait "$XVFB_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Xvfb picks a free display number itself and writes it to fd 3 once it listens.
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$WORK/display" 2>"$WORK/xvfb.log" &
XVFB_PID=$!
for _ in $(seq 100); do
  [[ -s "$WORK/display" ]] && break
  kill -0 "$XVFB_PID" 2>/dev/null || die "Xvfb did not start: $(tail -n 5 "$WORK/xvfb.log")"
  sleep 0.1
done
[[ -s "$WORK/display" ]] || die "Xvfb did not report a display within 10 s"
DISPLAY=":$(tr -d '[:space:]' <"$WORK/display")"
export DISPLAY

for _ in $(seq 100); do
  xdpyinfo >/dev/null 2>&1 && break
  sleep 0.1
done
xdpyinfo >/dev/null 2>&1 || die "Xvfb on $DISPLAY does not answer"

shoot() {  # OUT SCENE [options]
  local out="$1" scene="$2"
  shift 2
  mkdir -p "$(dirname "$out")"
  QT_QPA_PLATFORM=xcb PYDEVD_DISABLE_FILE_VALIDATION=1 \
    "$PY" -m sketchforge.app.screenshot --out "$out" --scene "$scene" --size 1280x800 "$@"
  printf 'screenshot: wrote %s\n' "$out"
}

shoot "$OUT" cad "$@"
# the README's gallery: a head from the face template, and the start page a new user meets
if [[ "$OUT" == "assets/screenshot.png" ]]; then
  shoot assets/gallery/face.png face
  shoot assets/gallery/start.png start
fi
