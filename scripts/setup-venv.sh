#!/usr/bin/env bash
# Creates (or refreshes) a virtualenv with Airflow, this provider and its emulator (both editable)
# and the `dev` dependency group (tests, browser driver, linters) installed, from nothing but python3
# and PyPI. Usage: scripts/setup-venv.sh [VENV_DIR] [AIRFLOW_VERSION]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/.venv}"
airflow_version="${2:-3.3.2}"
constraints="$here/constraints/airflow-${airflow_version}-py3.11.txt"

uv_bin="$(bash "$here/scripts/uv.sh")"
[ -x "$venv/bin/python" ] || "$uv_bin" venv --quiet --python 3.11 "$venv"
# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1, and Airflow imports twice as slowly without .pyc files.
args=(--quiet --compile-bytecode --python "$venv/bin/python" --constraint "$here/constraints/dev-py3.11.txt")
[ -f "$constraints" ] && args+=(--constraint "$constraints")
"$uv_bin" pip install "${args[@]}" "apache-airflow==${airflow_version}" -e "$here" -e "$here/emulator" \
  --group "$here/pyproject.toml:dev"
echo "venv ready: $venv (apache-airflow ${airflow_version})"
