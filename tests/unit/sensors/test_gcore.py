"""The Gcore sensors: poke (the sync HTTP core over the scripted API), reschedule, deferral, and the event.

The context is a small fake (``ti.xcom_push`` and, for reschedule mode, the task state store), so
no Airflow database is needed. Time is the virtual clock; poke mode's own sleeps between pokes
(``BaseSensorOperator`` calls ``time.sleep``) are recorded instead of slept.
"""

from __future__ import annotations

import json
import types
import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.bases import sensor as sensor_module
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
from fakes import START, FakeApi, Reply, VirtualClock, ok, run_virtual
from fakes import FakeStore as FakeTaskStateStore
from structlog.testing import capture_logs

from airflow_provider_projects import defaults
from airflow_provider_projects.errors import (
    AuthenticationError,
    GcoreTaskFailedError,
    NotFoundError,
    ServerError,
)
from airflow_provider_projects.models.gcore import GcoreProject, GcoreProjectLock, GcoreTask
from airflow_provider_projects.sensors._base import STATE_KEY
from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor, GcoreTaskSensor
from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger, GcoreTaskTrigger
from airflow_provider_projects.waiting import WaitOutcome

BASE = "https://gcore.test"
API_KEY = "gcore-SECRET-sensor-key-51d2"
CONN = "gcore_sense"
PROJECT = 2
TASK_A = "7244e161-664c-4afd-a34e-7003eac4d949"
PROJECT_PATH = f"/cloud/v1/projects/{PROJECT}"
TASK_PATH = f"/cloud/v1/tasks/{TASK_A}"


def project(task_id: str | None = None) -> dict[str, Any]:
    return {
        "id": PROJECT,
        "client_id": 1,
        "name": "analytics",
        "description": None,
        "created_at": "2026-01-01T00:00:00+0000",
        "deleted_at": None,
        "is_default": False,
        "state": "ACTIVE",
        "task_id": task_id,
    }


def task(state: str, error: str | None = None) -> dict[str, Any]:
    return {
        "id": TASK_A,
        "user_id": 1001,
        "task_type": "update_project",
        "state": state,
        "created_on": "2026-05-01T12:00:00",
        "error": error,
        "finished_on": None,
        "project_id": PROJECT,
    }


def fail(status: int) -> Reply:
    return Reply(status, {"exception_class": "Error", "message": f"scripted {status}", "request_id": "r"})


class FakeTI:
    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def context(ti: FakeTI | None = None, store: FakeTaskStateStore | None = None) -> Any:
    ctx: dict[str, Any] = {"ti": ti or FakeTI()}
    if store is not None:
        ctx["task_state_store"] = store
    return ctx


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "gcore", "host": BASE, "password": API_KEY, "extra": {"max_retries": 0}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps(conn))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch, clock: VirtualClock) -> Iterator[list[float]]:
    """Poke mode's sleeps between pokes, recorded (and added to the virtual clock) instead of slept."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(sensor_module, "time", types.SimpleNamespace(monotonic=clock.time, sleep=sleep))
    yield slept


def project_sensor(**kwargs: Any) -> GcoreProjectUnlockedSensor:
    kwargs.setdefault("deferrable", False)
    return GcoreProjectUnlockedSensor(
        task_id="wait_unlocked", project_id=PROJECT, gcore_conn_id=CONN, **{"poke_interval": 5, **kwargs}
    )


def task_sensor(**kwargs: Any) -> GcoreTaskSensor:
    kwargs.setdefault("deferrable", False)
    return GcoreTaskSensor(task_id="wait_task", gcore_task_id=TASK_A, gcore_conn_id=CONN, poke_interval=5, **kwargs)


def lock_event(status: str = "done", holder: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A project trigger's event, as the triggerer hands it to ``execute_complete`` (JSON)."""
    value = GcoreProjectLock(
        project=GcoreProject.model_validate(project(None)),
        holder=GcoreTask.model_validate(holder) if holder is not None else None,
    )
    outcome = WaitOutcome(status, value=value if status == "done" else None, **fields)  # type: ignore[arg-type]
    return json.loads(json.dumps({**outcome.to_event(), "deadline": START + 600}))


