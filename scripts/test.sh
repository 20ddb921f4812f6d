#!/usr/bin/env bash
# Installs everything (with the test tools and Chromium) and runs the whole test suite:
# lint, types, then pytest. With IOC_DATABASE_URL / IOC_REDIS_URL set, the suite runs against
# that PostgreSQL and Redis; without, against SQLite and the embedded Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
