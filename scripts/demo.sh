#!/usr/bin/env bash
# Installs everything and starts the demo at http://127.0.0.1:8000 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/ioc demo --port "${IOC_PORT:-8000}"
