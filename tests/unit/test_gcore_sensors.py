"""The Gcore sensors: poke (blocking HTTP through requests-mock), deferral, and the trigger's ending.

The context is a small fake (``ti.xcom_push`` and, for reschedule mode, the task state store), so
no Airflow database is needed; poke-mode sleeps are replaced, so nothing waits for real.
"""

from __future__ import annotations

import json
import time
import types
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests_mock as rm
from airflow.sdk import PokeReturnValue
from airflow.sdk.bases import sensor as sensor_module
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
from structlog.testing import capture_logs

from airflow_provider_projects.errors import (
    AuthenticationError,
    GcoreTaskFailedError,
    NotFoundError,
    ServerError,
)
from airflow_provider_projects.sensors.gcore import (
    DEFER_MARGIN,
    STATE_KEY,
    GcoreProjectUnlockedSensor,
    GcoreTaskSensor,
)
from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger, GcoreTaskTrigger, error_event

BASE = "https://gcore.test"
API_KEY = "gcore-SECRET-sensor-key-51d2"
CONN = "gcore_sense"
PROJECT = 2
TASK_A = "7244e161-664c-4afd-a34e-7003eac4d949"
PROJECT_URL = f"{BASE}/cloud/v1/projects/{PROJECT}"
TASK_URL = f"{BASE}/cloud/v1/tasks/{TASK_A}"


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
        "project_id": PROJECT,
    }


def ok(body: dict[str, Any]) -> dict[str, Any]:
    return {"json": body, "status_code": 200}


def fail(status: int) -> dict[str, Any]:
    return {
        "json": {"exception_class": "Error", "message": f"scripted {status}", "request_id": "r"},
        "status_code": status,
    }


class FakeTI:
    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


class FakeTaskStateStore:
    """``context["task_state_store"]``: survives between the pokes of a reschedule-mode sensor."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def context(ti: FakeTI | None = None, store: FakeTaskStateStore | None = None) -> Any:
    ctx: dict[str, Any] = {"ti": ti or FakeTI()}
    if store is not None:
        ctx["task_state_store"] = store
    return ctx


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    conn = {"conn_type": "gcore", "host": BASE, "password": API_KEY, "extra": {"max_retries": 0}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps(conn))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Poke mode's sleeps between pokes, recorded instead of slept."""
    slept: list[float] = []
    fake_time = types.SimpleNamespace(monotonic=time.monotonic, sleep=slept.append)
    monkeypatch.setattr(sensor_module, "time", fake_time)
    yield slept


def project_sensor(**kwargs: Any) -> GcoreProjectUnlockedSensor:
    kwargs.setdefault("deferrable", False)
    return GcoreProjectUnlockedSensor(
        task_id="wait_unlocked", project_id=PROJECT, gcore_conn_id=CONN, poke_interval=5, **kwargs
    )


def task_sensor(**kwargs: Any) -> GcoreTaskSensor:
    kwargs.setdefault("deferrable", False)
    return GcoreTaskSensor(task_id="wait_task", gcore_task_id=TASK_A, gcore_conn_id=CONN, poke_interval=5, **kwargs)


# -- poke mode ---------------------------------------------------------------------------------------


def test_poke_locked_then_unlocked_returns_the_project(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, [ok(project(TASK_A)), ok(project(None))])
    requests_mock.get(TASK_URL, **ok(task("FINISHED")))
    sensor, ti = project_sensor(), FakeTI()

    assert sensor.poke(context(ti)) is False
    done = sensor.poke(context(ti))

    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    assert done.xcom_value == project(None)
    assert ti.xcoms["lock_task"]["state"] == "FINISHED"
    assert [r.url for r in requests_mock.request_history] == [PROJECT_URL, PROJECT_URL, TASK_URL]
    assert requests_mock.request_history[0].headers["Authorization"] == f"APIKey {API_KEY}"


def test_poke_mode_execute_sleeps_the_interval_and_returns_the_project(
    requests_mock: rm.Mocker, sleeps: list[float]
) -> None:
    requests_mock.get(PROJECT_URL, [ok(project(TASK_A)), ok(project(TASK_A)), ok(project(None))])
    requests_mock.get(TASK_URL, **ok(task("FINISHED")))
    result = project_sensor().execute(context())
    assert result == project(None)
    assert sleeps == [5.0, 5.0]
    assert requests_mock.call_count == 4


def test_unlocked_project_pushes_no_lock_task(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, **ok(project(None)))
    ti = FakeTI()
    done = project_sensor().poke(context(ti))
    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    assert ti.xcoms == {}
    assert requests_mock.call_count == 1


def test_lock_task_in_error_is_logged_and_pushed_to_xcom(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, [ok(project(TASK_A)), ok(project(None))])
    requests_mock.get(TASK_URL, **ok(task("ERROR", error="Quota exceeded for region 76")))
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


