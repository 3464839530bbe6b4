#!/usr/bin/env bash
# Sets up a venv and runs every check: ruff, mypy --strict, then the whole pytest suite.
# Usage: scripts/test.sh [extra pytest args]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
venv="${VENV:-$here/.venv}"
bash scripts/setup-venv.sh "$venv" "${AIRFLOW_VERSION:-3.3.2}"
# The real-UI tests need Debian's chromium (apt-get, as root or via sudo); without it they skip.
bash scripts/install-browser.sh "$venv" "${AIRFLOW_VERSION:-3.3.2}" || echo "chromium not installed: the browser tests will skip" >&2
py="$venv/bin/python"

echo "== ruff"
"$py" -m ruff check .
"$py" -m ruff format --check .
echo "== mypy --strict"
"$py" -m mypy --strict airflow_provider_projects
echo "== pytest"
set +e
"$py" -m pytest -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
