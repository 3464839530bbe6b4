#!/usr/bin/env bash
# The version-matrix leg for the oldest Airflow minor the package declares (apache-airflow>=3.2.0):
# sets up .venv-3.2 with apache-airflow 3.2.2 (pinned by constraints/airflow-3.2.2-py3.11.txt) and
# runs the suite there, less the browser tests (tests/ui), the tests marked slow, and the
# distributed cluster tests (tests/distributed: scripts/cluster.sh runs Airflow 3.3.2 only).
# The 3.3.2 leg is scripts/test.sh. Each test has the same time bound as there (pytest-timeout, pinned
# in both constraints files; per-suite bounds in tests/conftest.py). Usage: scripts/matrix.sh [extra pytest args]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
airflow_version="3.2.2"
venv="$here/.venv-3.2"

echo "== matrix: apache-airflow ${airflow_version} (${venv})"
bash scripts/setup-venv.sh "$venv" "$airflow_version"
"$venv/bin/python" -c 'import airflow, sys; print("== matrix: airflow", airflow.__version__, "on python", sys.version.split()[0])'

echo "== matrix: pytest (apache-airflow ${airflow_version}; not tests/ui, not slow)"
set +e
"$venv/bin/python" -m pytest -p no:cacheprovider -q tests --ignore=tests/ui --ignore=tests/distributed -m "not slow" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "== matrix: pytest collected no tests on apache-airflow ${airflow_version}: that is a failure" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "== matrix: FAILED on apache-airflow ${airflow_version} (pytest exit code ${status})" >&2
else
  echo "== matrix: passed on apache-airflow ${airflow_version}"
fi
exit "$status"
