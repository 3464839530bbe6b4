#!/usr/bin/env bash
# Prints the path of a uv that the scripts can use, installing or upgrading it with pip first when it
# is missing or older than they need: `uv pip install --group` (PEP 735 dependency groups, which hold
# the development tools; see pyproject.toml) came with uv 0.8.
# Usage: uv_bin="$(bash scripts/uv.sh)"
set -euo pipefail
minimum="0.8.0"

find_uv() {
  command -v uv 2>/dev/null && return 0
  # pip may have put it beside this python3 without that folder being on PATH.
  local beside
  beside="$(python3 -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "uv"))')"
  [ -x "$beside" ] && echo "$beside"
}
new_enough() {
  local have
  have="$("$1" --version 2>/dev/null | awk '{print $2}')"
  [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$minimum" "$have" | sort -V | head -1)" = "$minimum" ]
}

uv_bin="$(find_uv || true)"
if [ -z "$uv_bin" ] || ! new_enough "$uv_bin"; then
  echo "== installing uv>=$minimum with pip (found: ${uv_bin:-none})" >&2
  python3 -m pip install --quiet --disable-pip-version-check --upgrade "uv>=$minimum" >&2
  uv_bin="$(find_uv)"
  new_enough "$uv_bin" || { echo "uv at $uv_bin is still older than $minimum" >&2; exit 1; }
fi
echo "$uv_bin"
