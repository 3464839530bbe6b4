"""Scenario 5: Redis, then PostgreSQL, restart in the middle of a run; it still completes, writing once."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from .cluster import Cluster, poll
from .support import add_gcore_projects, gcore_writes, replace_targets, run_id, writes_per_project

pytestmark = pytest.mark.distributed

PROJECTS = 20
DAG = "dist_gcore_replace"


def restart(cluster: Cluster, name: str, sig: int) -> list[str]:
    """Stop one component (as its service manager would), then ``cluster.sh up`` starts it again.

    Returns the Airflow components ``up`` had to start too: those that died of the outage.
    """
    pid = cluster.pids()[name]
    assert pid is not None
    cluster.kill(name, sig)
    poll(f"{name} to stop", lambda: cluster.pids()[name] is None, timeout=60)
    out = cluster.script("up")
    started = out.split("started: ", 1)[1].split("\n", 1)[0].split()
    assert started[0] == name, out
    return started[1:]


# 180 s for the waits to defer, two restarts (`cluster.sh up` each), then 420 s for the run.
@pytest.mark.timeout(900, func_only=True)
def test_run_survives_broker_and_database_restarts(cluster: Cluster, emulator: Any, figures: dict[str, Any]) -> None:
    projects = add_gcore_projects(emulator, "restart", PROJECTS)
    for project in projects:
        emulator.lock_gcore_project(project, seconds=45)
    run = cluster.trigger(DAG, run_id("restarts"), {"targets": replace_targets(projects, "restart")})
    poll(
        "half the tasks to be waiting in a triggerer",
        lambda: sum(cluster.deferred_triggers(DAG, run).values()) >= PROJECTS // 2,
        timeout=180,
        interval=1,
    )
    started = time.monotonic()
    # SIGTERM to Redis: a service manager's stop (its append-only file keeps the queued messages).
    # SIGINT to the postmaster: PostgreSQL's "fast" shutdown, which cuts every client off.
    collateral = {"redis": restart(cluster, "redis", signal.SIGTERM)}
    collateral["postgres"] = restart(cluster, "postgres", signal.SIGINT)
    outage = time.monotonic() - started

    # Components that exit after the outage, sometimes seconds after `up` found them alive, are
    # started again while the run goes on, as systemd's Restart=always or Kubernetes would.
    restarted_later: list[str] = []

    def ended() -> str | None:
        restarted_later.extend(cluster.supervise())
        state = cluster.run_state(DAG, run)
        return state if state in ("success", "failed") else None

    assert poll("the run to end (restarting what dies)", ended, timeout=420, interval=3) == "success"
    states = {k: v for k, v in cluster.task_states(DAG, run).items() if k[0] == "replace"}
    assert set(states.values()) == {"success"} and len(states) == PROJECTS
    counts = [len(gcore_writes(emulator, project)) for project in projects]
    assert counts == [1] * PROJECTS, f"writes per project: {counts}"
    for i, project in enumerate(projects):
        assert emulator.gcore_project(project)["name"] == f"restart-{i:03d}-new"
    figures.update(
        restarts_seconds=round(outage, 1),
        components_restarted_after_outage=collateral,
        components_restarted_later=restarted_later,
        retries=sum(n - 1 for n in cluster.tries(DAG, run, "replace").values()),
        writes_per_project=writes_per_project(counts),
    )
