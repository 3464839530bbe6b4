"""The example DAGs parse cleanly and run green end to end against the emulator, each both as a
run with no logical date (``airflow dags trigger``) and as a scheduled run.

``gcore_project_unlocked`` is scheduled on an asset its watcher feeds: ``dag.test()`` cannot fire
a watcher, so its watch is run here against the emulator, and its task on the event it yields.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_projects.triggers.gcore_events import GcoreProjectUnlockedEventTrigger
from projects_emulator import ProjectsEmulator
from projects_emulator.dagtest import DagRunReport, load_dag

from .conftest import RUN_KINDS, RunKind

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"


def test_every_example_dag_parses_without_import_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {
        "projects_release_rollout",
        "gcai_bulk_instructions",
        "gcore_wait_for_task",
        "gcore_project_unlocked",
    }


@pytest.mark.parametrize("kind", RUN_KINDS)
@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferrable"])
def test_release_rollout_waits_for_the_lock_then_renames_and_instructs(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], deferrable: bool, kind: RunKind
) -> None:
    lock = emulator.lock_gcore_project(2)
    emulator.finish_task(lock)  # ends before the run: the project is readable and unlocked again
    report = run_dag(
        EXAMPLES / "projects_release_rollout.py", "projects_release_rollout", deferrable=deferrable, kind=kind
    )

    assert report.failures == {}
    renamed = report.xcom("rename_gcore_project")
    assert (renamed["id"], renamed["name"]) == (2, "analytics-2026.11")
    assert re.fullmatch(r"Release 2026\.11, loaded \d{4}-\d{2}-\d{2}", renamed["description"])
    assert emulator.gcore_project(2)["name"] == "analytics-2026.11"
    instructed = report.xcom("update_gcai_instructions")
    assert instructed["custom_instructions"].startswith("Answer from release 2026.11 data (1284113 rows)")
    # Only custom_instructions was sent: the description the seed had is untouched.
    patch = emulator.requests(api="gcai", method="PATCH")
    assert [r.body for r in patch] == [{"custom_instructions": instructed["custom_instructions"]}]
    # The connections point at the emulator, not at the vendors' APIs: no console links.
    assert report.xcom("update_gcai_instructions", key="_link_GcaiProjectLink") == ""
    assert report.xcom("rename_gcore_project", key="_link_GcoreProjectLink") == ""


@pytest.mark.parametrize("kind", RUN_KINDS)
def test_bulk_instructions_maps_over_projects(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], kind: RunKind
) -> None:
    ids = list(emulator.gcai_project_ids[:2])
    report = run_dag(
        EXAMPLES / "gcai_bulk_instructions.py", "gcai_bulk_instructions", conf={"project_ids": ids}, kind=kind
    )

    assert report.failures == {}
    assert [report.xcom("refresh_instructions", map_index=i)["id"] for i in range(2)] == ids


@pytest.mark.parametrize("kind", RUN_KINDS)
def test_wait_for_task_follows_a_gcore_task_to_its_end(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], kind: RunKind
) -> None:
    task = emulator.lock_gcore_project(3)
    emulator.finish_task(task)
    report = run_dag(
        EXAMPLES / "gcore_wait_for_task.py",
        "gcore_wait_for_task",
        conf={"gcore_task_id": task, "gcore_project_id": 3},
        kind=kind,
    )

    assert report.failures == {}
    assert report.xcom("wait_for_gcore_task")["state"] == "FINISHED"
    assert report.xcom("report") == f"task {task} FINISHED; project 3 is now 'staging-ready'"


def test_wait_for_task_renames_only_after_the_task_finished(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport]
) -> None:
    """The docstring says "wait for a Gcore task..., then rename": a task ending in ERROR leaves
    the project alone (issue 16, finding 3; the rename used to run beside the wait)."""
    name_before = emulator.gcore_project(3)["name"]
    task = emulator.lock_gcore_project(3)
    emulator.finish_task(task, state="ERROR", error="provisioning failed")
    report = run_dag(
        EXAMPLES / "gcore_wait_for_task.py", "gcore_wait_for_task", conf={"gcore_task_id": task, "gcore_project_id": 3}
    )

    assert report.task_states["wait_for_gcore_task"] == "failed"
    assert report.task_states["mark_project_ready"] == "upstream_failed"
    assert not emulator.requests(api="gcore", path="/cloud/v1/projects/3")
    assert emulator.gcore_project(3)["name"] == name_before


# -- gcore_project_unlocked: scheduled on the asset its watcher feeds --------------------------------

UNLOCKED_DAG = EXAMPLES / "gcore_project_unlocked.py"
#: A bound on the watch below (it needs about a second): a regression fails, never hangs.
WATCH_LIMIT = 30.0


def _watched_asset() -> Any:
    dag = load_dag(UNLOCKED_DAG, "gcore_project_unlocked")
    (asset,) = dag.timetable.asset_condition.objects
    return dag, asset


def test_project_unlocked_is_scheduled_on_the_asset_its_gcore_watch_feeds(emulator: ProjectsEmulator) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    dag, asset = _watched_asset()
    (watcher,) = asset.watchers
    assert isinstance(watcher.trigger, GcoreProjectUnlockedEventTrigger)
    assert (watcher.trigger.project_id, watcher.trigger.gcore_conn_id) == (2, "gcore_default")
    # What the DAG processor stores, and the triggerer rebuilds the watch from: the connection's
    # id only, never its key (the emulator's connection is set in this process's environment).
    serialized = json.dumps(DagSerialization.to_dict(dag))
    assert '"kwargs": {"project_id": 2, "gcore_conn_id": "gcore_default", "poll_interval": 5.0' in serialized
    assert emulator.gcore_key not in serialized
    assert "password" not in serialized


def _lock_reads(emulator: ProjectsEmulator, project_id: int) -> int:
    """Polls of the project's lock: its own GET, or a page of the projects list."""
    paths = {f"/cloud/v1/projects/{project_id}", "/cloud/v1/projects"}
    return sum(entry.path in paths for entry in emulator.requests(api="gcore", method="GET"))