def task_event(body: dict[str, Any]) -> dict[str, Any]:
    outcome = WaitOutcome("done", value=GcoreTask.model_validate(body), polls=2, waited=5.0)
    return json.loads(json.dumps({**outcome.to_event(), "deadline": START + 600}))


# -- poke mode ---------------------------------------------------------------------------------------


def test_poke_locked_then_unlocked_returns_the_project(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_PATH, ok(task("FINISHED")))
    sensor, ti = project_sensor(), FakeTI()

    assert sensor.poke(context(ti)) is False
    done = sensor.poke(context(ti))

    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    assert done.xcom_value == project(None)
    assert ti.xcoms["lock_task"]["state"] == "FINISHED"
    assert [r.path for r in api.requests] == [PROJECT_PATH, PROJECT_PATH, TASK_PATH]
    assert api.requests[0].headers["Authorization"] == f"APIKey {API_KEY}"


def test_poke_mode_execute_sleeps_the_interval_and_returns_the_project(
    clock: VirtualClock, api: FakeApi, sleeps: list[float]
) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_PATH, ok(task("FINISHED")))
    result = project_sensor().execute(context())
    assert result == project(None)
    assert sleeps == [5.0, 5.0]
    assert len(api.requests) == 4


def test_unlocked_project_pushes_no_lock_task(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    ti = FakeTI()
    done = project_sensor().poke(context(ti))
    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    assert ti.xcoms == {}
    assert len(api.requests) == 1


def test_lock_task_in_error_is_logged_and_pushed_to_xcom(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_PATH, ok(task("ERROR", error="Quota exceeded for region 76")))
    sensor, ti = project_sensor(), FakeTI()
    sensor.poke(context(ti))
    with capture_logs() as logs:
        done = sensor.poke(context(ti))

    assert isinstance(done, PokeReturnValue)
    assert done.xcom_value == project(None)
    assert ti.xcoms["lock_task"]["error"] == "Quota exceeded for region 76"
    warnings = [entry["event"] for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "ended in ERROR: Quota exceeded for region 76" in warnings[0]
    assert TASK_A in warnings[0]


def test_fail_on_lock_error_fails_with_the_task_error(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_PATH, ok(task("ERROR", error="Quota exceeded for region 76")))
    sensor, ti = project_sensor(fail_on_lock_error=True), FakeTI()
    sensor.poke(context(ti))
    with pytest.raises(GcoreTaskFailedError) as failed:
        sensor.poke(context(ti))
    assert failed.value.task_error == "Quota exceeded for region 76"
    assert failed.value.task_id == TASK_A
    assert "Quota exceeded for region 76" in str(failed.value)
    assert ti.xcoms["lock_task"]["state"] == "ERROR"  # still visible in XCom


def test_task_sensor_finished_returns_the_task(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_PATH, ok(task("RUNNING")), ok(task("FINISHED")))
    sensor = task_sensor()
    assert sensor.poke(context()) is False
    done = sensor.poke(context())
    assert isinstance(done, PokeReturnValue)
    finished: Any = done.xcom_value
    assert (finished["state"], finished["id"]) == ("FINISHED", TASK_A)


def test_task_sensor_error_fails_with_the_tasks_error_text(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_PATH, ok(task("RUNNING")), ok(task("ERROR", error="Volume is in use")))
    sensor = task_sensor()
    assert sensor.poke(context()) is False
    with pytest.raises(GcoreTaskFailedError) as failed:
        sensor.poke(context())
    assert failed.value.task_error == "Volume is in use"
    assert "Volume is in use" in str(failed.value)


def test_transient_503_is_tolerated_in_poke_mode(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, fail(503), fail(503), ok(project(None)))
    sensor = project_sensor(max_consecutive_errors=2)
    assert sensor.poke(context()) is False
    assert sensor.poke(context()) is False
    assert sensor.tolerance.failures == 2
    assert isinstance(sensor.poke(context()), PokeReturnValue)
    assert sensor.tolerance.failures == 0


def test_one_503_more_than_tolerated_fails_the_poke(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, fail(503))
    sensor = project_sensor(max_consecutive_errors=2)
    sensor.poke(context())
    sensor.poke(context())
    with pytest.raises(ServerError) as failed:
        sensor.poke(context())
    assert f"3 failed polls in a row while waiting for the lock on Gcore project {PROJECT}" in str(failed.value)
    assert len(api.requests) == 3


@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationError), (404, NotFoundError)])
def test_401_and_404_fail_the_first_poke(
    clock: VirtualClock, api: FakeApi, status: int, error: type[Exception]
) -> None:
    api.on("GET", PROJECT_PATH, fail(status))
    with pytest.raises(error):
        project_sensor(max_consecutive_errors=5).poke(context())
    assert len(api.requests) == 1


