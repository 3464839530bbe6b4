"""Both Gcore sensors end to end in ``dag.test()``: poke and deferrable, against the emulator.

Each lock is real and short: the emulator's task holds it until the sensor has polled it a few
times (about a second at ``poke_interval=0.5``), then ends. Whether a request came from the
worker (``requests``) or from the trigger (``aiohttp``) is told by the order of its headers.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import airflow
import pytest
from packaging.version import Version

from airflow_provider_projects.triggers import gcore as gcore_triggers
from projects_emulator import ProjectsEmulator, RecordedRequest
from projects_emulator.dagtest import DagRunReport

pytestmark = pytest.mark.integration


#: Behaviour these tests pin that Airflow 3.2 does not have (see each skip's reason).
BEFORE_AIRFLOW_3_3 = Version(airflow.__version__).release < (3, 3)

POLLS_WHILE_LOCKED = 3
POKE_INTERVAL = 0.5

DAG_SOURCE = """
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor, GcoreTaskSensor

with DAG(dag_id={dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         params={{"project_id": 2, "task_id": "00000000-0000-4000-8000-000000000000"}}):
    GcoreProjectUnlockedSensor(task_id="wait_unlocked", project_id="{{{{ params.project_id }}}}",
                               poke_interval={poke}, timeout=60, mode={mode!r})
    GcoreTaskSensor(task_id="wait_task", gcore_task_id="{{{{ params.task_id }}}}", poke_interval={poke}, timeout=60)
"""


def transport(entry: RecordedRequest) -> str:
    """``requests`` sends User-Agent before Authorization; aiohttp sends Authorization first, User-Agent after it."""
    names = list(entry.headers)
    return "requests" if names.index("user-agent") < names.index("authorization") else "aiohttp"


@contextmanager
def released_after_polls(
    emulator: ProjectsEmulator, path: str, task_id: str, *, state: str = "FINISHED", error: str | None = None
) -> Iterator[None]:
    """End ``task_id`` once ``path`` was read POLLS_WHILE_LOCKED times (at the latest after 30 s)."""
    done = threading.Event()

    def release() -> None:
        give_up = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < give_up:
            if len(emulator.requests(api="gcore", method="GET", path=path)) >= POLLS_WHILE_LOCKED:
                break
            time.sleep(0.02)
        emulator.finish_task(task_id, state=state, error=error)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


@pytest.fixture
def trigger_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the Gcore triggers whose ``run()`` started (dag.test runs triggers in this process)."""
    started: list[str] = []
    for cls in (gcore_triggers.GcoreProjectUnlockedTrigger, gcore_triggers.GcoreTaskTrigger):
        original = cls.run

        def spy(self: Any, _original: Any = original) -> Any:
            started.append(type(self).__name__)
            return _original(self)

        monkeypatch.setattr(cls, "run", spy)
    return started


def run_sensors(
    emulator: ProjectsEmulator,
    run_dag: Callable[..., DagRunReport],
    *,
    deferrable: bool,
    outcome: str = "FINISHED",
    error: str | None = None,
    mode: str = "poke",
) -> tuple[DagRunReport, str, str]:
    project_lock = emulator.lock_gcore_project(2)  # held until released below
    other_task = emulator.lock_gcore_project(3)
    dag_id = f"gcore_sensors_{'deferrable' if deferrable else mode}_{outcome.lower()}"
    with (
        released_after_polls(emulator, "/cloud/v1/projects/2", project_lock, state=outcome, error=error),
        released_after_polls(emulator, f"/cloud/v1/tasks/{other_task}", other_task, state=outcome, error=error),
    ):
        report = run_dag(
            DAG_SOURCE.format(dag_id=dag_id, poke=POKE_INTERVAL, mode=mode),
            dag_id,
            conf={"project_id": 2, "task_id": other_task},
            deferrable=deferrable,
        )
    return report, project_lock, other_task


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_both_sensors_wait_for_real_locks_to_clear(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], trigger_runs: list[str], deferrable: bool
) -> None:
    report, project_lock, other_task = run_sensors(emulator, run_dag, deferrable=deferrable)

    assert report.state == "success", report.task_states
    assert report.failures == {}
    unlocked = report.xcom("wait_unlocked")
    assert (unlocked["id"], unlocked["task_id"]) == (2, None)
    lock_task = report.xcom("wait_unlocked", key="lock_task")
    assert (lock_task["id"], lock_task["state"]) == (project_lock, "FINISHED")
    finished = report.xcom("wait_task")
    assert (finished["id"], finished["state"]) == (other_task, "FINISHED")

    polls = emulator.requests(api="gcore", method="GET", path="/cloud/v1/projects/2")
    assert len(polls) == POLLS_WHILE_LOCKED + 1  # three while locked, one that found it unlocked
    # Polls are poke_interval apart, also from the worker's poke to the trigger's first poll.
    gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(polls)]
    assert min(gaps) >= POKE_INTERVAL * 0.9
    if deferrable:
        # One poke on the worker, then the trigger polls through the async transport.
        assert [transport(p) for p in polls] == ["requests"] + ["aiohttp"] * POLLS_WHILE_LOCKED
        assert sorted(trigger_runs) == ["GcoreProjectUnlockedTrigger", "GcoreTaskTrigger"]
    else:
        assert {transport(p) for p in polls} == {"requests"}
        assert trigger_runs == []


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_tasks_ending_in_error_fail_the_task_sensor_and_show_in_the_lock_task_xcom(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], deferrable: bool
) -> None:
    report, project_lock, _ = run_sensors(
        emulator, run_dag, deferrable=deferrable, outcome="ERROR", error="Quota exceeded for region 76"
    )

    assert report.task_states == {"wait_unlocked": "success", "wait_task": "failed"}
    lock_task = report.xcom("wait_unlocked", key="lock_task")
    assert (lock_task["id"], lock_task["state"], lock_task["error"]) == (
        project_lock,
        "ERROR",
        "Quota exceeded for region 76",
    )
    assert report.xcom("wait_unlocked")["task_id"] is None


@pytest.mark.skipif(
    BEFORE_AIRFLOW_3_3,
    reason="Airflow 3.2 has no task state store: a reschedule forgets the lock holder",
)
def test_reschedule_mode_reports_the_lock_holder_seen_by_an_earlier_poke(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport]
) -> None:
    # Each poke runs in a fresh sensor; the lock holder seen while locked comes back from the task state store.
    report, project_lock, _ = run_sensors(
        emulator, run_dag, deferrable=False, mode="reschedule", outcome="ERROR", error="Quota exceeded for region 76"
    )
    assert report.task_states["wait_unlocked"] == "success"
    lock_task = report.xcom("wait_unlocked", key="lock_task")
    assert (lock_task["id"], lock_task["state"]) == (project_lock, "ERROR")