async def _watch_one_unlock_edge(trigger: GcoreProjectUnlockedEventTrigger, emulator: ProjectsEmulator) -> list[Any]:
    """Run the watch over: unlocked at the start, locked, unlocked, then three more polls."""
    events: list[Any] = []

    async def watch() -> None:
        async for event in trigger.run():
            events.append(event.payload)

    async def polls_past(count: int) -> None:
        while _lock_reads(emulator, trigger.project_id) <= count:
            await asyncio.sleep(0.02)

    running = asyncio.create_task(watch())
    try:
        async with asyncio.timeout(WATCH_LIMIT):
            await polls_past(0)  # a first poll found the project unlocked
            lock = emulator.lock_gcore_project(trigger.project_id)
            # Two polls past the lock, not one: a poll answered just before the lock may be
            # journaled just after it; the second one began after the first was answered.
            await polls_past(_lock_reads(emulator, trigger.project_id) + 1)
            emulator.finish_task(lock)
            while not events:
                await asyncio.sleep(0.02)
            await polls_past(_lock_reads(emulator, trigger.project_id) + 2)  # still unlocked
    finally:
        running.cancel()
    return events


def test_project_unlocked_watch_fires_once_per_unlock_edge_and_its_task_reports_it(
    emulator: ProjectsEmulator,
) -> None:
    dag, asset = _watched_asset()
    (watcher,) = asset.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "airflow_provider_projects.triggers.gcore_events.GcoreProjectUnlockedEventTrigger"
    # The DAG's own watch, rebuilt as the triggerer does, polling faster so the test takes a second.
    trigger = GcoreProjectUnlockedEventTrigger(**{**kwargs, "poll_interval": 0.1})

    events = asyncio.run(_watch_one_unlock_edge(trigger, emulator))

    # Nothing at the start (the project was unlocked), one event for the edge, none after it.
    assert len(events) == 1, events
    (payload,) = events
    assert (payload["status"], payload["project_id"], payload["project"]["task_id"]) == ("unlocked", 2, None)
    assert payload["lock_task"]["state"] == "FINISHED"
    # The task, on the asset event that payload becomes (Airflow puts it in the event's extra).
    report = dag.get_task("report_unlock").python_callable
    lines = report(triggering_asset_events={asset: [SimpleNamespace(extra={"payload": payload})]})
    name = emulator.gcore_project(2)["name"]
    assert lines == [f"project 2 ({name!r}) is unlocked; task {payload['lock_task']['id']} ended FINISHED"]