def test_the_defaults_come_from_defaults() -> None:
    sensor = GcoreTaskSensor(task_id="wait_task", gcore_task_id=TASK_A, deferrable=False)
    assert (sensor.poke_interval, sensor.timeout, sensor.max_consecutive_errors) == (
        defaults.POLL_INTERVAL,
        defaults.SENSOR_TIMEOUT,
        defaults.MAX_CONSECUTIVE_ERRORS,
    )


# -- reschedule mode: every poke is a fresh sensor ---------------------------------------------------


def test_reschedule_mode_keeps_the_lock_holder_between_pokes(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_PATH, ok(task("ERROR", error="boom")))
    store = FakeTaskStateStore()

    assert project_sensor(mode="reschedule").poke(context(store=store)) is False
    assert store.values[STATE_KEY] == {"try_number": 1, "value": {"failed_polls": 0, "lock_task_id": TASK_A}}
    ti = FakeTI()
    with capture_logs() as logs:
        done = project_sensor(mode="reschedule").poke(context(ti, store))  # a new sensor, as after a reschedule

    assert isinstance(done, PokeReturnValue)
    assert ti.xcoms["lock_task"]["error"] == "boom"
    assert any("ended in ERROR: boom" in entry["event"] for entry in logs)
    assert STATE_KEY not in store.values  # cleared once the wait is over


def test_reschedule_mode_counts_failed_polls_across_pokes(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, fail(503))
    store = FakeTaskStateStore()
    assert project_sensor(mode="reschedule", max_consecutive_errors=1).poke(context(store=store)) is False
    with pytest.raises(ServerError):
        project_sensor(mode="reschedule", max_consecutive_errors=1).poke(context(store=store))


def test_reschedule_state_of_an_earlier_try_is_ignored(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, fail(503))
    store = FakeTaskStateStore()
    project_sensor(mode="reschedule", max_consecutive_errors=1).poke(context(FakeTI(try_number=1), store))
    # A retry (try 2) starts counting afresh instead of failing on its first transient error.
    assert (
        project_sensor(mode="reschedule", max_consecutive_errors=1).poke(context(FakeTI(try_number=2), store)) is False
    )
    assert store.values[STATE_KEY]["try_number"] == 2


def test_reschedule_mode_without_a_state_store_still_waits(clock: VirtualClock, api: FakeApi) -> None:
    # Airflow 3.2 has no task state store: every poke starts afresh, and nothing fails for it.
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    assert project_sensor(mode="reschedule").poke(context()) is False
    ti = FakeTI()
    done = project_sensor(mode="reschedule").poke(context(ti))
    assert isinstance(done, PokeReturnValue) and done.xcom_value == project(None)
    assert ti.xcoms == {}  # the holder was not remembered, so not read


# -- deferrable --------------------------------------------------------------------------------------


