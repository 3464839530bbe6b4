"""GcoreReplaceProjectOperator in a real ``dag.test()`` run, over real HTTP against the emulator."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger
from projects_emulator import ProjectsEmulator
from projects_emulator.dagtest import DagRunReport

pytestmark = pytest.mark.integration

PID = 2  # seeded as "analytics" / "Dashboards and reports"
PROJECT_PATH = f"/cloud/v1/projects/{PID}"
NEW_NAME = "analytics-renamed"
NEW_DESCRIPTION = "Renamed by Airflow"
LOCK_SECONDS = 2.0


def dag_source(dag_id: str, **operator_kwargs: Any) -> str:
    """A DAG with one GcoreReplaceProjectOperator whose id, name and description are templates."""
    kwargs: dict[str, Any] = {
        "project_id": "{{ params.pid }}",
        "name": "{{ params.name }}",
        "description": "{{ params.description }}",
        "poll_interval": 0.5,
        "lock_timeout": 15,
        **operator_kwargs,
    }
    args = "".join(f"        {key}={value!r},\n" for key, value in kwargs.items())
    return f"""
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator

with DAG(
    dag_id={dag_id!r},
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={{"pid": {PID}, "name": {NEW_NAME!r}, "description": {NEW_DESCRIPTION!r}}},
):
    GcoreReplaceProjectOperator(
        task_id="replace",
{args}    )
"""


#: A warning record as the task log prints it (``... [warning  ] ...``) or as caplog does (``WARNING  ...``).
WARNING_LINE = re.compile(r"^WARNING\s|\[warning\s*\]")


def warning_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if WARNING_LINE.search(line)]


def gcore_calls(emulator: ProjectsEmulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emulator.requests(api="gcore")]


@contextmanager
def short_lock(emulator: ProjectsEmulator, project_id: int, seconds: float) -> Iterator[str]:
    """Lock the project now and end the lock ``seconds`` after the first Gcore request arrives.

    Timing the lock from the operator's first request rather than from its creation keeps the
    test independent of how long ``dag.test()`` takes to reach the task (a cold start takes
    several seconds, longer than the lock).
    """
    lock = emulator.lock_gcore_project(project_id)  # held until finish_task
    stop = threading.Event()

    def release() -> None:
        while not emulator.requests(api="gcore"):
            if stop.wait(0.02):
                return
        stop.wait(seconds)
        if emulator.gcore_task(lock)["state"] not in ("FINISHED", "ERROR"):
            emulator.finish_task(lock)

    releaser = threading.Thread(target=release, name="release-gcore-lock", daemon=True)
    releaser.start()
    try:
        yield lock
    finally:
        stop.set()
        releaser.join(timeout=5)


@pytest.fixture
def trigger_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The serialized kwargs of every GcoreProjectUnlockedTrigger that ran (dag.test runs triggers
    in-process): the replace operator defers on its project's lock."""
    runs: list[dict[str, Any]] = []
    real_run = GcoreProjectUnlockedTrigger.run

    async def recording_run(self: GcoreProjectUnlockedTrigger) -> AsyncIterator[Any]:
        runs.append(self.serialize()[1])
        async for event in real_run(self):
            yield event

    monkeypatch.setattr(GcoreProjectUnlockedTrigger, "run", recording_run)
    return runs


#: A replace's write with the default ``method="PATCH"``: one request, on either edition.
WRITE = [("PATCH", PROJECT_PATH)]


BOTH_EDITIONS = pytest.mark.parametrize("emulator", ["2026-05", "2026-08"], indirect=True)


