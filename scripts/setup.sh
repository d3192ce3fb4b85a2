#!/usr/bin/env bash
# Sets up dermstream on a fresh Debian/Ubuntu (or JetPack) machine: system packages, npm packages
# (with gstreamer-superficial's native build), and the TypeScript build. Idempotent: re-running only
# does what is missing. Usage: bash scripts/setup.sh [--with-browser]
set -euo pipefail
cd "$(dirname "$0")/.."

with_browser=0
for a in "$@"; do
  case "$a" in
    --with-browser) with_browser=1 ;;
    *) echo "setup.sh: unknown option $a (known: --with-browser)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-tools
  mosquitto mosquitto-clients shellcheck python3 make g++
)
if [ "$with_browser" -eq 1 ]; then packages+=(chromium fonts-dejavu-core fonts-liberation); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The broker is started by the tests themselves; a distribution-started one is not needed.

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "       On Debian/Ubuntu install it from NodeSource or your distribution; on a Jetson see deploy/jetson/README.md." >&2
  exit 1
fi

stamp=node_modules/.dermstream-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -f node_modules/gstreamer-superficial/build/Release/gstreamer-superficial.node ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  if [ ! -f node_modules/gstreamer-superficial/build/Release/gstreamer-superficial.node ]; then
    echo "setup: gstreamer-superficial did not build (is it listed under allowScripts in package.json, and are libgstreamer1.0-dev and g++ installed?)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

echo "setup: building"
npm run build --silent
echo "setup: ready"
