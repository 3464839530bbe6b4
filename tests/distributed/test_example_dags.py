"""Scenario 1: every example DAG succeeds on the distributed cluster, serialized and run on a worker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .cluster import Cluster
from .support import gcai_writes, gcore_writes, run_id

pytestmark = pytest.mark.distributed

# Not gcore_project_unlocked: it runs when its AssetWatcher fires, never on `dags trigger` alone,
# and it stays paused on the cluster (DAGs are paused at creation), so its watch never starts there.
EXAMPLES = ("gcai_bulk_instructions", "gcore_wait_for_task", "projects_release_rollout")


# Three runs waited for one after another (240 s each at most), after the DAGs are parsed (120 s).
@pytest.mark.timeout(900, func_only=True)
def test_every_example_dag_succeeds(cluster: Cluster, emulator: Any, figures: dict[str, Any]) -> None:
    cluster.wait_for_dags(list(EXAMPLES))
    emulator.clear_journal()
    # The task gcore_wait_for_task waits for: it ends FINISHED a few seconds in.
    wait_project = emulator.add_gcore_project("example-wait-old")
    task_id = emulator.lock_gcore_project(wait_project, seconds=5)
    rollout_project = emulator.add_gcore_project("example-rollout-old")
    # Its own GC AI project: the bulk DAG writes the seeded ones.
    rollout_gcai = emulator.add_gcai_project("example rollout")
    confs = {
        "gcai_bulk_instructions": {},
        "gcore_wait_for_task": {"gcore_task_id": task_id, "gcore_project_id": wait_project},
        "projects_release_rollout": {"gcore_project_id": rollout_project, "gcai_project_id": rollout_gcai},
    }
    runs = {dag_id: run_id("examples") for dag_id in EXAMPLES}

    def start(dag_id: str) -> None:
        cluster.unpause(dag_id)
        cluster.trigger(dag_id, runs[dag_id], confs[dag_id])

    # Three at once: each CLI call is mostly an Airflow import.
    with ThreadPoolExecutor(len(EXAMPLES)) as pool:
        list(pool.map(start, EXAMPLES))

    for dag_id, run in runs.items():
        assert cluster.wait_for_run(dag_id, run, timeout=240) == "success", cluster.task_states(dag_id, run)

    # What the APIs received: one write per project, and the rollout wrote after its lock cleared.
    assert emulator.gcore_project(wait_project)["name"] == "staging-ready"
    assert len(gcore_writes(emulator, wait_project)) == 1
    assert emulator.gcore_project(rollout_project)["name"] == "analytics-2026.11"
    assert len(gcore_writes(emulator, rollout_project)) == 1
    assert emulator.requests(api="gcore", method="GET", path=f"/cloud/v1/tasks/{task_id}")
    for gcai_project in emulator.gcai_project_ids[:2]:
        assert len(gcai_writes(emulator, gcai_project)) == 1
        assert emulator.gcai_project(gcai_project)["custom_instructions"].startswith("Follow the 2026 drafting policy")
    assert len(gcai_writes(emulator, rollout_gcai)) == 1
    assert "release 2026.11" in emulator.gcai_project(rollout_gcai)["custom_instructions"]
    figures["writes_per_project"] = {"gcore": 1, "gcai (bulk)": 1}
