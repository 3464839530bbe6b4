#!/usr/bin/env bash
# Mutation testing of the provider (mutmut 3): each module of scripts/mutate-modules.txt is mutated
# in a scratch copy of the repo and judged by the tests that mirror it; prints the kill rate per
# module and overall, and every surviving mutant (file:line, the line before and after).
# Usage: scripts/mutate.sh [module ...]   e.g. scripts/mutate.sh _http/wire.py waiting.py (none: all)
# Long (about an hour for every module on 2 cores): run it on the modules you touched, under
# `nice -n 19` on a shared machine. Exit 1 while a mutant survives. See docs/testing.md.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
venv="${VENV:-$here/.venv}"
[ -x "$venv/bin/python" ] || bash scripts/setup-venv.sh "$venv"
if ! "$venv/bin/python" -c 'import mutmut, pytest_timeout' 2>/dev/null; then
  # Not in the venv by default (CI does not mutate): pinned by the 3.3.2 constraints file.
  uv_bin="$(command -v uv || echo "$venv/bin/uv")"
  "$uv_bin" pip install --quiet --compile-bytecode --python "$venv/bin/python" \
    --constraint constraints/airflow-3.3.2-py3.11.txt mutmut pytest-timeout
fi
exec "$venv/bin/python" scripts/mutate.py "$@"
