#!/usr/bin/env bash
# Sets up the venv, installs the benchmark-only packages (the gcore SDK for comparison) and runs
# every benchmark; figures are ratios measured side by side in one run. Takes 2-3 minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${VENV:-$here/.venv}"
bash "$here/scripts/setup-venv.sh" "$venv" "${AIRFLOW_VERSION:-3.3.2}"
uv_bin="$(bash "$here/scripts/uv.sh")"
"$uv_bin" pip install --quiet --compile-bytecode --python "$venv/bin/python" -r "$here/benchmarks/requirements.txt"
exec "$venv/bin/python" "$here/benchmarks/run.py" "$@"
