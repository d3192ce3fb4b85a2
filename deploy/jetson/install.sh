#!/usr/bin/env bash
# Installs dermstream as a systemd service on an NVIDIA Jetson (JetPack 5/6, Ubuntu 20.04/22.04),
# or on another Debian/Ubuntu machine (then without the NVIDIA parts). Safe to run again: every step
# checks what is there first; the configuration in /etc/dermstream is never overwritten.
#
#   sudo deploy/jetson/install.sh [options]
#
# Options:
#   --libtensorflow PATH|URL  libtensorflow (C library, .tar.gz) built for this device's CUDA/cuDNN, for
#                             @tensorflow/tfjs-node-gpu. There is no official arm64 GPU build, so without it
#                             dermstream runs inference on the wasm backend (CPU). See README.md.
#   --node-tarball PATH       Node.js 20 binary tarball (node-v20.*-linux-arm64.tar.xz) for a closed network;
#                             default: NodeSource's apt repository when node >= 20 is absent
#   --camera-id VVVV:PPPP     USB vendor:product of the dermatoscope for the udev rule (see 99-dermatoscope.rules)
#   --build                   rebuild dist/ in the source folder even if it exists (needs dev dependencies)
#   --no-start                install and enable, but do not start the service
#   --prefix DIR              lay out the files under DIR (DESTDIR-style) and skip every step that changes
#                             the system (apt, users, npm, systemctl, udevadm): for tests and packaging
#   --dry-run                 print what would be done, change nothing
#   -h, --help
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "${SCRIPT_DIR}/../.." && pwd)"
PREFIX=""
DRY_RUN=0
LIBTF=""
NODE_TARBALL=""
CAMERA_ID=""
BUILD=0
START=1
NODE_MAJOR=20

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
if [[ -t 1 ]]; then B=$'\033[1m' Y=$'\033[33m' R=$'\033[31m' N=$'\033[0m'; else B='' Y='' R='' N=''; fi
log() { printf '%s==>%s %s\n' "$B" "$N" "$*"; }
warn() { printf '%sWARNING:%s %s\n' "$Y" "$N" "$*" >&2; }
die() {
  printf '%sERROR:%s %s\n' "$R" "$N" "$*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --libtensorflow) LIBTF="${2:?--libtensorflow needs a path or URL}"; shift 2 ;;
    --node-tarball) NODE_TARBALL="${2:?--node-tarball needs a path}"; shift 2 ;;
    --camera-id) CAMERA_ID="${2:?--camera-id needs VVVV:PPPP}"; shift 2 ;;
    --build) BUILD=1; shift ;;
    --no-start) START=0; shift ;;
    --prefix) PREFIX="${2:?--prefix needs a folder}"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

if [[ -n "$PREFIX" ]]; then
  mkdir -p "$PREFIX" 2>/dev/null || [[ $DRY_RUN -eq 1 ]] || die "cannot create $PREFIX"
  PREFIX="$(cd "$PREFIX" 2>/dev/null && pwd || printf '%s' "$PREFIX")"
fi
if [[ -n "$CAMERA_ID" && ! "$CAMERA_ID" =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$ ]]; then
  die "--camera-id must be VVVV:PPPP in hex, e.g. 0c45:6366 (lsusb shows it)"
fi

APP="${PREFIX}/opt/dermstream"
ETC="${PREFIX}/etc/dermstream"
UNIT_DIR="${PREFIX}/etc/systemd/system"
UDEV_DIR="${PREFIX}/etc/udev/rules.d"
STATE="${PREFIX}/var/lib/dermstream"

# run CMD...: runs it, or prints it under --dry-run.
run() {
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '  [dry-run] %s\n' "$*"
  else
    "$@"
  fi
}
# system CMD...: a step that changes the machine itself: skipped under --prefix.
system() {
  if [[ -n "$PREFIX" ]]; then
    printf '  [prefix: skipped] %s\n' "$*"
  else
    run "$@"
  fi
}
need_root() {
  if [[ -z "$PREFIX" && $DRY_RUN -eq 0 && $EUID -ne 0 ]]; then
    die "run as root (sudo), or use --prefix DIR / --dry-run"
  fi
}
# install_file SRC DEST MODE: copies when missing or different (idempotent).
install_file() {
  local from="$1" to="$2" mode="$3"
  if [[ -f "$to" ]] && cmp -s "$from" "$to"; then
    run chmod "$mode" "$to"
    return
  fi
  run install -D -m "$mode" "$from" "$to"
}

need_root

# ---- platform --------------------------------------------------------------------------------------
JETSON=0
if [[ -f /etc/nv_tegra_release || -f "${PREFIX}/etc/nv_tegra_release" ]]; then
  JETSON=1
  log "Jetson: $(head -n1 /etc/nv_tegra_release 2>/dev/null || head -n1 "${PREFIX}/etc/nv_tegra_release")"
else
  warn "not a Jetson (no /etc/nv_tegra_release): installing without the NVIDIA GStreamer plug-ins and GPU backend"