def test_fail_on_lock_error_fails_with_the_task_error(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, [ok(project(TASK_A)), ok(project(None))])
    requests_mock.get(TASK_URL, **ok(task("ERROR", error="Quota exceeded for region 76")))
    sensor, ti = project_sensor(fail_on_lock_error=True), FakeTI()
    sensor.poke(context(ti))
    with pytest.raises(GcoreTaskFailedError) as failed:
        sensor.poke(context(ti))
    assert failed.value.task_error == "Quota exceeded for region 76"
    assert failed.value.task_id == TASK_A
    assert "Quota exceeded for region 76" in str(failed.value)
    assert ti.xcoms["lock_task"]["state"] == "ERROR"  # still visible in XCom


def test_task_sensor_finished_returns_the_task(requests_mock: rm.Mocker) -> None:
    requests_mock.get(TASK_URL, [ok(task("RUNNING")), ok(task("FINISHED"))])
    sensor = task_sensor()
    assert sensor.poke(context()) is False
    done = sensor.poke(context())
    assert isinstance(done, PokeReturnValue)
    finished: Any = done.xcom_value
    assert (finished["state"], finished["id"]) == ("FINISHED", TASK_A)


def test_task_sensor_error_fails_with_the_tasks_error_text(requests_mock: rm.Mocker) -> None:
    requests_mock.get(TASK_URL, [ok(task("RUNNING")), ok(task("ERROR", error="Volume is in use"))])
    sensor = task_sensor()
    assert sensor.poke(context()) is False
    with pytest.raises(GcoreTaskFailedError) as failed:
        sensor.poke(context())
    assert failed.value.task_error == "Volume is in use"
    assert "Volume is in use" in str(failed.value)


def test_transient_503_is_tolerated_in_poke_mode(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, [fail(503), fail(503), ok(project(None))])
    sensor = project_sensor(max_consecutive_errors=2)
    with capture_logs() as logs:
        assert sensor.poke(context()) is False
        assert sensor.poke(context()) is False
    assert [entry["log_level"] for entry in logs].count("warning") == 2
    assert isinstance(sensor.poke(context()), PokeReturnValue)


def test_one_503_more_than_tolerated_fails_the_poke(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, [fail(503), fail(503), fail(503)])
    sensor = project_sensor(max_consecutive_errors=2)
    sensor.poke(context())
    sensor.poke(context())
    with pytest.raises(ServerError):
        sensor.poke(context())


@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationError), (404, NotFoundError)])
def test_401_and_404_fail_the_first_poke(requests_mock: rm.Mocker, status: int, error: type[Exception]) -> None:
    requests_mock.get(PROJECT_URL, **fail(status))
    with pytest.raises(error):
        project_sensor(max_consecutive_errors=5).poke(context())
    assert requests_mock.call_count == 1


# -- reschedule mode: every poke is a fresh sensor ------------------------------------------------------


def test_reschedule_mode_keeps_the_lock_holder_between_pokes(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, [ok(project(TASK_A)), ok(project(None))])
    requests_mock.get(TASK_URL, **ok(task("ERROR", error="boom")))
    store = FakeTaskStateStore()

    assert project_sensor(mode="reschedule").poke(context(store=store)) is False
    assert store.values[STATE_KEY]["lock_task_id"] == TASK_A
    ti = FakeTI()
    with capture_logs() as logs:
        done = project_sensor(mode="reschedule").poke(context(ti, store))  # a new sensor, as after a reschedule

    assert isinstance(done, PokeReturnValue)
    assert ti.xcoms["lock_task"]["error"] == "boom"
    assert any("ended in ERROR: boom" in entry["event"] for entry in logs)
    assert STATE_KEY not in store.values  # cleared once the wait is over


def test_reschedule_mode_counts_failed_polls_across_pokes(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, **fail(503))
    store = FakeTaskStateStore()
    assert project_sensor(mode="reschedule", max_consecutive_errors=1).poke(context(store=store)) is False
    with pytest.raises(ServerError):
        project_sensor(mode="reschedule", max_consecutive_errors=1).poke(context(store=store))


def test_reschedule_state_of_an_earlier_try_is_ignored(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, **fail(503))
    store = FakeTaskStateStore()
    project_sensor(mode="reschedule", max_consecutive_errors=1).poke(context(FakeTI(try_number=1), store))
    # A retry (try 2) starts counting afresh instead of failing on its first transient error.
    assert (
        project_sensor(mode="reschedule", max_consecutive_errors=1).poke(context(FakeTI(try_number=2), store)) is False
    )


# -- deferrable --------------------------------------------------------------------------------------


