"""Run every example DAG end to end against the built-in emulator and print what each task pushed to XCom.

No real keys, no network: a scratch AIRFLOW_HOME, connections pointing at the emulator on
127.0.0.1, and ``dag.test()`` (which runs deferred waits in line). Scenarios are staged so each
DAG shows its point: a lock the replace operator waits for, a GC AI rate limit the mapped update
rides out, and a Gcore task the sensor follows to its end.

Usage: python scripts/run_examples.py [--deferrable] [--edition 2026-05|2026-08|both]

``--edition`` picks the Gcore spec edition the emulator serves: 2026-08 (the default, the current
one, where PUT answers 405) or 2026-05 (PUT still accepted); ``both`` runs the examples once per
edition.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from projects_emulator.editions import CURRENT, EDITIONS

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "example_dags"


def _show(report: Any, seconds: float) -> None:
    print(f"\n=== {report.dag_id}: {report.state} in {seconds:.1f} s")
    for task, state in sorted(report.task_states.items()):
        print(f"  {task:<40} {state}")
    for (task, map_index, key), value in sorted(report.xcoms.items(), key=lambda item: (item[0][0], item[0][1])):
        where = task if map_index < 0 else f"{task}[{map_index}]"
        print(f"  XCom {where} {key}: {json.dumps(value, sort_keys=True)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deferrable", action="store_true", help="wait for locks in (inline) triggers")
    parser.add_argument(
        "--edition",
        choices=[*EDITIONS, "both"],
        default=CURRENT,
        help=f"Gcore spec edition the emulator serves (default {CURRENT}); both: run once per edition",
    )
    args = parser.parse_args()

    from projects_emulator.dagtest import prepare_airflow

    home = Path(tempfile.mkdtemp(prefix="projects-demo-"))
    print(f"AIRFLOW_HOME={home}; creating the Airflow database...")
    prepare_airflow(home=home, dags_folder=EXAMPLES, deferrable=args.deferrable)

    editions = EDITIONS if args.edition == "both" else (args.edition,)
    failed = sum(_run_examples(edition) for edition in editions)
    print("\nAll example DAGs succeeded." if not failed else f"\n{failed} example DAG(s) failed.")
    return 1 if failed else 0


def _run_examples(edition: str) -> int:
    """Run every example DAG against an emulator serving ``edition``; returns how many failed."""
    from projects_emulator import ProjectsEmulator
    from projects_emulator.dagtest import run_dag_file

    failed = 0
    with ProjectsEmulator(edition=edition) as emu:
        os.environ.update(emu.airflow_connection_env())
        put = "PUT accepted" if edition == "2026-05" else "PUT answers 405"
        print(f"\n##### Gcore spec edition {edition} ({put})")
        print(f"Emulator: Gcore {emu.gcore_url}, GC AI {emu.gcai_url}")

        lock = emu.lock_gcore_project(2, seconds=3, task_type="update_project")
        print(f"\nGcore project 2 is locked by task {lock} for 3 s: the replace operator waits for it.")
        started = time.monotonic()
        report = run_dag_file(EXAMPLES / "projects_release_rollout.py", "projects_release_rollout")
        _show(report, time.monotonic() - started)
        failed += report.state != "success"

        emu.set_gcai_rate_limit(3, 2.0)
        ids = list(emu.gcai_project_ids[:2]) + [emu.add_gcai_project(f"Matter {n}") for n in range(4)]
        print(f"\nGC AI rate limit set to 3 requests per 2 s; updating {len(ids)} projects with a mapped task.")
        started = time.monotonic()
        report = run_dag_file(EXAMPLES / "gcai_bulk_instructions.py", "gcai_bulk_instructions", {"project_ids": ids})
        _show(report, time.monotonic() - started)
        patches = len(emu.requests(api="gcai", method="PATCH"))
        print(f"  {patches} PATCH requests for {len(ids)} projects (the extra ones met 429, waited for Retry-After)")
        failed += report.state != "success"
        emu.set_gcai_rate_limit(None)

        task = emu.lock_gcore_project(3, seconds=2, task_type="provision_project")
        print(f"\nGcore task {task} runs for 2 s on project 3; the sensor follows it.")
        started = time.monotonic()
        report = run_dag_file(
            EXAMPLES / "gcore_wait_for_task.py", "gcore_wait_for_task", {"gcore_task_id": task, "gcore_project_id": 3}
        )
        _show(report, time.monotonic() - started)
        failed += report.state != "success"
    return failed


if __name__ == "__main__":
    sys.exit(main())
