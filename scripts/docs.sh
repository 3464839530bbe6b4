#!/usr/bin/env bash
# Builds the docs site: the guides in docs/ (Markdown, read by MyST) and an API reference from the
# docstrings (autodoc), into build/docs/ (or DIR) with the furo theme. See docs/conf.py for why
# Sphinx, and how the API pages list the modules.
# Strict: every warning is an error (-W), all of them are reported before it fails (--keep-going),
# and a reference that resolves nowhere is a warning (-n): a broken link between pages, a missing
# object, a docstring that is not valid reStructuredText. Always a full build (-E).
# Usage: scripts/docs.sh [DIR]     (open DIR/index.html)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/build/docs}"
venv="${VENV:-$here/.venv}"
airflow_version="3.3.2"

# autodoc imports the provider, hence Airflow: the project venv, plus the `docs` dependency group.
bash "$here/scripts/setup-venv.sh" "$venv" "$airflow_version" >/dev/null
uv_bin="$(bash "$here/scripts/uv.sh")"
"$uv_bin" pip install --quiet --compile-bytecode --python "$venv/bin/python" \
  --constraint "$here/constraints/dev-py3.11.txt" \
  --constraint "$here/constraints/airflow-${airflow_version}-py3.11.txt" \
  --group "$here/pyproject.toml:docs"

doctrees="$(mktemp -d)"
trap 'rm -rf "$doctrees"' EXIT
t0=$SECONDS
# A scratch AIRFLOW_HOME: importing Airflow must not write airflow.cfg into the user's home.
AIRFLOW_HOME="$doctrees/airflow-home" AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING "$venv/bin/python" -m sphinx -b html -E -W --keep-going -n -q \
  -d "$doctrees" "$here/docs" "$out"
pages="$(find "$out" -name '*.html' -not -path "$out/_modules/*" | wc -l)"
echo "docs site: $out/index.html ($pages pages, built in $((SECONDS - t0)) s)"