def test_deferrable_pokes_once_then_defers_to_the_project_trigger(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, **ok(project(TASK_A)))
    sensor = project_sensor(deferrable=True, timeout=600, max_consecutive_errors=3)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context())

    assert requests_mock.call_count == 1
    trigger = deferred.value.trigger
    assert isinstance(trigger, GcoreProjectUnlockedTrigger)
    assert (trigger.project_id, trigger.lock_task_id, trigger.gcore_conn_id) == (PROJECT, TASK_A, CONN)
    assert (trigger.poll_interval, trigger.max_consecutive_errors) == (5.0, 3)
    assert before + 600 <= trigger.deadline <= time.time() + 600
    # The worker's poke was this interval's poll: the trigger polls one interval later.
    assert trigger.first_poll_at == pytest.approx(trigger.deadline - 600 + 5)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=600 + DEFER_MARGIN)


def test_deferrable_task_sensor_defers_to_the_task_trigger(requests_mock: rm.Mocker) -> None:
    requests_mock.get(TASK_URL, **ok(task("RUNNING")))
    with pytest.raises(TaskDeferred) as deferred:
        task_sensor(deferrable=True, timeout=60).execute(context())
    assert requests_mock.call_count == 1
    trigger = deferred.value.trigger
    assert isinstance(trigger, GcoreTaskTrigger)
    assert trigger.gcore_task_id == TASK_A


def test_deferrable_with_the_project_unlocked_on_the_first_poke_does_not_defer(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, **ok(project(None)))
    assert project_sensor(deferrable=True).execute(context()) == project(None)
    assert requests_mock.call_count == 1


def test_deferrable_task_sensor_with_a_task_already_in_error_fails_without_deferring(
    requests_mock: rm.Mocker,
) -> None:
    requests_mock.get(TASK_URL, **ok(task("ERROR", error="boom")))
    with pytest.raises(GcoreTaskFailedError, match="boom"):
        task_sensor(deferrable=True).execute(context())


def test_deferrable_sensor_defers_after_a_transient_first_poke(requests_mock: rm.Mocker) -> None:
    requests_mock.get(PROJECT_URL, **fail(503))
    with pytest.raises(TaskDeferred) as deferred:
        project_sensor(deferrable=True).execute(context())
    assert deferred.value.trigger.lock_task_id is None


# -- execute_complete: the trigger's event -------------------------------------------------------------


def test_execute_complete_success_returns_the_project_and_pushes_the_lock_task() -> None:
    ti = FakeTI()
    event = {"status": "success", "project": project(None), "lock_task": task("FINISHED"), "message": "cleared"}
    assert project_sensor(deferrable=True).execute_complete(context(ti), event) == project(None)
    assert ti.xcoms["lock_task"]["state"] == "FINISHED"


def test_execute_complete_lock_task_error_with_fail_on_lock_error() -> None:
    event = {"status": "success", "project": project(None), "lock_task": task("ERROR", error="boom")}
    with pytest.raises(GcoreTaskFailedError, match="boom"):
        project_sensor(deferrable=True, fail_on_lock_error=True).execute_complete(context(), event)


def test_execute_complete_timeout_raises_sensor_timeout() -> None:
    event = {
        "status": "timeout",
        "message": "the lock on Gcore project 2 still not clear at the deadline after 4 polls",
    }
    with pytest.raises(AirflowSensorTimeout, match="after 4 polls"):
        project_sensor(deferrable=True, timeout=30).execute_complete(context(), event)


def test_execute_complete_timeout_with_soft_fail_skips() -> None:
    event = {"status": "timeout", "message": "still locked"}
    with pytest.raises(AirflowSkipException, match="still locked"):
        project_sensor(deferrable=True, soft_fail=True).execute_complete(context(), event)


def test_execute_complete_error_raises_the_typed_error() -> None:
    event = error_event(NotFoundError("Gcore Cloud GET /cloud/v1/projects/2 failed: HTTP 404", status=404))
    with pytest.raises(NotFoundError) as raised:
        project_sensor(deferrable=True).execute_complete(context(), json.loads(json.dumps(event)))
    assert raised.value.status == 404
    assert "HTTP 404" in str(raised.value)


def test_task_sensor_execute_complete_error_state_fails_with_the_error_text() -> None:
    event = {"status": "success", "task": task("ERROR", error="Volume is in use")}
    with pytest.raises(GcoreTaskFailedError) as failed:
        task_sensor(deferrable=True).execute_complete(context(), event)
    assert failed.value.task_error == "Volume is in use"


def test_task_sensor_execute_complete_finished_returns_the_task() -> None:
    event = {"status": "success", "task": task("FINISHED")}
    assert task_sensor(deferrable=True).execute_complete(context(), event)["state"] == "FINISHED"
