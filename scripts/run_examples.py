"""Run every example DAG end to end against the built-in emulator and print what each task pushed to XCom.

No real keys, no network: a scratch AIRFLOW_HOME, connections pointing at the emulator on
127.0.0.1, and ``dag.test()`` (which runs deferred waits in line). Scenarios are staged so each
DAG shows its point: a lock the replace operator waits for, a GC AI rate limit the mapped update
rides out, and a Gcore task the sensor follows to its end.

``gcore_project_unlocked`` is the one example not run: it is scheduled on an asset its
``AssetWatcher`` feeds, and ``dag.test()`` runs a DAG's tasks but never a watcher (the triggerer
does, for an unpaused DAG). tests/integration/test_example_dags.py runs its watch instead.

Usage: python scripts/run_examples.py [--deferrable] [--edition 2026-05|2026-08|both]

``--edition`` picks the Gcore spec edition the emulator serves: 2026-08 (the current one, where
PUT answers 405 and the replace operator sends PATCH), 2026-05 (PUT still accepted), or ``both``
(the default): the examples run once per edition, so the demo shows what users meet on each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from projects_emulator.editions import EDITIONS

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "example_dags"

#: Deferrals seen per (dag_id, run_id, task as shown): filled by _trace_deferrals.
DEFERRALS: Counter[tuple[str, str, str]] = Counter()


def _task_name(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def _trace_deferrals() -> None:
    """Print each deferral and resumption as it happens, and count them for the summary.

    ``dag.test()`` runs a deferred task's trigger in line through its private
    ``_run_inline_trigger`` and offers no hook nor record of it (at the WARNING level the demo
    logs at, nothing shows a task ever deferred); wrapping that helper is the one place to see it.
    """
    from airflow.sdk.definitions import dag as dag_module

    run_inline = getattr(dag_module, "_run_inline_trigger", None)
    if run_inline is None:  # another Airflow version: the demo runs, without the deferral lines
        print("(this Airflow's dag.test() gives no way to show deferrals)")
        return

    def run_inline_traced(trigger: Any, task_sdk_ti: Any) -> Any:
        name = _task_name(task_sdk_ti.task_id, task_sdk_ti.map_index)
        print(f"  {name} deferred: {type(trigger).__name__} waits in the (inline) triggerer")
        started = time.monotonic()
        event = run_inline(trigger, task_sdk_ti)
        payload = getattr(event, "payload", None)
        status = payload.get("status") if isinstance(payload, dict) else None
        print(f"  {name} resumed after {time.monotonic() - started:.1f} s (trigger event: {status or payload})")
        DEFERRALS[(task_sdk_ti.dag_id, task_sdk_ti.run_id, name)] += 1
        return event

    dag_module._run_inline_trigger = run_inline_traced


def _end_lock_after_first_read(emu: Any, lock: str, path: str, seconds: float) -> None:
    """End ``lock`` ``seconds`` after the first GET of ``path``.

    Timed from the operator's first read, not from now: dag.test() takes a few seconds to reach
    the task, and a lock timed from its creation could be over before anyone met it.
    """

    def end_later() -> None:
        while not emu.requests(api="gcore", method="GET", path=path):
            time.sleep(0.05)
        time.sleep(seconds)
        emu.finish_task(lock)

    threading.Thread(target=end_later, name="demo-lock", daemon=True).start()


def _run_order(dag_id: str, run_id: str) -> list[str]:
    """The run's tasks in the order they started (tasks that never started last)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .order_by(TaskInstance.start_date.is_(None), TaskInstance.start_date, TaskInstance.map_index)
        ).all()
    return [_task_name(task_id, map_index) for task_id, map_index in rows]


def _run_triggered(path: Path, dag_id: str, conf: dict[str, Any] | None = None) -> Any:
    """``dag.test()`` one example as ``airflow dags trigger`` would start it: with no logical date.

    dag.test()'s default fills one in, as the UI's trigger dialog does, and so would hide a
    template that fails on runs triggered from the CLI or the REST API.
    """
    from projects_emulator.dagtest import load_dag, report_for

    dag_run = load_dag(path, dag_id).test(run_conf=conf, logical_date=None)
    report = report_for(dag_run.dag_id, dag_run.run_id, str(dag_run.state))
    report.logical_date = dag_run.logical_date  # shown in the summary: None, as the CLI makes it
    return report