def test_deferrable_pokes_once_then_defers_to_the_project_trigger(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)))
    sensor = project_sensor(deferrable=True, timeout=600, max_consecutive_errors=3)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context())

    assert len(api.requests) == 1
    trigger = deferred.value.trigger
    assert isinstance(trigger, GcoreProjectUnlockedTrigger)
    assert (trigger.project_id, trigger.lock_task_id, trigger.gcore_conn_id) == (PROJECT, TASK_A, CONN)
    assert (trigger.poll_interval, trigger.max_consecutive_errors, trigger.failed_polls) == (5.0, 3, 0)
    assert trigger.deadline == START + 600
    # The worker's poke was this interval's poll: the trigger polls one interval later.
    assert trigger.first_poll_at == START + 5
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=600 + defaults.DEFER_MARGIN)


def test_deferrable_task_sensor_defers_to_the_task_trigger(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_PATH, ok(task("RUNNING")))
    with pytest.raises(TaskDeferred) as deferred:
        task_sensor(deferrable=True, timeout=60).execute(context())
    assert len(api.requests) == 1
    trigger = deferred.value.trigger
    assert isinstance(trigger, GcoreTaskTrigger)
    assert (trigger.gcore_task_id, trigger.deadline, trigger.first_poll_at) == (TASK_A, START + 60, START + 5)


def test_deferrable_with_the_project_unlocked_on_the_first_poke_does_not_defer(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    assert project_sensor(deferrable=True).execute(context()) == project(None)
    assert len(api.requests) == 1


def test_deferrable_task_sensor_with_a_task_already_in_error_fails_without_deferring(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", TASK_PATH, ok(task("ERROR", error="boom")))
    with pytest.raises(GcoreTaskFailedError, match="boom"):
        task_sensor(deferrable=True).execute(context())


def test_deferrable_sensor_defers_after_a_transient_first_poke_and_hands_the_failure_over(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", PROJECT_PATH, fail(503))
    with pytest.raises(TaskDeferred) as deferred:
        project_sensor(deferrable=True).execute(context())
    trigger = deferred.value.trigger
    assert (trigger.lock_task_id, trigger.failed_polls) == (None, 1)


def test_a_deferred_sensor_resumes_with_what_its_trigger_found(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_PATH, ok(task("ERROR", error="boom")))
    sensor, ti = project_sensor(deferrable=True, timeout=600), FakeTI()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context(ti))

    async def triggerer() -> dict[str, Any]:
        [event] = [e.payload async for e in deferred.value.trigger.run()]
        return json.loads(json.dumps(event))

    event = run_virtual(clock, triggerer())
    assert clock.now == START + 10  # polls at +5 (first_poll_at) and +10
    assert api.sent("GET", TASK_PATH) == []  # the triggerer does not read the holder for the sensor...
    assert sensor.execute_complete(context(ti), event) == project(None)
    assert ti.xcoms["lock_task"]["error"] == "boom"
    assert len(api.sent("GET", TASK_PATH)) == 1  # ...the resumed sensor does, once


def test_the_sensor_defers_without_asking_the_triggerer_for_the_holder(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)))
    with pytest.raises(TaskDeferred) as deferred:
        project_sensor(deferrable=True).execute(context())
    assert deferred.value.trigger.read_holder is False


def test_a_resumed_sensor_reads_the_holder_its_event_names(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_PATH, ok(task("FINISHED")))
    ti = FakeTI()
    event = {**lock_event(), "lock_task_id": TASK_A}
    assert project_sensor(deferrable=True).execute_complete(context(ti), event) == project(None)
    assert ti.xcoms["lock_task"]["state"] == "FINISHED"
    assert len(api.sent("GET", TASK_PATH)) == 1


