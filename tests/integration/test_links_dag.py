"""Extra links in real ``dag.test()`` runs: no "XCom not found" error when a task defers or fails,
and no console link for a project on a host that is not the vendor's API (issue 16, findings 2 and 6b).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from projects_emulator import ProjectsEmulator
from projects_emulator.dagtest import DagRunReport

pytestmark = pytest.mark.integration

SOURCE = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator

with DAG(dag_id={dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), params={{"pid": 2}}):
    GcoreReplaceProjectOperator(
        task_id="replace", project_id="{{{{ params.pid }}}}", name="renamed-by-links-test", poll_interval=0.2
    )
"""


def project_reads(emulator: ProjectsEmulator) -> int:
    return len(emulator.requests(api="gcore", method="GET", path="/cloud/v1/projects/2"))


def release_when_polled(emulator: ProjectsEmulator, lock: str) -> threading.Thread:
    """End the lock once the trigger has polled the project (the worker's read is the first GET):
    the operator has deferred by then."""

    def release() -> None:
        for _ in range(3000):
            if project_reads(emulator) >= 2:
                emulator.finish_task(lock)
                return
            threading.Event().wait(0.01)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


def test_a_deferred_then_successful_task_logs_no_error(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], capfd: pytest.CaptureFixture[str]
) -> None:
    lock = emulator.lock_gcore_project(2)
    releaser = release_when_polled(emulator, lock)
    report = run_dag(SOURCE.format(dag_id="links_deferred"), "links_deferred", deferrable=True)
    releaser.join(timeout=5)

    output = capfd.readouterr()
    assert report.failures == {}
    assert project_reads(emulator) >= 2, "it never deferred"
    assert "XCom not found" not in output.out + output.err
    # The connection points at the emulator: no link to a console where project 2 does not exist.
    assert report.xcom("replace", key="_link_GcoreProjectLink") == ""


def test_a_failed_task_logs_only_its_own_error(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], capfd: pytest.CaptureFixture[str]
) -> None:
    report = run_dag(SOURCE.format(dag_id="links_failed"), "links_failed", conf={"pid": 999})

    output = capfd.readouterr()
    assert report.failures == {"replace": "failed"}
    assert "NotFoundError" in output.out + output.err
    assert "XCom not found" not in output.out + output.err