def _show(report: Any, seconds: float) -> None:
    print(
        f"\n=== {report.dag_id}: {report.state} in {seconds:.1f} s; run {report.run_id}, "
        f"logical date {report.logical_date} (as `airflow dags trigger` starts it); tasks in the order they ran:"
    )
    order = _run_order(report.dag_id, report.run_id)
    for task in order:
        deferred = DEFERRALS[(report.dag_id, report.run_id, task)]
        note = f" (deferred {deferred}x, resumed)" if deferred else ""
        print(f"  {task:<40} {report.task_states.get(task, '?')}{note}")
    rank = {task: position for position, task in enumerate(order)}
    for (task, map_index, key), value in sorted(
        report.xcoms.items(), key=lambda item: (rank.get(_task_name(item[0][0], item[0][1]), len(rank)), item[0][2])
    ):
        if key.startswith("_link_") and not value:
            continue  # no console link: the connections point at the emulator, not the vendors' APIs
        print(f"  XCom {_task_name(task, map_index)} {key}: {json.dumps(value, sort_keys=True)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deferrable", action="store_true", help="wait for locks in (inline) triggers")
    parser.add_argument(
        "--edition",
        choices=[*EDITIONS, "both"],
        default="both",
        help="Gcore spec edition the emulator serves (default: both, one after the other)",
    )
    args = parser.parse_args()
    # dag.test() talks to an in-process Execution API through FastAPI's TestClient, whose import
    # warns that Starlette wants httpx2: Airflow's business and no step of the demo's, so not shown.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated")

    # The scratch AIRFLOW_HOME (database, logs) goes away with the run.
    with tempfile.TemporaryDirectory(prefix="projects-demo-") as scratch:
        editions = EDITIONS if args.edition == "both" else (args.edition,)
        return run_all(Path(scratch), deferrable=args.deferrable, editions=editions)


def run_all(home: Path, *, deferrable: bool, editions: tuple[str, ...]) -> int:
    from projects_emulator.dagtest import prepare_airflow

    print(f"AIRFLOW_HOME={home} (removed at the end); creating the Airflow database...")
    prepare_airflow(home=home, dags_folder=EXAMPLES, deferrable=deferrable)
    _trace_deferrals()

    # Said, not silently left out: a user counting the DAGs in example_dags/ would wonder.
    print(
        "gcore_project_unlocked is not run here: it is scheduled on an asset an AssetWatcher feeds, and "
        "dag.test() cannot fire a watcher (see docs/sensors.md, Event-driven)."
    )
    failed = sum(_run_examples(edition) for edition in editions)
    print("\nAll example DAGs succeeded." if not failed else f"\n{failed} example DAG(s) failed.")
    return 1 if failed else 0


def _run_examples(edition: str) -> int:
    """Run every example DAG against an emulator serving ``edition``; returns how many failed."""
    from projects_emulator import ProjectsEmulator

    failed = 0
    with ProjectsEmulator(edition=edition) as emu:
        os.environ.update(emu.airflow_connection_env())
        # The replace's default write is PATCH, listed by both editions: only PUT differs between them.
        put = "PUT still accepted" if edition == "2026-05" else "PUT answers 405"
        print(f"\n##### Gcore spec edition {edition} ({put})")
        print(f"Emulator: Gcore {emu.gcore_url}, GC AI {emu.gcai_url}")

        lock = emu.lock_gcore_project(2, task_type="update_project")
        _end_lock_after_first_read(emu, lock, "/cloud/v1/projects/2", seconds=3)
        print(f"\nGcore project 2 is locked by task {lock} until 3 s after the replace operator reads it: it waits.")
        started = time.monotonic()
        report = _run_triggered(EXAMPLES / "projects_release_rollout.py", "projects_release_rollout")
        _show(report, time.monotonic() - started)
        failed += report.state != "success"

        emu.set_gcai_rate_limit(3, 2.0)
        ids = list(emu.gcai_project_ids[:2]) + [emu.add_gcai_project(f"Matter {n}") for n in range(4)]
        print(f"\nGC AI rate limit set to 3 requests per 2 s; updating {len(ids)} projects with a mapped task.")
        started = time.monotonic()
        report = _run_triggered(EXAMPLES / "gcai_bulk_instructions.py", "gcai_bulk_instructions", {"project_ids": ids})
        _show(report, time.monotonic() - started)
        patches = len(emu.requests(api="gcai", method="PATCH"))
        print(f"  {patches} PATCH requests for {len(ids)} projects (the extra ones met 429, waited for Retry-After)")
        failed += report.state != "success"
        emu.set_gcai_rate_limit(None)

        task = emu.lock_gcore_project(3, task_type="provision_project")
        # Timed from the sensor's first read, like the lock above: on a slow machine a task timed
        # from now could end before the sensor ever polls it, and nothing would defer.
        _end_lock_after_first_read(emu, task, f"/cloud/v1/tasks/{task}", seconds=2)
        print(f"\nGcore task {task} on project 3 runs until 2 s after the sensor first reads it.")
        started = time.monotonic()
        report = _run_triggered(
            EXAMPLES / "gcore_wait_for_task.py", "gcore_wait_for_task", {"gcore_task_id": task, "gcore_project_id": 3}
        )
        _show(report, time.monotonic() - started)
        failed += report.state != "success"
        writes = [r.method for r in emu.requests(api="gcore") if r.method in ("PUT", "PATCH")]
        print(f"\nGcore writes on edition {edition}: {', '.join(writes) or 'none'}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
