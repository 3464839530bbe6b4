#!/usr/bin/env bash
# Builds both distributions (the provider and its emulator, sdist and wheel each) as they would be
# published, and checks them the way a user meets them:
#
#   scripts/release.sh             build into dist/ with SHA256SUMS, build again and compare (the
#                                  build is reproducible), `twine check --strict`, install the wheels
#                                  into a clean venv (.venv-release, made anew) with Airflow 3.3.2
#                                  and its constraints, and show that Airflow lists the provider.
#   scripts/release.sh build DIR   only build the four files into DIR (tests/release uses it).
#
# Reproducible: SOURCE_DATE_EPOCH is the last commit's time (unless set), which hatchling uses for
# every timestamp in both archives, and the build backend is pinned (constraints/build-py3.11.txt).
# About a minute with a warm uv cache.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
airflow_version="3.3.2"
airflow_constraints="$here/constraints/airflow-${airflow_version}-py3.11.txt"
dist="$here/dist"
release_venv="${RELEASE_VENV:-$here/.venv-release}"
dev_venv="${VENV:-$here/.venv}"

log() { printf '== release: %s\n' "$*"; }
die() {
  printf '== release: FAILED: %s\n' "$*" >&2
  exit 1
}

uv_bin="$(bash "$here/scripts/uv.sh")"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git -C "$here" log -1 --format=%ct 2>/dev/null)" ||
    die "no git history here: set SOURCE_DATE_EPOCH (the release's time, in seconds since 1970)"
fi
export SOURCE_DATE_EPOCH

# Both distributions into $1: each an sdist first, then its wheel built from that sdist (so a
# wheel that only builds from the checkout, not from what is published, fails here).
build() {
  local out="$1" project
  mkdir -p "$out"
  for project in "$here" "$here/emulator"; do
    "$uv_bin" build --quiet --python 3.11 --build-constraint "$here/constraints/build-py3.11.txt" \
      --out-dir "$out" "$project"
  done
}

# "<sha256>  <file>" for each built file, sorted by name.
sums() { (cd "$1" && sha256sum -- *.tar.gz *.whl); }

if [ "${1:-}" = build ]; then
  [ -n "${2:-}" ] || die "usage: $0 build DIR"
  build "$2"
  exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [build DIR]"

t0=$SECONDS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -n "$(git -C "$here" status --porcelain 2>/dev/null)" ]; then
  log "note: the working tree has uncommitted changes; dist/ holds them, dated by the last commit"
fi

log "building both distributions into dist/ (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, $(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ))"
rm -rf "$dist"
build "$dist"
sums "$dist" >"$work/SHA256SUMS"
mv "$work/SHA256SUMS" "$dist/SHA256SUMS"
[ "$(wc -l <"$dist/SHA256SUMS")" -eq 4 ] || die "expected 4 files in dist/, found: $(ls "$dist")"

log "building again to check that the build is reproducible"
build "$work/again"
if ! diff <(sums "$dist") <(sums "$work/again") >"$work/sums.diff"; then
  cat "$work/sums.diff" >&2
  die "a second build of the same tree gave other files: the build is not reproducible"
fi

log "twine check --strict"
bash "$here/scripts/setup-venv.sh" "$dev_venv" "$airflow_version" >/dev/null
"$uv_bin" pip install --quiet --compile-bytecode --python "$dev_venv/bin/python" \
  --constraint "$here/constraints/dev-py3.11.txt" --constraint "$airflow_constraints" \
  --group "$here/pyproject.toml:release"
(cd "$dist" && "$dev_venv/bin/python" -m twine --no-color check --strict -- *.tar.gz *.whl)

log "installing the wheels into a clean venv: $release_venv (apache-airflow $airflow_version, its constraints)"
rm -rf "$release_venv"
"$uv_bin" venv --quiet --python 3.11 "$release_venv"
"$uv_bin" pip install --quiet --compile-bytecode --python "$release_venv/bin/python" \
  --constraint "$airflow_constraints" "apache-airflow==${airflow_version}" "$dist"/*.whl

# Away from the checkout, so that nothing can be imported from it, with an Airflow home of its own.
cd "$work"
export AIRFLOW_HOME="$work/airflow-home"
airflow() { "$release_venv/bin/airflow" "$@" 2>>"$work/airflow.stderr"; }
airflow providers list -o json >"$work/providers.json" || die "airflow providers list failed: $(cat "$work/airflow.stderr")"
airflow providers hooks -o json >"$work/hooks.json" || die "airflow providers hooks failed: $(cat "$work/airflow.stderr")"
log "airflow providers hooks (the clean venv), the provider's connection types:"
"$release_venv/bin/python" - "$work/providers.json" "$work/hooks.json" "$release_venv" <<'PY' || die "the installed wheels do not work as a provider"
import json, sys
from importlib.metadata import version
from pathlib import Path

import airflow_provider_projects, projects_emulator

providers, hooks, venv = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), Path(sys.argv[3]).resolve()
ours = [p for p in providers if p["package_name"] == "airflow-provider-projects"]
assert ours, f"airflow providers list does not list airflow-provider-projects: {[p['package_name'] for p in providers]}"
assert ours[0]["version"] == version("airflow-provider-projects"), ours
types = {h["connection_type"] for h in hooks if h.get("package_name") == "airflow-provider-projects"}
assert types == {"gcore", "gcai"}, f"connection types {types}"
for module in (airflow_provider_projects, projects_emulator):
    assert venv in Path(module.__file__).resolve().parents, f"{module.__name__} imported from {module.__file__}"
for hook in sorted((h for h in hooks if h.get("package_name") == "airflow-provider-projects"), key=str):
    print(f"  connection type {hook['connection_type']!r}: {hook['class']} ({hook['hook_name']})")
PY
log "airflow providers list (the clean venv):"
airflow providers list
log "airflow providers get airflow-provider-projects:"
airflow providers get airflow-provider-projects
log "projects-emulator --version: $("$release_venv/bin/projects-emulator" --version)"

log "dist/ (SHA256SUMS):"
(cd "$dist" && for file in *.tar.gz *.whl; do printf '  %8d bytes  %s\n' "$(stat -c %s "$file")" "$file"; done)
sed 's/^/  /' "$dist/SHA256SUMS"
log "done in $((SECONDS - t0)) s"