def test_a_holder_already_in_the_event_is_not_read_again(clock: VirtualClock, api: FakeApi) -> None:
    """An event of a trigger deferred by an earlier version, which read the holder itself."""
    ti = FakeTI()
    event = {**lock_event(holder=task("ERROR", error="boom")), "lock_task_id": TASK_A}
    assert project_sensor(deferrable=True).execute_complete(context(ti), event) == project(None)
    assert ti.xcoms["lock_task"]["error"] == "boom"
    assert api.requests == []


def test_a_holder_that_cannot_be_read_on_resuming_leaves_no_lock_task(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_PATH, fail(404))
    ti = FakeTI()
    event = {**lock_event(), "lock_task_id": TASK_A}
    with capture_logs() as logs:
        done = project_sensor(deferrable=True, fail_on_lock_error=True).execute_complete(context(ti), event)
    assert done == project(None)
    assert "lock_task" not in ti.xcoms
    # Not "ended": a task Gcore no longer knows tells nothing of how it ended.
    assert [(entry["log_level"], entry["event"]) for entry in logs] == [
        (
            "warning",
            f"Gcore task {TASK_A}, which held the lock, could not be found (HTTP 404): how it ended is unknown",
        ),
        ("info", f"Gcore project {PROJECT} is unlocked"),
    ]


# -- execute_complete: the trigger's event -----------------------------------------------------------


def test_execute_complete_done_returns_the_project_and_pushes_the_lock_task() -> None:
    ti = FakeTI()
    event = lock_event(holder=task("FINISHED"), polls=3, waited=20.0)
    assert project_sensor(deferrable=True).execute_complete(context(ti), event) == project(None)
    assert ti.xcoms["lock_task"]["state"] == "FINISHED"


def test_execute_complete_lock_task_error_with_fail_on_lock_error() -> None:
    event = lock_event(holder=task("ERROR", error="boom"))
    with pytest.raises(GcoreTaskFailedError, match="boom"):
        project_sensor(deferrable=True, fail_on_lock_error=True).execute_complete(context(), event)


def test_execute_complete_timeout_raises_sensor_timeout_with_the_last_lock_seen() -> None:
    last = GcoreProjectLock(
        project=GcoreProject.model_validate(project(TASK_A)), holder=GcoreTask.model_validate(task("RUNNING"))
    )
    event = lock_event("timeout", polls=4, last_seen=last, waited=30.0)
    with pytest.raises(AirflowSensorTimeout) as raised:
        project_sensor(deferrable=True, timeout=30).execute_complete(context(), event)
    assert str(raised.value) == (
        f"wait_unlocked: the lock on Gcore project {PROJECT} did not end within timeout 30 s (4 polls); "
        f"last seen: locked by task {TASK_A} (update_project) is RUNNING"
    )


def test_execute_complete_timeout_with_soft_fail_skips() -> None:
    with pytest.raises(AirflowSkipException, match=r"did not end within timeout 7200 s \(4 polls\)$"):
        project_sensor(deferrable=True, soft_fail=True).execute_complete(context(), lock_event("timeout", polls=4))


def test_execute_complete_error_raises_the_typed_error() -> None:
    error = NotFoundError("Gcore Cloud GET /cloud/v1/projects/2 failed: HTTP 404", status=404)
    event = json.loads(json.dumps(WaitOutcome("error", error=error).to_event()))
    with pytest.raises(NotFoundError) as raised:
        project_sensor(deferrable=True).execute_complete(context(), event)
    assert raised.value.status == 404
    assert "HTTP 404" in str(raised.value)


def test_execute_complete_with_an_unreadable_event_fails_saying_so() -> None:
    with pytest.raises(Exception, match="the wait ended with an unreadable event"):
        project_sensor(deferrable=True).execute_complete(context(), {"status": "success", "project": project()})


def test_task_sensor_execute_complete_error_state_fails_with_the_error_text() -> None:
    with pytest.raises(GcoreTaskFailedError) as failed:
        task_sensor(deferrable=True).execute_complete(context(), task_event(task("ERROR", error="Volume is in use")))
    assert failed.value.task_error == "Volume is in use"


