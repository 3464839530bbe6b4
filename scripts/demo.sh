#!/usr/bin/env bash
# Sets up a venv (first run only) and runs the example DAGs end to end against the built-in emulator.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${VENV:-$here/.venv}"
bash "$here/scripts/setup-venv.sh" "$venv" "${AIRFLOW_VERSION:-3.3.2}"
exec "$venv/bin/python" "$here/scripts/run_examples.py" "$@"