fi

# ---- packages --------------------------------------------------------------------------------------
APT_PACKAGES=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  build-essential python3 ca-certificates curl gnupg rsync v4l-utils
)
if [[ $JETSON -eq 1 ]]; then APT_PACKAGES+=(nvidia-l4t-gstreamer); fi
log "apt packages: ${APT_PACKAGES[*]}"
system apt-get update
system env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"

# ---- Node.js 20 ------------------------------------------------------------------------------------
node_ok() { command -v node >/dev/null 2>&1 && [[ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge $NODE_MAJOR ]]; }
if [[ -n "$PREFIX" ]]; then
  printf '  [prefix: skipped] Node.js %s check/installation\n' "$NODE_MAJOR"
elif node_ok; then
  log "Node.js $(node --version) present"
elif [[ -n "$NODE_TARBALL" ]]; then
  [[ -f "$NODE_TARBALL" ]] || die "--node-tarball $NODE_TARBALL does not exist"
  log "Node.js from $NODE_TARBALL into /opt/node-v${NODE_MAJOR}, linked from /usr/bin"
  run mkdir -p "/opt/node-v${NODE_MAJOR}"
  run tar -xf "$NODE_TARBALL" -C "/opt/node-v${NODE_MAJOR}" --strip-components=1
  for b in node npm npx; do run ln -sfn "/opt/node-v${NODE_MAJOR}/bin/$b" "/usr/bin/$b"; done
else
  # What NodeSource's setup script does, spelled out: add its signing key and its apt repository for
  # Node 20, then install the `nodejs` package (which puts node and npm in /usr/bin).
  log "Node.js ${NODE_MAJOR} from NodeSource's apt repository (deb.nodesource.com)"
  run mkdir -p /etc/apt/keyrings
  if [[ ! -f /etc/apt/keyrings/nodesource.gpg ]]; then
    if [[ $DRY_RUN -eq 1 ]]; then
      printf '  [dry-run] curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o /etc/apt/keyrings/nodesource.gpg\n'
    else
      curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o /etc/apt/keyrings/nodesource.gpg ||
        die "cannot reach NodeSource; on a closed network use --node-tarball node-v${NODE_MAJOR}.x-linux-arm64.tar.xz"
    fi
  fi
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '  [dry-run] write /etc/apt/sources.list.d/nodesource.list\n'
  else
    echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main" >/etc/apt/sources.list.d/nodesource.list
  fi
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs
fi

# ---- user ------------------------------------------------------------------------------------------
if [[ -z "$PREFIX" ]] && id dermstream >/dev/null 2>&1; then
  log "user dermstream exists"
else
  system useradd --system --user-group --home-dir /var/lib/dermstream --no-create-home --shell /usr/sbin/nologin dermstream
fi
GROUPS_WANTED=video
if getent group render >/dev/null 2>&1; then GROUPS_WANTED="video,render"; fi
system usermod -aG "$GROUPS_WANTED" dermstream

# ---- application -----------------------------------------------------------------------------------
# dist/ is built in the source folder, where the dev dependencies (TypeScript) are; the device gets the
# compiled JavaScript and only the runtime dependencies.
if [[ $BUILD -eq 1 || ! -f "$SRC/dist/src/service/cli.js" ]]; then
  log "building dist/ in $SRC (npm ci && npm run build)"
  system bash -c "cd '$SRC' && npm ci && npm run build"
fi
log "application → $APP"
run mkdir -p "$APP"
APP_ITEMS=(package.json package-lock.json bin dist assets models deploy configs)
for item in "${APP_ITEMS[@]}"; do
  [[ -e "$SRC/$item" ]] || { [[ "$item" == dist ]] && warn "no dist/ in $SRC (not built)"; continue; }
  if command -v rsync >/dev/null 2>&1; then
    if [[ -d "$SRC/$item" ]]; then
      run rsync -a --delete "$SRC/$item/" "$APP/$item/"
    else
      run rsync -a "$SRC/$item" "$APP/$item"
    fi
  else
    run rm -rf "${APP:?}/$item"
    run cp -a "$SRC/$item" "$APP/$item"
  fi
done
system bash -c "cd '$APP' && npm ci --omit=dev --no-audit --no-fund"

# ---- GPU inference (optional) ----------------------------------------------------------------------
TFJS_GPU="$APP/node_modules/@tensorflow/tfjs-node-gpu"
if [[ -z "$LIBTF" ]]; then
  warn "no --libtensorflow given: @tensorflow/tfjs-node-gpu is not installed (there is no official arm64 CUDA build of libtensorflow). dermstream will run on the wasm backend. To use the GPU, build libtensorflow for this JetPack's CUDA (README.md) and run again with --libtensorflow PATH|URL."