def test_task_sensor_execute_complete_finished_returns_the_task() -> None:
    assert task_sensor(deferrable=True).execute_complete(context(), task_event(task("FINISHED")))["state"] == "FINISHED"


def test_a_poke_mode_wait_of_a_minute_pokes_every_interval(
    clock: VirtualClock, api: FakeApi, sleeps: list[float]
) -> None:
    api.on("GET", PROJECT_PATH, *(ok(project(TASK_A)) for _ in range(12)), ok(project(None)))
    api.on("GET", TASK_PATH, ok(task("FINISHED")))
    assert project_sensor().execute(context()) == project(None)
    assert (sum(sleeps), clock.now) == (60.0, START + 60)


# -- what mutation testing found unpinned (issue 19) ------------------------------------------------


@pytest.mark.parametrize("stored", [5, ["x"], {"id": TASK_A}])
def test_a_stored_lock_holder_that_is_not_a_task_id_is_ignored(stored: Any, clock: VirtualClock, api: FakeApi) -> None:
    # A state written by another version (or by hand) must not become a GET of a nonsense task.
    api.on("GET", PROJECT_PATH, ok(project(None)))
    store = FakeTaskStateStore()
    store.values[STATE_KEY] = {"try_number": 1, "value": {"failed_polls": 0, "lock_task_id": stored}}
    with capture_logs() as logs:
        done = project_sensor(mode="reschedule").poke(context(store=store))
    assert isinstance(done, PokeReturnValue)
    assert [request.path for request in api.requests] == [PROJECT_PATH]  # no holder to read
    assert info_lines(logs, "warning") == []  # nor a warning about one that cannot be read


def test_a_sensor_reads_its_connection_once_for_all_its_pokes(
    clock: VirtualClock, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import BaseHook

    real = BaseHook.get_connection.__func__  # type: ignore[attr-defined]
    reads: list[str] = []

    def counted(cls: Any, conn_id: str) -> Any:
        reads.append(conn_id)
        return real(cls, conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(counted))
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_PATH, ok(task("FINISHED")))
    sensor = project_sensor()
    ctx = context()
    assert sensor.poke(ctx) is False
    assert sensor.poke(ctx) is False
    assert isinstance(sensor.poke(ctx), PokeReturnValue)
    assert reads == [CONN]


# -- apache/airflow#71172: reschedule pokes under 15 s ------------------------------------------------


def test_the_reschedule_warning_names_the_dag_files_line() -> None:
    with pytest.warns(UserWarning) as caught:
        GcoreProjectUnlockedSensor(task_id="wait_unlocked", project_id=PROJECT, mode="reschedule", poke_interval=14.9)
    # The DAG file that built the sensor, not Airflow or this package (under mutmut its trampoline
    # frame stands in between: scripts/mutate-modules.txt deselects this test there).
    assert caught[0].filename == __file__


def test_the_reschedule_warning_is_shown_once_per_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(2):
            project_sensor(mode="reschedule", poke_interval=5)
    assert len(caught) == 1


def test_the_reschedule_warning_obeys_a_filter_on_the_dag_module() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=UserWarning, module=__name__)
        project_sensor(mode="reschedule", poke_interval=5)
    assert caught == []


