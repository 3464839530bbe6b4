"""Scenario 4: SIGKILL the worker running a replace between its read and its write's answer.

The emulator's write route is stalled with a delay fault. A delay without a status lets the API
handle the request first and holds only the answer back (see the emulator's faults module): the
first write HAS landed when the worker dies. The retry, on the other worker, must then find the
change applied and send no second write. The write guard's record lives in Airflow's task state
store, which is the PostgreSQL metadata DB here: the test reads it there.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .cluster import Cluster, poll
from .support import gcore_writes, run_id

pytestmark = pytest.mark.distributed

DAG = "dist_gcore_replace"
GUARD_KEY = "airflow_provider_projects.pending_write"


def guard_record(cluster: Cluster, run: str) -> dict[str, Any] | None:
    rows = cluster.query(
        "SELECT value FROM task_state_store WHERE dag_id = %s AND run_id = %s AND task_id = 'replace' AND key = %s",
        DAG,
        run,
        GUARD_KEY,
    )
    if not rows:
        return None
    value = json.loads(rows[0][0])
    return value if isinstance(value, dict) else {"raw": value}


def test_retry_after_a_killed_worker_writes_once(cluster: Cluster, emulator: Any, figures: dict[str, Any]) -> None:
    project = emulator.add_gcore_project("midwrite-old", description="before")
    # The replace's write: PATCH, its default method.
    stall = emulator.add_fault("gcore", "PATCH", rf"/cloud/v1/projects/{project}", delay=120, times=1)
    target = {"project_id": project, "name": "midwrite-new", "description": "after"}
    run = cluster.trigger(DAG, run_id("midwrite"), {"targets": [target]})
    try:
        poll("the first write to reach the API", lambda: gcore_writes(emulator, project), timeout=180, interval=0.2)
        pid = cluster.query(
            "SELECT pid FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = 'replace'", DAG, run
        )[0][0]
        victim = cluster.worker_of(pid)
        assert victim is not None, f"task process {pid} belongs to neither worker"
        # The guard recorded the write in flight before sending it, in PostgreSQL.
        record = poll("the write guard's record", lambda: guard_record(cluster, run), timeout=10, interval=0.2)
        # A TryRecord: the try that wrote it, and the write in flight (state_stores.TryRecord).
        assert record.get("try_number") == 1
        assert record["value"].get("desired") == {"name": "midwrite-new", "description": "after"}
        killed_at = time.monotonic()
        cluster.kill(victim)

        assert cluster.wait_for_run(DAG, run, timeout=240) == "success"
        finished_at = time.monotonic()
        assert cluster.tries(DAG, run, "replace") == {0: 2}, "the kill cost exactly one retry"
        ran = cluster.executions(DAG, run, "replace")
        survivor = "worker-2" if victim == "worker-1" else "worker-1"
        assert [w for w, path in ran if path.endswith("attempt=2.log")] == [survivor]
        # What the API saw: the first try's write, then the retry's read, and no second write.
        writes = gcore_writes(emulator, project)
        assert len(writes) == 1, f"{len(writes)} writes"
        reads = emulator.requests(api="gcore", method="GET", path=f"/cloud/v1/projects/{project}")
        assert any(r.time > killed_at for r in reads), "the retry read the project before deciding"
        assert emulator.gcore_project(project)["name"] == "midwrite-new"
        assert guard_record(cluster, run) is None, "the retry settled the guard's record"
        figures.update(
            killed=victim,
            retry_on=survivor,
            kill_to_success_seconds=round(finished_at - killed_at, 1),
            writes_per_project={1: 1},
        )
    finally:
        emulator.remove_fault(stall)
        cluster.script("up")  # the killed worker back, for the scenarios after this one
