#!/usr/bin/env bash
# Installs what the browser tests (tests/ui) need: Debian's Chromium at /usr/bin/chromium and the
# Playwright driver for Python in a venv. Never runs `playwright install` (no browser download):
# the tests drive the system Chromium through executable_path.
# Idempotent: when both are there already it only checks them (under a second). A first run takes
# about 20 s (apt-get update and the chromium packages, then the playwright wheel).
# Usage: scripts/install-browser.sh [VENV_DIR] [AIRFLOW_VERSION]   (defaults: .venv, 3.3.2)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/.venv}"
airflow_version="${2:-${AIRFLOW_VERSION:-3.3.2}}"
# The version CI runs, from the development tools' constraints (the `ui` dependency group names it).
pinned="$(sed -n 's/^playwright==//p' "$here/constraints/dev-py3.11.txt" 2>/dev/null || true)"
playwright_version="${PLAYWRIGHT_VERSION:-${pinned:-1.65.2}}"
constraints="$here/constraints/airflow-${airflow_version}-py3.11.txt"

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian chromium (apt-get)"
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  # fonts-liberation: without recommends, Chromium may have no Latin font for screenshots.
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo 'installed, but --version failed')"

if [ ! -x "$venv/bin/python" ]; then
  echo "no venv at $venv: run scripts/setup-venv.sh first" >&2
  exit 1
fi
installed() {
  "$venv/bin/python" -c 'from importlib.metadata import version; print(version("playwright"))' 2>/dev/null || true
}
if [ "$(installed)" != "$playwright_version" ]; then
  echo "== installing playwright==$playwright_version into $venv"
  uv_bin="$(bash "$here/scripts/uv.sh")"
  args=(--quiet --compile-bytecode --python "$venv/bin/python")
  # Airflow's constraints pin greenlet, playwright's one dependency: never move Airflow's pins.
  [ -f "$constraints" ] && args+=(--constraint "$constraints")
  "$uv_bin" pip install "${args[@]}" "playwright==$playwright_version"
fi
echo "playwright: $(installed)"