@BOTH_EDITIONS
def test_unlocked_project_is_replaced_and_the_xcom_is_the_emulator_state(
    emulator: ProjectsEmulator,
    run_dag: Callable[..., DagRunReport],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With default arguments: a read and one write (PATCH, listed by both editions), no warning."""
    report = run_dag(dag_source("gcore_replace_unlocked"), "gcore_replace_unlocked")
    output = "\n".join([*capsys.readouterr(), caplog.text])

    assert report.failures == {}
    project = emulator.gcore_project(PID)
    assert (project["name"], project["description"]) == (NEW_NAME, NEW_DESCRIPTION)
    assert report.xcom("replace") == project
    assert emulator.gcore_project_revision(PID) == 1
    assert gcore_calls(emulator) == [("GET", PROJECT_PATH), *WRITE]
    write = emulator.requests(api="gcore")[-1]
    assert write.status == 200
    assert write.body == {"name": NEW_NAME, "description": NEW_DESCRIPTION}
    assert write.headers["authorization"] == "APIKey <redacted>"
    assert write.headers["content-type"] == "application/json"
    assert write.headers["user-agent"].startswith("airflow-provider-projects/")
    assert "answered 405" not in output  # (a bare "405" turns up in log timestamps)
    assert [entry.status for entry in emulator.requests(api="gcore")] == [200, 200]
    assert warning_lines(output) == []


@BOTH_EDITIONS
@pytest.mark.parametrize(
    ("deferrable", "check_lock"),
    [(False, True), (True, True), (False, False)],
    ids=["blocking-precheck", "deferrable-precheck", "blocking-409"],
)
def test_a_locked_project_is_written_once_the_lock_ends(
    emulator: ProjectsEmulator,
    run_dag: Callable[..., DagRunReport],
    trigger_runs: list[dict[str, Any]],
    deferrable: bool,
    check_lock: bool,
) -> None:
    dag_id = f"gcore_replace_locked_{'deferrable' if deferrable else 'blocking'}_{check_lock}".lower()
    with short_lock(emulator, PID, LOCK_SECONDS) as lock:
        report = run_dag(dag_source(dag_id, check_lock=check_lock), dag_id, deferrable=deferrable)

    assert report.failures == {}
    assert emulator.gcore_task(lock)["state"] == "FINISHED"
    project = emulator.gcore_project(PID)
    assert (project["name"], project["description"], project["task_id"]) == (NEW_NAME, NEW_DESCRIPTION, None)
    assert report.xcom("replace") == project
    assert emulator.gcore_project_revision(PID) == 1

    task_path = f"/cloud/v1/tasks/{lock}"
    seen = gcore_calls(emulator)
    write = WRITE
    if check_lock:  # GET project (locked), GET task..., GET project, the write
        head, polls, tail = seen[:1], seen[1 : -1 - len(write)], seen[-1 - len(write) :]
        assert head == [("GET", PROJECT_PATH)]
        assert tail == [("GET", PROJECT_PATH), *write]
    else:  # the write (409), GET task..., the write again
        head, polls, tail = seen[: len(write)], seen[len(write) : -1], seen[-1:]
        assert head == write
        assert tail == [write[-1]]
    assert len(polls) >= 2, seen
    # Deferred, the triggerer polls the project's lock itself; blocking, the worker polls the holder.
    assert set(polls) == {("GET", PROJECT_PATH if deferrable else task_path)}
    # The accepted write came after the lock's end, and the polls were about poll_interval apart.
    journal = emulator.requests(api="gcore")
    assert journal[-1].time - journal[0].time >= LOCK_SECONDS
    assert len(polls) <= LOCK_SECONDS / 0.5 + 3
    if deferrable:
        assert len(trigger_runs) == 1
        assert (trigger_runs[0]["project_id"], trigger_runs[0]["lock_task_id"]) == (PID, lock)
        assert trigger_runs[0]["read_holder"] is False  # nobody asked for the holder's end state
        assert trigger_runs[0]["gcore_conn_id"] == "gcore_default"
        assert emulator.gcore_key not in repr(trigger_runs)
    else:
        assert trigger_runs == []


def test_auto_falls_back_to_patch_where_put_is_gone_and_remembers_it(
    emulator: ProjectsEmulator,
    run_dag: Callable[..., DagRunReport],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.edition = "2026-08"

    first = run_dag(dag_source("gcore_replace_auto_first", method="auto"), "gcore_replace_auto_first")

    assert first.failures == {}
    project = emulator.gcore_project(PID)
    assert (project["name"], project["description"]) == (NEW_NAME, NEW_DESCRIPTION)
    # The 405 applied nothing, so the same replacement goes by PATCH, once.
    assert gcore_calls(emulator) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    output = "\n".join([*capsys.readouterr(), caplog.text])
    # One warning, naming the URL really sent with the project id filled in (the UI links it).
    [warning] = warning_lines(output)
    assert (
        f"Gcore answered 405 to PUT {emulator.gcore_url}{PROJECT_PATH}: PUT is deprecated (since 2025-12) and "
        "gone from Gcore's current API; sending the same replacement with PATCH, and PATCH first from now on "
        "for connection 'gcore_default' in this process. Leave method at its default ('PATCH') to skip the PUT. "
    ) in warning
    assert emulator.gcore_key not in output

    emulator.clear_journal()
    again = run_dag(
        dag_source("gcore_replace_auto_again", name="analytics-again", method="auto"), "gcore_replace_auto_again"
    )

    assert again.failures == {}
    assert gcore_calls(emulator) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]  # remembered: no second PUT


def test_method_put_never_falls_back_and_its_405_names_the_fix(
    emulator: ProjectsEmulator,
    run_dag: Callable[..., DagRunReport],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.edition = "2026-08"
    before = emulator.gcore_project(PID)

    failed = run_dag(dag_source("gcore_replace_put_only", method="PUT"), "gcore_replace_put_only")

    assert failed.failures == {"replace": "failed"}
    assert emulator.gcore_project(PID) == before
    assert gcore_calls(emulator) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]  # a 405 is not retried
    output = "\n".join([*capsys.readouterr(), caplog.text])
    assert "MethodNotAllowedError" in output
    assert "HTTP 405" in output
    assert "PATCH /cloud/v1/projects/{project_id}" in output
    assert "method='auto'" in output
    assert emulator.gcore_key not in output


def test_method_patch_never_tries_put_and_sends_an_empty_description_not_null(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport]
) -> None:
    report = run_dag(
        dag_source("gcore_replace_patch_only", method="PATCH", description=None), "gcore_replace_patch_only"
    )

    assert report.failures == {}
    assert gcore_calls(emulator) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    assert emulator.requests(api="gcore", method="PATCH")[0].body == {"name": NEW_NAME, "description": ""}
    assert report.xcom("replace") == emulator.gcore_project(PID)


def test_a_409_that_is_not_a_lock_fails_at_once(
    emulator: ProjectsEmulator,
    run_dag: Callable[..., DagRunReport],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # "default" is project 1's name: the emulator answers 409 ConflictError without a lock message.
    report = run_dag(dag_source("gcore_replace_name_taken", name="default"), "gcore_replace_name_taken")

    assert report.failures == {"replace": "failed"}
    # Judged once, from the 409 itself: no holder named, so no extra read and no wait.
    assert gcore_calls(emulator) == [("GET", PROJECT_PATH), *WRITE]
    assert emulator.gcore_project(PID)["name"] == "analytics"
    captured = capsys.readouterr()
    output = "\n".join([captured.out, captured.err, caplog.text])
    assert "ConflictError" in output
    assert "naming no lock holder" in output
    assert "Project with name `default` already exists." in output
