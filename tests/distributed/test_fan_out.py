"""Scenario 2: a mapped fan-out of 100 deferrable replaces on 100 locked projects, on both workers."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from .cluster import Cluster
from .support import add_gcore_projects, gcore_writes, replace_targets, run_id, writes_per_project

pytestmark = pytest.mark.distributed

PROJECTS = 100


def test_mapped_fan_out_writes_each_locked_project_once(
    cluster: Cluster, emulator: Any, figures: dict[str, Any]
) -> None:
    projects = add_gcore_projects(emulator, "fan", PROJECTS)
    # Each project locked by a Gcore task for 40-100 s: most tasks find the lock and defer, the
    # last ones to start may find it gone already. A write must never land before its lock ended.
    unlocked_at = {}
    for project in projects:
        seconds = random.uniform(40, 100)
        locked_at = time.monotonic()  # the emulator's clock; its lock starts at this reading or later
        emulator.lock_gcore_project(project, seconds=seconds)
        unlocked_at[project] = locked_at + seconds

    run = cluster.trigger("dist_gcore_replace", run_id("fan-out"), {"targets": replace_targets(projects, "fan")})
    assert cluster.wait_for_run("dist_gcore_replace", run, timeout=420) == "success"

    states = cluster.task_states("dist_gcore_replace", run)
    replaced = {key: state for key, state in states.items() if key[0] == "replace"}
    assert len(replaced) == PROJECTS and set(replaced.values()) == {"success"}
    assert set(cluster.tries("dist_gcore_replace", run, "replace").values()) == {1}, "no task needed a retry"
    workers = cluster.workers_of_run("dist_gcore_replace", run, "replace")
    assert set(workers) == {"worker-1", "worker-2"}, f"the tasks ran on {workers}"

    counts = []
    for i, project in enumerate(projects):
        writes = gcore_writes(emulator, project)
        counts.append(len(writes))
        assert len(writes) == 1, f"project {project} was written {len(writes)} times"
        assert writes[0].time >= unlocked_at[project], f"project {project} was written while locked"
        assert emulator.gcore_project(project)["name"] == f"fan-{i:03d}-new"
    figures["writes_per_project"] = writes_per_project(counts)
    figures["tasks_per_worker"] = workers
    resumed = cluster.resumed_count("dist_gcore_replace", run, "replace")
    assert resumed >= PROJECTS // 2, f"only {resumed} tasks waited in a triggerer"
    figures["deferred_then_resumed"] = resumed
