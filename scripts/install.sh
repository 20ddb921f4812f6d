#!/usr/bin/env bash
# Installs IOC on Debian 12 (or Ubuntu) with Python 3.11+: the Debian packages it needs, a virtual
# environment in .venv with the `ioc` command, and the front-end libraries from npm.
#   bash scripts/install.sh          # to run IOC
#   bash scripts/install.sh --dev    # also the test tools and Chromium for the browser tests
# Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "IOC needs Python 3.11 or newer (python3 is $(python3 -V 2>&1))" >&2; exit 1; }

packages=()
python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
command -v npm >/dev/null || packages+=(nodejs npm)
if [ $dev = 1 ]; then
  command -v chromium >/dev/null || packages+=(chromium fonts-noto-core)
  command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || packages+=(mosquitto)  # the MQTT connector's tests
  [ -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ] || packages+=(opencv-doc)  # vtest.avi: the camera tests
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${packages[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
if [ $dev = 1 ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
npm ci --no-audit --no-fund --silent
echo "== installed: .venv/bin/ioc"
