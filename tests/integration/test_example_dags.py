"""The example DAGs parse cleanly and run green end to end against the emulator, each both as a
run with no logical date (``airflow dags trigger``) and as a scheduled run."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from projects_emulator import ProjectsEmulator
from projects_emulator.dagtest import DagRunReport

from .conftest import RUN_KINDS, RunKind

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"


def test_every_example_dag_parses_without_import_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"projects_release_rollout", "gcai_bulk_instructions", "gcore_wait_for_task"}


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
