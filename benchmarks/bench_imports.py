"""Section 1: what importing the operator and sensor modules adds to ``import airflow.sdk``.

Each measurement is a fresh ``python -X importtime`` process that imports ``airflow.sdk`` (the
baseline every DAG file pays), writes a marker, imports the target modules and writes a second
marker: the self-times of the modules reported between the markers add up to the extra cost.
Ours and the HTTP provider's run alternately, ``REPS`` times each; the figure is the median.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from common import PYTHON, REPO, heading, iqr, median, table, verdict

OURS: Final = (
    "airflow_provider_projects.operators.gcore",
    "airflow_provider_projects.operators.gcai",
    "airflow_provider_projects.sensors.gcore",
)
HTTP: Final = ("airflow.providers.http.operators.http", "airflow.providers.http.sensors.http")
HEAVY: Final = (
    "pydantic",
    "httpx",
    "requests",
    "projects_emulator",
    "airflow_provider_projects._http",
    "airflow_provider_projects.hooks",
)
REPS: Final = 7
GOAL_RATIO: Final = 0.25

_TIMED = """
import sys, time
import airflow.sdk
sys.stderr.write("@@BEGIN\\n"); sys.stderr.flush()
start = time.perf_counter()
for name in sys.argv[1:]:
    __import__(name)  # the C import path, which -X importtime reports (importlib.import_module is not)
elapsed = time.perf_counter() - start
sys.stderr.write(f"@@END {elapsed}\\n"); sys.stderr.flush()
import os; os._exit(0)  # skip Airflow's interpreter shutdown: it costs seconds and is not measured
"""

# Records every import statement executed while the targets load: which modules became new, and
# which names the provider's own modules asked for (an import of something already loaded still
# passes through __import__, so "airflow loaded pydantic first" cannot hide one of ours).
_PROBE = """
import builtins, json, sys
import airflow.sdk
before = set(sys.modules)
asked = set()
real_import = builtins.__import__
def spy(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if importer.startswith("airflow_provider_projects") and level == 0:
        asked.add(name)
        for item in fromlist or ():
            asked.add(name + "." + item)
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = spy
for name in sys.argv[1:]:
    __import__(name)
builtins.__import__ = real_import
print(json.dumps({"before": sorted(before), "new": sorted(set(sys.modules) - before), "asked": sorted(asked)}))
sys.stdout.flush()
import os; os._exit(0)
"""


@dataclass
class ImportRun:
    """One fresh process: the extra self-time (µs) and the modules it took, with their self-times."""

    extra_us: int
    wall_s: float
    modules: dict[str, int] = field(default_factory=dict)


def ensure_bytecode() -> str:
    """Compile our package (PYTHONDONTWRITEBYTECODE=1 on this machine would leave it source-only)."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", "airflow_provider_projects"], cwd=REPO, check=True)
    ours = _pyc_coverage(REPO / "airflow_provider_projects")
    http_spec = importlib.util.find_spec("airflow.providers.http")
    assert http_spec is not None and http_spec.submodule_search_locations is not None
    http = _pyc_coverage(Path(next(iter(http_spec.submodule_search_locations))))
    return f"ours {ours}, apache-airflow-providers-http {http}"


def _pyc_coverage(root: Path) -> str:
    sources = [p for p in root.rglob("*.py") if "__pycache__" not in p.parts]
    cached = [p for p in sources if Path(importlib.util.cache_from_source(str(p))).exists()]
    return f"{len(cached)}/{len(sources)} modules with .pyc"


def timed_import(targets: Sequence[str]) -> ImportRun:
    """Import ``targets`` on top of ``airflow.sdk`` in a fresh ``-X importtime`` process."""
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", _TIMED, *targets], cwd=REPO, capture_output=True, text=True, check=True
    )
    inside = False
    run = ImportRun(0, 0.0)
    for line in done.stderr.splitlines():
        if line.startswith("@@BEGIN"):
            inside = True
        elif line.startswith("@@END"):
            run.wall_s = float(line.split()[1])
            break
        elif inside and line.startswith("import time:"):
            self_us, _cumulative, name = line[len("import time:") :].split("|", 2)
            run.modules[name.strip()] = int(self_us)
            run.extra_us += int(self_us)
    return run


