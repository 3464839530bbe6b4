#!/usr/bin/env bash
# Creates (or refreshes) a virtualenv with Airflow, this provider and its emulator (both editable)
# installed, from nothing but python3 and PyPI. Usage: scripts/setup-venv.sh [VENV_DIR] [AIRFLOW_VERSION]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/.venv}"
airflow_version="${2:-3.3.2}"
constraints="$here/constraints/airflow-${airflow_version}-py3.11.txt"

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
uv_bin="$(command -v uv || python3 -c 'import shutil,sys,os; print(os.path.join(os.path.dirname(sys.executable), "uv"))')"

[ -x "$venv/bin/python" ] || "$uv_bin" venv --quiet --python 3.11 "$venv"
# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1, and Airflow imports twice as slowly without .pyc files.
args=(--quiet --compile-bytecode --python "$venv/bin/python")
[ -f "$constraints" ] && args+=(--constraint "$constraints")
"$uv_bin" pip install "${args[@]}" "apache-airflow==${airflow_version}" -e "$here[dev]" -e "$here/emulator"
echo "venv ready: $venv (apache-airflow ${airflow_version})"
