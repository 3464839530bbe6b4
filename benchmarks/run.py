"""Performance benchmarks of airflow-provider-projects: every figure is a ratio measured in this run.

Usage: ``.venv/bin/python benchmarks/run.py [--sections 1,2,3,4]`` (about four to six minutes in all).

1. parse-time import cost of the operator and sensor modules vs apache-airflow-providers-http's;
2. per-call cost of the hooks vs a bare ``requests.Session`` and the official ``gcore`` SDK;
3. lock waits in one event loop, issue 13's figures: CPU per poll against bare aiohttp and the
   HTTP provider's trigger, 1,000 and 10,000 waits, waits sharing a project, a shared 429;
4. requests sent per common operation, from the emulator's journal;
5. the vendors' budget, issue 20's figures: lock waits served from the projects list.

See ``benchmarks/README.md`` for the method, the figures of a run and what they mean.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from common import prepare_airflow_env

SECTIONS: dict[str, str] = {
    "1": "bench_imports",
    "2": "bench_percall",
    "3": "bench_waits",
    "4": "bench_requests",
    "5": "bench_pages",
}


def _load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="1,2,3,4,5", help="comma-separated section numbers (default: all)")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {sorted(SECTIONS)}")

    home = prepare_airflow_env()
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    from importlib.metadata import version

    print("airflow-provider-projects performance benchmarks (figures are ratios measured side by side in this run)")
    print(
        f"python {platform.python_version()}, apache-airflow {version('apache-airflow')}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}; at start: {_load()}"
    )
    started = time.perf_counter()
    failed: list[str] = []
    summaries: dict[str, Any] = {}
    try:
        for number in chosen:
            module = __import__(SECTIONS[number])
            section: Callable[[], dict[str, Any]] = module.run
            began = time.perf_counter()
            try:
                summaries[number] = section()
                print(f"  [section {number}: {time.perf_counter() - began:.0f} s]")
            except Exception:  # one broken section must not hide the others' figures
                failed.append(number)
                print(f"\nsection {number} failed:")
                traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print()
    print(f"done in {time.perf_counter() - started:.0f} s; at end: {_load()}")
    if failed:
        print(f"sections that failed to run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
