"""Scenario 6: a mapped GC AI update over 60 projects on both workers, under a low shared rate limit."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from .cluster import Cluster
from .support import gcai_writes, run_id, writes_per_project

pytestmark = pytest.mark.distributed

PROJECTS = 60
# 8 task slots start about 1.4 tasks a second here: 10 per 10 s is what bites on this machine.
LIMIT, WINDOW = 10, 10.0
DAG = "dist_gcai_update"


def refusals(times: list[float], limit: int, window: float) -> int:
    """How many of these arrivals a sliding window of ``limit`` per ``window`` s refuses with 429.

    The journal does not keep the answers, so the 429s are counted by replaying GC AI's documented
    limit over the journal's arrival times (refused requests do not count towards the window).
    """
    allowed: deque[float] = deque()
    refused = 0
    for at in sorted(times):
        while allowed and allowed[0] <= at - window:
            allowed.popleft()
        if len(allowed) < limit:
            allowed.append(at)
        else:
            refused += 1
    return refused


def test_mapped_update_honours_the_shared_limit(cluster: Cluster, emulator: Any, figures: dict[str, Any]) -> None:
    projects = [emulator.add_gcai_project(f"limited {i}") for i in range(PROJECTS)]
    emulator.clear_journal()
    emulator.set_gcai_rate_limit(LIMIT, WINDOW)
    try:
        run = cluster.trigger(DAG, run_id("ratelimit"), {"project_ids": projects, "instructions": "Cite clauses."})
        assert cluster.wait_for_run(DAG, run, timeout=420) == "success"
    finally:
        emulator.set_gcai_rate_limit(None)

    states = {k: v for k, v in cluster.task_states(DAG, run).items() if k[0] == "update"}
    assert set(states.values()) == {"success"} and len(states) == PROJECTS
    workers = cluster.workers_of_run(DAG, run, "update")
    assert set(workers) == {"worker-1", "worker-2"}, f"the tasks ran on {workers}"
    everything = emulator.requests(api="gcai")
    refused = refusals([r.time for r in everything], LIMIT, WINDOW)
    assert refused > 0, "the limit never bit: lower it"
    assert len(everything) <= PROJECTS + refused, (
        f"{len(everything)} requests for {PROJECTS} updates and {refused} 429s"
    )
    counts = []
    for project in projects:
        counts.append(len(gcai_writes(emulator, project)))
        assert emulator.gcai_project(project)["custom_instructions"] == "Cite clauses."
    figures.update(
        requests=len(everything),
        refused_429=refused,
        tasks_per_worker=workers,
        patches_per_project=writes_per_project(counts),
    )