def test_reschedule_under_15_s_warns_when_the_dag_is_parsed() -> None:
    with pytest.warns(UserWarning) as caught:
        project_sensor(mode="reschedule", poke_interval=14.9)

    assert [str(warning.message) for warning in caught] == [
        "Task 'wait_unlocked': mode='reschedule' with poke_interval 14.9 s can be marked FAILED at random by "
        "Airflow's scheduler (apache/airflow#71172, open in Airflow 3.3.2). Use a poke_interval of 15 s or more, "
        "or deferrable=True."
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "reschedule", "poke_interval": 15},
        {"mode": "reschedule", "poke_interval": timedelta(seconds=15)},
        {"mode": "poke", "poke_interval": 5},
        {"mode": "reschedule", "poke_interval": 5, "deferrable": True},
    ],
    ids=["reschedule-15s", "reschedule-timedelta-15s", "poke-5s", "deferrable"],
)
def test_no_warning_where_the_bug_does_not_bite(kwargs: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GcoreTaskSensor(task_id="wait_task", gcore_task_id=TASK_A, gcore_conn_id=CONN, **kwargs)


# -- the sensor base's defaults, lines and state reads --------------------------------------------


def test_the_default_connection_and_the_airflow_default_for_deferrable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    sensor = GcoreTaskSensor(task_id="wait_task", gcore_task_id=TASK_A)
    assert (sensor.gcore_conn_id, sensor.deferrable) == ("gcore_default", True)


def test_deferring_says_what_is_polled_and_how_often(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)))
    with capture_logs() as logs, pytest.raises(TaskDeferred):
        project_sensor(deferrable=True).execute(context())
    said = [e["event"] % e.get("positional_args", ()) for e in logs if e.get("log_level") == "info"]
    assert f"Deferring: the lock on Gcore project {PROJECT} will be polled every 5 s from the triggerer" in said


class CountingStore(FakeTaskStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.reads += 1
        return super().get(key, default)


def test_poke_mode_never_reads_the_state_store(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(TASK_A)))
    store = CountingStore()
    sensor = project_sensor(mode="poke")
    sensor.poke(context(store=store))
    sensor.poke(context(store=store))
    assert store.reads == 0


def test_a_reschedule_sensor_reads_the_state_store_once(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(TASK_A)))
    store = CountingStore()
    sensor = project_sensor(mode="reschedule", poke_interval=15)
    sensor.poke(context(store=store))
    sensor.poke(context(store=store))
    assert store.reads == 1


# -- the sensors' own lines and errors, read exactly ----------------------------------------------


def info_lines(logs: list[dict[str, Any]], level: str = "info") -> list[str]:
    return [e["event"] % e.get("positional_args", ()) for e in logs if e.get("log_level") == level]


def test_a_lock_is_said_once_per_holder_and_an_error_holder_warned_of(clock: VirtualClock, api: FakeApi) -> None:
    other = {**project("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")}
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(TASK_A)), ok(other), ok(project(None)))
    api.on(
        "GET",
        "/cloud/v1/tasks/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        ok({**task("ERROR", "boom"), "id": other["task_id"]}),
    )
    sensor = project_sensor()
    with capture_logs() as logs:
        while not isinstance(sensor.poke(context()), PokeReturnValue):
            pass
    assert [line for line in info_lines(logs) if "is locked by" in line] == [
        f"Gcore project {PROJECT} is locked by task {TASK_A}",
        f"Gcore project {PROJECT} is locked by task {other['task_id']}",
    ]
    assert info_lines(logs, "warning") == [
        f"Gcore project {PROJECT} is unlocked, but the task that held the lock (update_project "
        f"{other['task_id']}) ended in ERROR: boom"
    ]


def test_the_task_sensor_says_each_state_and_the_end(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_PATH, ok(task("RUNNING")), ok(task("FINISHED")))
    sensor = task_sensor()
    with capture_logs() as logs:
        assert sensor.poke(context()) is False
        assert isinstance(sensor.poke(context()), PokeReturnValue)
    assert info_lines(logs) == [
        f"Gcore {GcoreTask.model_validate(task('RUNNING')).summary()}",
        f"Gcore task {TASK_A} (update_project) finished",
    ]


def test_a_task_that_ended_in_error_fails_the_task_sensor_naming_it(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_PATH, ok(task("ERROR", "Quota exceeded")))
    with pytest.raises(GcoreTaskFailedError) as caught:
        task_sensor().poke(context())
    assert str(caught.value) == f"Gcore task {TASK_A} (update_project) ended in ERROR: Quota exceeded"
    assert (caught.value.task_id, caught.value.task_error) == (TASK_A, "Quota exceeded")
