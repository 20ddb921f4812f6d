#!/usr/bin/env bash
# Installs everything (with the test tools and Chromium) and runs the whole test suite:
# lint, types, then pytest. With IOC_DATABASE_URL / IOC_REDIS_URL set, the suite runs against
# that PostgreSQL and Redis; without, against SQLite and the embedded Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
# The MQTT connector is tested against a real broker on 127.0.0.1:1883: start Debian's mosquitto if none runs.
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\n' > /tmp/ioc-test-mosquitto.conf
  "$mosquitto_bin" -c /tmp/ioc-test-mosquitto.conf -d
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.1; done
fi
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -q --durations=15 "$@"