def probe(targets: Sequence[str]) -> dict[str, list[str]]:
    done = subprocess.run([PYTHON, "-c", _PROBE, *targets], cwd=REPO, capture_output=True, text=True, check=True)
    result: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def run() -> dict[str, Any]:
    heading("1. Parse-time import cost (extra on top of `import airflow.sdk`, python -X importtime)")
    print(f"  bytecode: compileall run on airflow_provider_projects first; {ensure_bytecode()}")
    print("  (PYTHONDONTWRITEBYTECODE=1 stays set for the children: they read the .pyc files, write none)")
    ours: list[ImportRun] = []
    http: list[ImportRun] = []
    for rep in range(REPS):
        order = [(OURS, ours), (HTTP, http)]
        for targets, into in order if rep % 2 == 0 else reversed(order):
            into.append(timed_import(targets))
    ours_ms = [r.extra_us / 1000 for r in ours]
    http_ms = [r.extra_us / 1000 for r in http]
    ratios = [o / h for o, h in zip(ours_ms, http_ms, strict=True)]
    ours_mods = set().union(*(r.modules for r in ours))
    http_mods = set().union(*(r.modules for r in http))
    only_ours = ours_mods - http_mods
    only_http = http_mods - ours_mods
    own = {m for m in ours_mods if _within(m, "airflow_provider_projects")}
    only_ours_ms = median([sum(r.modules.get(m, 0) for m in only_ours) / 1000 for r in ours])
    only_http_ms = median([sum(r.modules.get(m, 0) for m in only_http) / 1000 for r in http])
    own_ms = median([sum(r.modules.get(m, 0) for m in own) / 1000 for r in ours])
    ratio = median(ours_ms) / median(http_ms)
    table(
        [
            "import on top of airflow.sdk",
            "modules",
            "extra self-time, median ms",
            "min..max ms",
            "wall (in-process) ms",
        ],
        [
            [
                "ours: operators.gcore + operators.gcai + sensors.gcore",
                len(ours_mods),
                f"{median(ours_ms):.2f}",
                f"{min(ours_ms):.2f}..{max(ours_ms):.2f}",
                f"{median([r.wall_s * 1000 for r in ours]):.2f}",
            ],
            [
                "http: operators.http + sensors.http",
                len(http_mods),
                f"{median(http_ms):.2f}",
                f"{min(http_ms):.2f}..{max(http_ms):.2f}",
                f"{median([r.wall_s * 1000 for r in http]):.2f}",
            ],
        ],
    )
    print(f"  runs: {REPS} fresh processes each, alternating order; per-run ratio ours/http IQR {iqr(ratios)}")
    print(
        f"  self-time sum of modules only ours imports ({len(only_ours)} modules): {only_ours_ms:.2f} ms "
        f"(of which airflow_provider_projects.* {own_ms:.2f} ms); only http imports ({len(only_http)}): "
        f"{only_http_ms:.2f} ms"
    )
    heaviest = sorted(only_http, key=lambda m: -median([r.modules.get(m, 0) for r in http]))[:6]
    print(f"  heaviest modules only http imports: {', '.join(heaviest)}")
    print(f"  RATIO ours/http = {ratio:.3f}  (goal <= {GOAL_RATIO})  {verdict(ratio <= GOAL_RATIO)}")

    ours_probe = probe(OURS)
    http_probe = probe(HTTP)
    rows = []
    clean = True
    for heavy in HEAVY:
        preloaded = any(_within(m, heavy) for m in ours_probe["before"])
        new = any(_within(m, heavy) for m in ours_probe["new"])
        asked = any(_within(a, heavy) for a in ours_probe["asked"])
        http_new = any(_within(m, heavy) for m in http_probe["new"])
        clean = clean and not (new or asked)
        rows.append(
            [
                heavy,
                "yes" if preloaded else "no",
                "no" if not new else "YES",
                "no" if not asked else "YES",
                "yes" if http_new else "no",
            ]
        )
    print()
    print("  Heavy modules and our operator/sensor modules (fresh process, after `import airflow.sdk`):")
    table(
        ["module", "already loaded by airflow.sdk", "newly loaded by ours", "imported by our code", "newly by http"],
        rows,
    )
    print(f"  none of them imported by our operator/sensor modules: {verdict(clean)}")
    return {"ratio": ratio, "ours_ms": median(ours_ms), "http_ms": median(http_ms), "heavy_clean": clean}