else
  log "@tensorflow/tfjs-node-gpu with libtensorflow from $LIBTF"
  TFJS_VERSION="$(node -p "require('$SRC/package.json').dependencies['@tensorflow/tfjs'].replace(/^[^0-9]*/, '')" 2>/dev/null || echo 4.22.0)"
  system bash -c "cd '$APP' && npm install --no-save --ignore-scripts @tensorflow/tfjs-node-gpu@$TFJS_VERSION"
  if [[ "$LIBTF" =~ ^https:// ]]; then
    # The package's install script downloads `tf-lib` and builds its addon against it (from source).
    system bash -c "printf '{\"tf-lib\": \"%s\"}\n' '$LIBTF' > '$TFJS_GPU/scripts/custom-binary.json'"
  else
    [[ -f "$LIBTF" || -n "$PREFIX" || $DRY_RUN -eq 1 ]] || die "--libtensorflow $LIBTF does not exist"
    # Its install script only downloads (https) when deps/lib/libtensorflow.so.<version> is absent: unpack
    # the local tarball there, and name it in custom-binary.json so the addon is built from source.
    system mkdir -p "$TFJS_GPU/deps"
    system tar -xzf "$LIBTF" -C "$TFJS_GPU/deps"
    system bash -c "printf '{\"tf-lib\": \"file://%s\"}\n' '$LIBTF' > '$TFJS_GPU/scripts/custom-binary.json'"
  fi
  system bash -c "cd '$APP' && npm rebuild @tensorflow/tfjs-node-gpu"
  if [[ -z "$PREFIX" && $DRY_RUN -eq 0 ]] && ! (cd "$APP" && TF_FORCE_GPU_ALLOW_GROWTH=true node -e "require('@tensorflow/tfjs-node-gpu')" >/dev/null 2>&1); then
    warn "@tensorflow/tfjs-node-gpu does not load (check the libtensorflow build against CUDA/cuDNN); dermstream falls back to wasm"
  fi
fi

# ---- configuration, unit, udev rule ----------------------------------------------------------------
EXAMPLE="$SCRIPT_DIR/config.x86.yaml"
if [[ $JETSON -eq 1 ]]; then EXAMPLE="$SCRIPT_DIR/config.jetson.yaml"; fi
run mkdir -p "$ETC"
run chmod 0750 "$ETC"
if [[ -f "$ETC/config.yaml" ]]; then
  log "$ETC/config.yaml exists: kept"
else
  log "$ETC/config.yaml from $(basename "$EXAMPLE") (edit it: broker, device id, secrets)"
  run install -m 0640 "$EXAMPLE" "$ETC/config.yaml"
fi
system chown -R root:dermstream "$ETC"

install_file "$SCRIPT_DIR/dermstream.service" "$UNIT_DIR/dermstream.service" 0644

RULE_TMP="$(mktemp)"
trap 'rm -f "$RULE_TMP"' EXIT
if [[ -n "$CAMERA_ID" ]]; then
  sed -e "s/\"VVVV\"/\"${CAMERA_ID%%:*}\"/" -e "s/\"PPPP\"/\"${CAMERA_ID##*:}\"/" "$SCRIPT_DIR/99-dermatoscope.rules" >"$RULE_TMP"
else
  cp "$SCRIPT_DIR/99-dermatoscope.rules" "$RULE_TMP"
  warn "no --camera-id: the udev rule keeps its placeholders and matches no camera; edit $UDEV_DIR/99-dermatoscope.rules (udevadm info, see its comments)"
fi
if [[ -f "$UDEV_DIR/99-dermatoscope.rules" && -z "$CAMERA_ID" ]] && ! grep -q '"VVVV"' "$UDEV_DIR/99-dermatoscope.rules"; then
  log "$UDEV_DIR/99-dermatoscope.rules has been edited: kept"
else
  install_file "$RULE_TMP" "$UDEV_DIR/99-dermatoscope.rules" 0644
fi
system udevadm control --reload
system udevadm trigger --subsystem-match=video4linux

run mkdir -p "$STATE"
system chown dermstream:dermstream "$STATE"

# ---- service ---------------------------------------------------------------------------------------
system systemctl daemon-reload
if [[ -n "$PREFIX" || $DRY_RUN -eq 1 ]]; then
  printf '  [skipped] %s\n' 'systemctl enable --now dermstream (after: dermstream config --check)'
elif [[ $START -eq 0 ]]; then
  run systemctl enable dermstream
  log "enabled; start with: systemctl start dermstream"
elif runuser -u dermstream -- /usr/bin/node "$APP/bin/dermstream.js" config --check --config "$ETC/config.yaml"; then
  run systemctl enable --now dermstream
  log "started. Watch it: journalctl -u dermstream -f ; curl -s localhost:9464/healthz"
else
  run systemctl enable dermstream
  warn "the configuration does not validate (above): the service is enabled but not started. Edit $ETC/config.yaml, then: systemctl start dermstream"
fi
if [[ -z "$PREFIX" && $DRY_RUN -eq 0 ]]; then
  runuser -u dermstream -- /usr/bin/node "$APP/bin/dermstream.js" doctor --config "$ETC/config.yaml" || warn "doctor reports problems (above)"
fi
log "done"
