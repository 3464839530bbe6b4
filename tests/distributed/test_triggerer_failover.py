"""Scenario 3: SIGKILL triggerer-1 while 50+ deferrable waits are in flight; triggerer-2 finishes them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .cluster import Cluster, poll
from .support import add_gcore_projects, gcore_writes, replace_targets, run_id, writes_per_project

pytestmark = pytest.mark.distributed

PROJECTS = 60
DAG = "dist_gcore_replace"


# 300 s to defer 50 waits, 180 s for the hand-over, 300 s for the run.
@pytest.mark.timeout(900, func_only=True)
def test_waits_survive_a_killed_triggerer(cluster: Cluster, emulator: Any, figures: dict[str, Any]) -> None:
    projects = add_gcore_projects(emulator, "failover", PROJECTS)
    # Locked until this test ends the Gcore tasks: every wait is in flight when triggerer-1 dies.
    locks = {project: emulator.lock_gcore_project(project, seconds=None) for project in projects}
    first, second = cluster.triggerer_job("triggerer-1"), cluster.triggerer_job("triggerer-2")
    run = cluster.trigger(DAG, run_id("failover"), {"targets": replace_targets(projects, "failover")})
    try:

        def in_flight() -> dict[int | None, int] | None:
            held = cluster.deferred_triggers(DAG, run)
            return held if sum(held.values()) >= 50 and held.get(first, 0) > 0 else None

        before = poll("50 deferred waits, some on triggerer-1", in_flight, timeout=300, interval=1)
        killed_at = time.monotonic()
        cluster.kill("triggerer-1")

        def handed_over() -> bool:
            held = cluster.deferred_triggers(DAG, run)
            return set(held) == {second}

        poll("triggerer-2 to take over every wait", handed_over, timeout=180, interval=0.5)
        handover = time.monotonic() - killed_at
        after = cluster.deferred_triggers(DAG, run)
        assert sum(after.values()) >= sum(before.values()), (before, after)
        # The waits kept reading their locks after the kill, from triggerer-2, the only one left:
        # 60 waits in one account are served from pages of the projects list.
        poll(
            "the waits to read their locks again after the kill",
            lambda: any(
                r.time > killed_at for r in emulator.requests(api="gcore", method="GET", path="/cloud/v1/projects")
            ),
            timeout=60,
        )
        assert cluster.query("SELECT count(*) FROM trigger WHERE triggerer_id = %s", first)[0][0] == 0
    finally:
        unlocked_at = time.monotonic()
        for task in locks.values():
            emulator.finish_task(task)

    assert cluster.wait_for_run(DAG, run, timeout=300) == "success"
    states = {k: v for k, v in cluster.task_states(DAG, run).items() if k[0] == "replace"}
    assert set(states.values()) == {"success"} and len(states) == PROJECTS
    assert set(cluster.tries(DAG, run, "replace").values()) == {1}, "a lost event would have cost a retry"
    counts = []
    for project in projects:
        writes = gcore_writes(emulator, project)
        counts.append(len(writes))
        assert len(writes) == 1, f"project {project} was written {len(writes)} times"
        assert writes[0].time >= unlocked_at
    figures.update(
        handover_seconds=round(handover, 1),
        waits_per_triggerer_before_kill={"triggerer-1": before.get(first, 0), "triggerer-2": before.get(second, 0)},
        writes_per_project=writes_per_project(counts),
    )
    cluster.script("up")  # triggerer-1 back, for the scenarios after this one
