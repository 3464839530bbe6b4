"""GcoreReplaceProjectOperator: lock-aware replace, exact request sequences, validation, deferral.

No test sleeps: the blocking lock wait runs on a fake clock whose ``sleep`` advances it, HTTP retry
pauses go to a recording ``sleep`` given to the hook, and the trigger gets an async fake sleep.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import requests_mock as rm
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred
from structlog.testing import capture_logs

from airflow_provider_projects._http import aio
from airflow_provider_projects.errors import (
    AuthenticationError,
    GcoreTaskFailedError,
    InvalidInputError,
    LockWaitTimeoutError,
    MethodNotAllowedError,
    NotFoundError,
    ServerError,
    UnexpectedStatusError,
)
from airflow_provider_projects.hooks.gcore import GcoreHook
from airflow_provider_projects.operators.gcore import DEFER_MARGIN, GcoreReplaceProjectOperator
from airflow_provider_projects.triggers.gcore import GcoreTaskTrigger

BASE = "https://api.gcore.test"
KEY = "gcore-operator-key-93c1f0e4d2b7"
PID = 42
PROJECT_PATH = f"/cloud/v1/projects/{PID}"
URL = BASE + PROJECT_PATH
TASK_ID = "7244e161-664c-4afd-a34e-7003eac4d949"
TASK_PATH = f"/cloud/v1/tasks/{TASK_ID}"
TASK_URL = BASE + TASK_PATH
OTHER_TASK = "0b6d7d3e-2f4a-4c8e-9a51-5c1f2e3d4b6a"
START = 1_800_000_000.0

OLD: dict[str, Any] = {
    "id": PID,
    "client_id": 7,
    "name": "analytics",
    "description": "Dashboards",
    "created_at": "2026-01-01T00:00:00",
    "deleted_at": None,
    "is_default": False,
    "state": "ACTIVE",
    "task_id": None,
}
NEW_NAME = "analytics-2026"
NEW_DESCRIPTION = "Q4 dashboards"
NEW: dict[str, Any] = {**OLD, "name": NEW_NAME, "description": NEW_DESCRIPTION}


def locked(task_id: str = TASK_ID) -> dict[str, Any]:
    return {**OLD, "task_id": task_id}


def task(state: str, error: str | None = None, task_id: str = TASK_ID) -> dict[str, Any]:
    return {
        "id": task_id,
        "user_id": 1001,
        "task_type": "update_project",
        "state": state,
        "created_on": "2026-05-01T12:00:00",
        "updated_on": None,
        "finished_on": None,
        "error": error,
        "project_id": 7,
    }


def gcore_error(status: int, exception_class: str, message: str) -> dict[str, Any]:
    return {"exception_class": exception_class, "message": message, "request_id": f"req-{status}"}


def lock_409(task_id: str = TASK_ID) -> dict[str, Any]:
    message = (
        f"Operation on resource `{PID}` currently locked by running task `update_project` with id `{task_id}` "
        "(2026-05-01 12:00:00) to prevent concurrent operations. Repeat request a little later. "
    )
    return {"status_code": 409, "json": gcore_error(409, "ConflictError", message)}


#: A regression into a loop without pauses must fail the test, not hang it: these caps end it.
MAX_CLOCK_READS_WITHOUT_SLEEP = 1_000
MAX_REQUESTS_PER_OPERATOR = 500


class BusyLoopError(AssertionError):
    """The operator looped without pausing (never raised by the code under test)."""


class FakeClock:
    """A wall clock that only moves when something sleeps on it."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self._reads = 0

    def __call__(self) -> float:
        self._reads += 1
        if self._reads > MAX_CLOCK_READS_WITHOUT_SLEEP:
            raise BusyLoopError(f"the clock was read {self._reads} times without a sleep: a loop without pauses")
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self._reads = 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def gcore_conn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GCORE_DEFAULT",
        json.dumps({"conn_type": "gcore", "host": BASE, "password": KEY}),
    )
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def http_sleeps() -> list[float]:
    return []


@pytest.fixture
def make_op(clock: FakeClock, http_sleeps: list[float]) -> Iterator[Any]:
    made: list[GcoreReplaceProjectOperator] = []

    def make(**kwargs: Any) -> GcoreReplaceProjectOperator:
        args: dict[str, Any] = {
            "task_id": "replace",
            "project_id": PID,
            "name": NEW_NAME,
            "description": NEW_DESCRIPTION,
            "poll_interval": 5,
            "lock_timeout": 60,
            **kwargs,
        }
        op = GcoreReplaceProjectOperator(**args)
        op._clock = clock
        op._sleep = clock.sleep
        op._hook = GcoreHook(op.gcore_conn_id, sleep=http_sleeps.append)
        transport = op._hook.transport
        send = transport._send
        sent = [0]

        def capped_send(request: Any) -> Any:
            sent[0] += 1
            if sent[0] > MAX_REQUESTS_PER_OPERATOR:
                raise BusyLoopError(f"more than {MAX_REQUESTS_PER_OPERATOR} requests: a loop without end")
            return send(request)

        transport._send = capped_send  # type: ignore[method-assign]
        made.append(op)
        return op

    yield make
    for op in made:
        if op._hook is not None:
            op._hook.close()


def calls(mocker: rm.Mocker) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in mocker.request_history]


def info_lines(logs: list[dict[str, Any]], level: str = "info") -> list[str]:
    """The operator's own log lines of one level (Airflow's "outside of the Task Runner" warning left out)."""
    lines = []
    for entry in logs:
        if entry.get("log_level") != level or "outside of the Task Runner" in entry["event"]:
            continue
        args = entry.get("positional_args", ())
        lines.append(entry["event"] % args if args else entry["event"])
    return lines


# -- the happy path and the request on the wire --------------------------------------------------


def test_unlocked_project_is_read_then_replaced(make_op: Any, requests_mock: rm.Mocker, clock: FakeClock) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json=NEW)

    result = make_op().execute({})

    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]
    put = requests_mock.request_history[1]
    assert put.url == URL
    assert put.json() == {"name": NEW_NAME, "description": NEW_DESCRIPTION}
    assert put.headers["Authorization"] == f"APIKey {KEY}"
    assert put.headers["Content-Type"] == "application/json"
    assert put.headers["User-Agent"].startswith("airflow-provider-projects/")
    assert result == NEW
    assert clock.sleeps == []


def test_description_not_given_is_sent_as_null(make_op: Any, requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json={**NEW, "description": None})

    op = GcoreReplaceProjectOperator(task_id="replace", project_id=PID, name=NEW_NAME)
    assert op.description is None
    result = op.execute({})

    assert requests_mock.last_request.method == "PUT"
    assert requests_mock.last_request.json() == {"name": NEW_NAME, "description": None}
    assert '"description":null' in requests_mock.last_request.text
    assert result["description"] is None


def test_use_patch_sends_the_same_body_by_patch(make_op: Any, requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.patch(URL, json=NEW)

    result = make_op(use_patch=True).execute({})

    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    assert requests_mock.last_request.json() == {"name": NEW_NAME, "description": NEW_DESCRIPTION}
    assert result == NEW


def test_check_lock_false_writes_without_reading_first(make_op: Any, requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, json=locked())  # would make the pre-check wait
    requests_mock.put(URL, json=NEW)

    result = make_op(check_lock=False).execute({})

    assert calls(requests_mock) == [("PUT", PROJECT_PATH)]
    assert result == NEW


def test_the_connection_id_is_used(monkeypatch: pytest.MonkeyPatch, requests_mock: rm.Mocker) -> None:
    other = "https://other.gcore.test"
    monkeypatch.setenv(
        "AIRFLOW_CONN_GCORE_OTHER", json.dumps({"conn_type": "gcore", "host": other, "password": "other-key-1234"})
    )
    requests_mock.get(other + PROJECT_PATH, json=OLD)
    requests_mock.put(other + PROJECT_PATH, json=NEW)

    op = GcoreReplaceProjectOperator(task_id="replace", project_id=PID, name=NEW_NAME, gcore_conn_id="gcore_other")
    op.execute({})

    assert [r.url for r in requests_mock.request_history] == [other + PROJECT_PATH] * 2
    assert requests_mock.last_request.headers["Authorization"] == "APIKey other-key-1234"


@pytest.mark.parametrize(
    "current",
    [
        pytest.param(NEW, id="same-name-and-description"),
        pytest.param({**NEW, "description": None}, id="same-name-description-cleared"),
    ],
)
def test_a_project_already_in_the_desired_state_is_not_written(
    make_op: Any, requests_mock: rm.Mocker, current: dict[str, Any]
) -> None:
    requests_mock.get(URL, json=current)
    requests_mock.put(URL, json=current)

    result = make_op(description=current["description"]).execute({})

    assert calls(requests_mock) == [("GET", PROJECT_PATH)]
    assert result == current


@pytest.mark.parametrize(
    "current",
    [
        pytest.param({**NEW, "description": None}, id="description-differs"),
        pytest.param({**NEW, "name": "analytics-2025"}, id="name-differs"),
        pytest.param({**NEW, "description": ""}, id="empty-is-not-null"),
    ],
)
def test_a_project_differing_in_one_field_is_written(
    make_op: Any, requests_mock: rm.Mocker, current: dict[str, Any]
) -> None:
    requests_mock.get(URL, json=current)
    requests_mock.put(URL, json=NEW)

    make_op().execute({})

    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]


def test_the_return_value_is_the_api_body_and_json_serialisable(make_op: Any, requests_mock: rm.Mocker) -> None:
    answer = {**NEW, "region_hint": {"a": [1, 2]}, "created_at": "2026-01-01T00:00:00+0000"}
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json=answer)

    result = make_op().execute({})

    assert result == answer  # the API's field names, unknown fields included, values as sent
    assert json.loads(json.dumps(result)) == answer
    assert type(result) is dict


def test_one_concise_log_line_old_to_new_and_never_the_key(
    make_op: Any,
    requests_mock: rm.Mocker,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json={**NEW, "description": OLD["description"]})

    with capture_logs() as logs:
        make_op(description=OLD["description"]).execute({})

    lines = info_lines(logs)
    assert len(lines) == 1, lines
    line = lines[0]
    assert str(PID) in line
    assert f"name {OLD['name']!r} -> {NEW_NAME!r}" in line
    assert "description unchanged" in line
    assert "\n" not in line
    assert len(line) < 200
    captured = capsys.readouterr()
    everything = "\n".join([*(json.dumps(e, default=str) for e in logs), caplog.text, captured.out, captured.err])
    assert KEY not in everything


def test_the_key_is_not_logged_when_the_api_echoes_it(
    make_op: Any,
    requests_mock: rm.Mocker,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    requests_mock.get(URL, status_code=401, json=gcore_error(401, "NotAuthenticated", f"Invalid token {KEY}"))

    with capture_logs() as logs, pytest.raises(AuthenticationError) as caught:
        make_op().execute({})

    captured = capsys.readouterr()
    everything = "\n".join([*(json.dumps(e, default=str) for e in logs), caplog.text, captured.out, captured.err])
    assert KEY not in everything
    assert KEY not in str(caught.value)


# -- waiting for locks (blocking) ---------------------------------------------------------------


def test_a_409_waits_for_the_named_task_then_writes_again(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock, http_sleeps: list[float]
) -> None:
    requests_mock.get(URL, [{"json": OLD}, {"json": OLD}])
    requests_mock.put(URL, [lock_409(), {"json": NEW}])
    requests_mock.get(TASK_URL, [{"json": task(s)} for s in ("NEW", "RUNNING", "FINISHED")])

    result = make_op(poll_interval=5).execute({})

    assert calls(requests_mock) == [
        ("GET", PROJECT_PATH),
        ("PUT", PROJECT_PATH),
        ("GET", TASK_PATH),
        ("GET", TASK_PATH),
        ("GET", TASK_PATH),
        ("GET", PROJECT_PATH),
        ("PUT", PROJECT_PATH),
    ]
    puts = [r for r in requests_mock.request_history if r.method == "PUT"]
    assert [p.json() for p in puts] == [{"name": NEW_NAME, "description": NEW_DESCRIPTION}] * 2
    assert result == NEW
    assert clock.sleeps == [5.0, 5.0]  # one poll interval between task polls, none after FINISHED
    assert http_sleeps == []  # the 409 itself is not retried by the HTTP layer


def test_a_locked_project_is_waited_for_before_the_write(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.get(URL, [{"json": locked()}, {"json": OLD}])
    requests_mock.get(TASK_URL, [{"json": task("RUNNING")}, {"json": task("FINISHED")}])
    requests_mock.put(URL, json=NEW)

    result = make_op(poll_interval=3).execute({})

    assert calls(requests_mock) == [
        ("GET", PROJECT_PATH),
        ("GET", TASK_PATH),
        ("GET", TASK_PATH),
        ("GET", PROJECT_PATH),
        ("PUT", PROJECT_PATH),
    ]
    assert result == NEW
    assert clock.sleeps == [3.0]


def test_a_409_after_one_wait_waits_for_the_new_holder(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    other_url = f"{BASE}/cloud/v1/tasks/{OTHER_TASK}"
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, [lock_409(), lock_409(OTHER_TASK), {"json": NEW}])
    requests_mock.get(TASK_URL, json=task("FINISHED"))
    requests_mock.get(other_url, json=task("FINISHED", task_id=OTHER_TASK))

    assert make_op().execute({}) == NEW

    assert [r.url for r in requests_mock.request_history] == [
        URL,
        URL,
        TASK_URL,
        URL,
        URL,
        other_url,
        URL,
        URL,
    ]


def test_a_lock_holder_ending_in_error_is_reported_and_the_write_goes_ahead(
    make_op: Any, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(URL, [{"json": locked()}, {"json": OLD}])
    requests_mock.get(TASK_URL, [{"json": task("RUNNING")}, {"json": task("ERROR", error="disk quota exceeded")}])
    requests_mock.put(URL, json=NEW)

    with capture_logs() as logs:
        result = make_op().execute({})

    assert result == NEW
    assert calls(requests_mock)[-1] == ("PUT", PROJECT_PATH)
    warnings = info_lines(logs, "warning")
    assert len(warnings) == 1, warnings
    assert "ERROR" in warnings[0]
    assert "disk quota exceeded" in warnings[0]
    assert TASK_ID in warnings[0]


def test_fail_on_lock_error_raises_with_the_task_error(make_op: Any, requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, [lock_409(), {"json": NEW}])
    requests_mock.get(TASK_URL, [{"json": task("NEW")}, {"json": task("ERROR", error="disk quota exceeded")}])

    with pytest.raises(GcoreTaskFailedError) as caught:
        make_op(fail_on_lock_error=True).execute({})

    assert caught.value.task_error == "disk quota exceeded"
    assert caught.value.task_id == TASK_ID
    assert "disk quota exceeded" in str(caught.value)
    assert isinstance(caught.value, AirflowFailException)
    assert [m for m, _ in calls(requests_mock)].count("PUT") == 1  # no second write


def test_lock_timeout_exceeded_raises_and_writes_nothing(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.get(URL, json=locked())
    requests_mock.get(TASK_URL, json=task("RUNNING"))
    requests_mock.put(URL, json=NEW)

    with pytest.raises(LockWaitTimeoutError) as caught:
        make_op(poll_interval=2, lock_timeout=5).execute({})

    assert not [r for r in requests_mock.request_history if r.method != "GET"]
    assert clock.sleeps == [2.0, 2.0, 1.0]  # the last pause is cut to the deadline
    assert clock.now == START + 5
    assert "lock_timeout" in str(caught.value)
    assert "nothing was written" in str(caught.value)


def test_lock_timeout_after_a_409_writes_only_once(make_op: Any, requests_mock: rm.Mocker, clock: FakeClock) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, [lock_409(), {"json": NEW}])
    requests_mock.get(TASK_URL, json=task("RUNNING"))

    with pytest.raises(LockWaitTimeoutError):
        make_op(poll_interval=4, lock_timeout=10).execute({})

    assert [m for m, _ in calls(requests_mock)].count("PUT") == 1
    assert clock.now == START + 10


def test_the_lock_timeout_covers_every_wait_together(make_op: Any, requests_mock: rm.Mocker, clock: FakeClock) -> None:
    # Each lock ends, but a new one keeps appearing: the total wait is bounded by lock_timeout.
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json=lock_409()["json"], status_code=409)
    requests_mock.get(TASK_URL, [{"json": task("RUNNING")}, {"json": task("FINISHED")}] * 50)

    with pytest.raises(LockWaitTimeoutError):
        make_op(poll_interval=4, lock_timeout=20).execute({})

    assert clock.now <= START + 20
    assert [m for m, _ in calls(requests_mock)].count("PUT") <= 6


def test_transient_poll_errors_are_ridden_out(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock, http_sleeps: list[float]
) -> None:
    busy = {"status_code": 503, "json": gcore_error(503, "HTTPError", "busy")}
    requests_mock.get(URL, [{"json": locked()}, {"json": OLD}])
    requests_mock.get(TASK_URL, [busy] * 5 + [{"json": task("FINISHED")}])  # one poll = 1 try + 4 retries
    requests_mock.put(URL, json=NEW)

    assert make_op(poll_interval=5).execute({}) == NEW
    assert len(http_sleeps) == 4
    assert clock.sleeps == [5.0]


def test_a_409_that_is_not_a_lock_fails_instead_of_looping(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock, http_sleeps: list[float]
) -> None:
    clash = {
        "status_code": 409,
        "json": gcore_error(409, "ConflictError", f"Project with name `{NEW_NAME}` already exists."),
    }
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, [clash] * 3 + [{"status_code": 599}])  # a loop would reach the 599 (ServerError)

    with pytest.raises(UnexpectedStatusError) as caught:
        make_op().execute({})

    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH), ("GET", PROJECT_PATH)]
    assert caught.value.status == 409
    assert "already exists" in str(caught.value)
    assert clock.sleeps == []
    assert http_sleeps == []


def test_a_409_naming_no_task_waits_for_the_task_locking_the_project(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    odd = {"status_code": 409, "json": gcore_error(409, "ConflictError", "Resource is busy, try later")}
    requests_mock.get(URL, [{"json": OLD}, {"json": locked()}, {"json": OLD}])
    requests_mock.put(URL, [odd, {"json": NEW}])
    requests_mock.get(TASK_URL, [{"json": task("RUNNING")}, {"json": task("FINISHED")}])

    assert make_op(poll_interval=2).execute({}) == NEW
    assert calls(requests_mock) == [
        ("GET", PROJECT_PATH),
        ("PUT", PROJECT_PATH),
        ("GET", PROJECT_PATH),
        ("GET", TASK_PATH),
        ("GET", TASK_PATH),
        ("GET", PROJECT_PATH),
        ("PUT", PROJECT_PATH),
    ]
    assert clock.sleeps == [2.0]


def test_a_lock_still_reported_after_its_task_ended_is_waited_out_with_pauses(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.get(URL, [{"json": locked()}] * 3 + [{"json": OLD}])
    requests_mock.get(TASK_URL, json=task("FINISHED"))
    requests_mock.put(URL, json=NEW)

    assert make_op(poll_interval=5).execute({}) == NEW

    assert calls(requests_mock) == [
        ("GET", PROJECT_PATH),
        ("GET", TASK_PATH),
        ("GET", PROJECT_PATH),
        ("GET", PROJECT_PATH),
        ("GET", PROJECT_PATH),
        ("PUT", PROJECT_PATH),
    ]
    assert clock.sleeps == [5.0, 5.0]  # a pause before each read after the task ended, no back-to-back loop


def test_a_409_naming_an_ended_task_is_retried_with_pauses_within_the_lock_timeout(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json=lock_409()["json"], status_code=409)
    requests_mock.get(TASK_URL, json=task("FINISHED"))

    with pytest.raises(LockWaitTimeoutError):
        make_op(poll_interval=5, lock_timeout=20).execute({})

    assert clock.now == START + 20
    assert clock.sleeps == [5.0] * 4
    assert [m for m, _ in calls(requests_mock)].count(
        "PUT"
    ) == 6  # at 0 (twice: before and after the wait), 5, 10, 15, 20
    assert [p for _, p in calls(requests_mock)].count(TASK_PATH) == 1


# -- failures that no retry can fix --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exception_class", "error_type"),
    [(404, "NotFoundError", NotFoundError), (401, "NotAuthenticated", AuthenticationError)],
)
@pytest.mark.parametrize("check_lock", [True, False], ids=["read-first", "write-first"])
def test_404_and_401_fail_at_once_with_one_request(
    *,
    make_op: Any,
    requests_mock: rm.Mocker,
    http_sleeps: list[float],
    clock: FakeClock,
    status: int,
    exception_class: str,
    error_type: type[Exception],
    check_lock: bool,
) -> None:
    answer = {"status_code": status, "json": gcore_error(status, exception_class, "nope")}
    requests_mock.get(URL, **answer)
    requests_mock.put(URL, **answer)

    with pytest.raises(error_type) as caught:
        make_op(check_lock=check_lock).execute({})

    assert requests_mock.call_count == 1
    assert http_sleeps == []
    assert clock.sleeps == []
    assert isinstance(caught.value, AirflowFailException)
    assert getattr(caught.value, "status", None) == status


def test_404_while_polling_the_task_fails_at_once(make_op: Any, requests_mock: rm.Mocker, clock: FakeClock) -> None:
    requests_mock.get(URL, json=locked())
    requests_mock.get(TASK_URL, status_code=404, json=gcore_error(404, "NotFoundError", "Task not found"))
    requests_mock.put(URL, json=NEW)

    with pytest.raises(NotFoundError):
        make_op().execute({})

    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("GET", TASK_PATH)]
    assert clock.sleeps == []


def test_405_on_put_names_patch_and_use_patch(make_op: Any, requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, status_code=405, json=gcore_error(405, "HTTPError", "HTTP 405: Method Not Allowed"))

    with pytest.raises(MethodNotAllowedError) as caught:
        make_op().execute({})

    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]
    assert "PATCH /cloud/v1/projects/{project_id}" in str(caught.value)
    assert "use_patch=True" in str(caught.value)
    assert isinstance(caught.value, AirflowFailException)


def test_a_500_on_the_write_is_not_retried(make_op: Any, requests_mock: rm.Mocker, http_sleeps: list[float]) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, status_code=500, json=gcore_error(500, "InternalError", "boom"))

    with pytest.raises(ServerError):
        make_op().execute({})

    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]
    assert http_sleeps == []


# -- validation ----------------------------------------------------------------------------------

BAD_LITERALS = [
    pytest.param({"project_id": 0}, "project_id", id="id-zero"),
    pytest.param({"project_id": -1}, "project_id", id="id-negative"),
    pytest.param({"project_id": "abc"}, "project_id", id="id-text"),
    pytest.param({"project_id": True}, "project_id", id="id-bool"),
    pytest.param({"project_id": 4.2}, "project_id", id="id-float"),
    pytest.param({"project_id": 2**63}, "project_id", id="id-too-big"),
    pytest.param({"name": "ab"}, "name", id="name-short"),
    pytest.param({"name": "x" * 64}, "name", id="name-long"),
    pytest.param({"name": "_abc"}, "name", id="name-bad-start"),
    pytest.param({"name": "abc-"}, "name", id="name-bad-end"),
    pytest.param({"name": "a/b/c"}, "name", id="name-bad-char"),
    pytest.param({"name": "abc\n"}, "name", id="name-trailing-newline"),
    pytest.param({"name": None}, "name", id="name-none"),
    pytest.param({"description": "d" * 256}, "description", id="description-long"),
    pytest.param({"description": 12}, "description", id="description-int"),
    pytest.param({"poll_interval": 0}, "poll_interval", id="poll-zero"),
    pytest.param({"poll_interval": -1}, "poll_interval", id="poll-negative"),
    pytest.param({"lock_timeout": 0}, "lock_timeout", id="timeout-zero"),
    pytest.param({"lock_timeout": "60"}, "lock_timeout", id="timeout-text"),
]


@pytest.mark.parametrize(("change", "field"), BAD_LITERALS)
def test_literal_input_is_refused_at_construction(requests_mock: rm.Mocker, change: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"task_id": "replace", "project_id": PID, "name": NEW_NAME, **change}
    with pytest.raises(InvalidInputError) as caught:
        GcoreReplaceProjectOperator(**args)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field} ")
    assert caught.value.rule and caught.value.rule in str(caught.value)
    assert isinstance(caught.value, AirflowFailException)
    assert requests_mock.call_count == 0


TEMPLATED = {"project_id": "{{ params.pid }}", "name": "{{ params.name }}", "description": "{{ params.desc }}"}
GOOD_PARAMS: dict[str, Any] = {"pid": PID, "name": NEW_NAME, "desc": NEW_DESCRIPTION}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"pid": 0}, "project_id", id="id-zero"),
        pytest.param({"pid": "-3"}, "project_id", id="id-negative"),
        pytest.param({"pid": "4x"}, "project_id", id="id-text"),
        pytest.param({"pid": ""}, "project_id", id="id-empty"),
        pytest.param({"name": "ab"}, "name", id="name-short"),
        pytest.param({"name": "n" * 64}, "name", id="name-long"),
        pytest.param({"name": "bad name!"}, "name", id="name-bad-char"),
        pytest.param({"desc": "d" * 256}, "description", id="description-long"),
    ],
)
def test_templated_input_rendered_invalid_fails_at_execute_before_any_request(
    make_op: Any, requests_mock: rm.Mocker, params: dict[str, Any], field: str
) -> None:
    op = make_op(**TEMPLATED)  # templates are not judged at construction
    op.render_template_fields({"params": {**GOOD_PARAMS, **params}})

    with pytest.raises(InvalidInputError) as caught:
        op.execute({})

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field} ")
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("project_id", "0"), ("name", "x"), ("description", "d" * 300), ("name", 123)],
)
def test_attributes_set_invalid_after_construction_fail_at_execute(
    make_op: Any, requests_mock: rm.Mocker, attribute: str, value: Any
) -> None:
    op = make_op(**TEMPLATED)
    op.render_template_fields({"params": GOOD_PARAMS})
    setattr(op, attribute, value)

    with pytest.raises(InvalidInputError) as caught:
        op.execute({})
    assert caught.value.field == attribute
    assert requests_mock.call_count == 0


def test_invalid_rendering_fails_execute_complete_too(make_op: Any, requests_mock: rm.Mocker) -> None:
    op = make_op(**TEMPLATED)
    op.render_template_fields({"params": {**GOOD_PARAMS, "name": "!!"}})
    with pytest.raises(InvalidInputError):
        op.execute_complete({}, event={"status": "success", "task": task("FINISHED")}, deadline=START + 60)
    assert requests_mock.call_count == 0


def test_templated_input_rendered_valid_is_sent(make_op: Any, requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json=NEW)
    op = make_op(**TEMPLATED)
    assert GcoreReplaceProjectOperator.template_fields == ("project_id", "name", "description")
    op.render_template_fields({"params": GOOD_PARAMS})
    assert op.project_id == str(PID)

    assert op.execute({}) == NEW
    assert [r.url for r in requests_mock.request_history] == [URL, URL]
    assert requests_mock.last_request.json() == {"name": NEW_NAME, "description": NEW_DESCRIPTION}


# -- deferrable mode -----------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "expected"), [("True", True), ("False", False)])
def test_deferrable_defaults_to_the_airflow_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str, expected: bool
) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    assert GcoreReplaceProjectOperator(task_id="r", project_id=PID, name=NEW_NAME).deferrable is expected
    explicit = GcoreReplaceProjectOperator(task_id="r", project_id=PID, name=NEW_NAME, deferrable=not expected)
    assert explicit.deferrable is not expected


def assert_defers_on_the_task(deferred: TaskDeferred, clock: FakeClock, lock_timeout: float) -> dict[str, Any]:
    trigger = deferred.trigger
    assert isinstance(trigger, GcoreTaskTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_projects.triggers.gcore.GcoreTaskTrigger"
    assert kwargs["gcore_task_id"] == TASK_ID
    assert kwargs["deadline"] == START + lock_timeout
    assert kwargs["gcore_conn_id"] == "gcore_default"
    assert kwargs["poll_interval"] == 5.0
    text = json.dumps(kwargs)  # JSON-safe, and without the key
    assert KEY not in text
    assert "password" not in text
    assert deferred.method_name == "execute_complete"
    assert deferred.kwargs == {"deadline": START + lock_timeout}
    assert deferred.timeout == timedelta(seconds=lock_timeout + DEFER_MARGIN)
    assert clock.sleeps == []
    return kwargs


def test_deferrable_locked_project_defers_on_the_task_trigger(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.get(URL, json=locked())
    requests_mock.put(URL, json=NEW)

    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True, lock_timeout=90).execute({})

    assert_defers_on_the_task(caught.value, clock, 90)
    assert calls(requests_mock) == [("GET", PROJECT_PATH)]  # no task polls on the worker


def test_deferrable_409_defers_on_the_task_named_in_the_error(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, **lock_409())

    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True, lock_timeout=60).execute({})

    assert_defers_on_the_task(caught.value, clock, 60)
    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]


def test_deferrable_unlocked_project_writes_without_deferring(make_op: Any, requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json=NEW)
    assert make_op(deferrable=True).execute({}) == NEW


def test_execute_complete_after_success_reads_and_writes(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json=NEW)
    op = make_op(deferrable=True)

    result = op.execute_complete({}, event={"status": "success", "task": task("FINISHED")}, deadline=START + 30)

    assert result == NEW
    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]
    assert requests_mock.last_request.json() == {"name": NEW_NAME, "description": NEW_DESCRIPTION}


def test_execute_complete_defers_again_with_the_same_deadline(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, **lock_409(OTHER_TASK))
    clock.now = START + 20

    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True).execute_complete(
            {}, event={"status": "success", "task": task("FINISHED")}, deadline=START + 50
        )

    _, kwargs = caught.value.trigger.serialize()
    assert kwargs["gcore_task_id"] == OTHER_TASK
    assert kwargs["deadline"] == START + 50
    assert caught.value.kwargs == {"deadline": START + 50}
    assert caught.value.timeout == timedelta(seconds=30 + DEFER_MARGIN)


def test_execute_complete_past_the_deadline_with_the_project_still_locked_times_out(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.get(URL, json=locked(OTHER_TASK))
    requests_mock.put(URL, json=NEW)
    clock.now = START + 61

    with pytest.raises(LockWaitTimeoutError):
        make_op(deferrable=True).execute_complete(
            {}, event={"status": "success", "task": task("FINISHED")}, deadline=START + 60
        )
    assert calls(requests_mock) == [("GET", PROJECT_PATH)]


def test_execute_complete_after_timeout_raises_and_writes_nothing(make_op: Any, requests_mock: rm.Mocker) -> None:
    event = {"status": "timeout", "message": f"Gcore task {TASK_ID} still not clear at the deadline after 9 polls"}
    with pytest.raises(LockWaitTimeoutError) as caught:
        make_op(deferrable=True).execute_complete({}, event=event, deadline=START + 60)
    assert "nothing was written" in str(caught.value)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("error_type", "status", "expected"),
    [
        ("AuthenticationError", 401, AuthenticationError),
        ("NotFoundError", 404, NotFoundError),
        ("ServerError", 503, ServerError),
    ],
)
def test_execute_complete_after_an_error_raises_the_typed_error(
    make_op: Any, requests_mock: rm.Mocker, error_type: str, status: int, expected: type[Exception]
) -> None:
    event = {
        "status": "error",
        "error_type": error_type,
        "message": f"polling failed: HTTP {status}",
        "http_status": status,
    }
    with pytest.raises(expected) as caught:
        make_op(deferrable=True).execute_complete({}, event=event, deadline=START + 60)
    assert type(caught.value) is expected
    assert str(caught.value) == f"polling failed: HTTP {status}"
    assert getattr(caught.value, "status", None) == status
    assert requests_mock.call_count == 0


def test_execute_complete_with_a_task_in_error(make_op: Any, requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, json=OLD)
    requests_mock.put(URL, json=NEW)
    event = {"status": "success", "task": task("ERROR", error="volume busy")}

    with pytest.raises(GcoreTaskFailedError) as caught:
        make_op(deferrable=True, fail_on_lock_error=True).execute_complete({}, event=event, deadline=START + 60)
    assert caught.value.task_error == "volume busy"
    assert requests_mock.call_count == 0

    with capture_logs() as logs:
        assert make_op(deferrable=True).execute_complete({}, event=event, deadline=START + 60) == NEW
    assert any("volume busy" in line for line in info_lines(logs, "warning"))


def test_the_deferred_trigger_round_trip_resumes_and_writes(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trigger rebuilt from ``serialize()`` (as the triggerer does) yields an event execute_complete accepts."""
    requests_mock.get(URL, [{"json": locked()}, {"json": OLD}])
    requests_mock.put(URL, json=NEW)
    op = make_op(deferrable=True)
    with pytest.raises(TaskDeferred) as caught:
        op.execute({})
    classpath, kwargs = caught.value.trigger.serialize()
    module, _, name = classpath.rpartition(".")
    trigger = getattr(importlib.import_module(module), name)(**kwargs)

    states = iter(["NEW", "RUNNING", "FINISHED"])
    seen: list[str] = []
    pauses: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json=task(next(states)))

    async def fake_sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.now += seconds

    trigger.clock = clock
    trigger.sleep = fake_sleep

    async def first_event() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            monkeypatch.setattr(aio, "shared_client", lambda: client)
            async for event in trigger.run():
                return dict(event.payload)
        raise AssertionError("the trigger yielded nothing")

    event = asyncio.run(first_event())
    assert seen == [f"GET {TASK_PATH}"] * 3
    assert pauses == [5.0, 5.0]
    assert event["status"] == "success"

    resumed = make_op(deferrable=True)
    assert resumed.execute_complete({}, event=event, **caught.value.kwargs) == NEW
    assert calls(requests_mock) == [("GET", PROJECT_PATH), ("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]


def test_execute_complete_without_the_deadline_kwarg_gets_a_fresh_lock_timeout(
    make_op: Any, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    """``dag.test()`` resumes with ``{"event": ...}`` only, dropping the deferral's kwargs."""
    requests_mock.get(URL, [{"json": locked(OTHER_TASK)}, {"json": OLD}])
    requests_mock.put(URL, json=NEW)
    clock.now = START + 500

    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True, lock_timeout=60).execute_complete(
            {}, event={"status": "success", "task": task("FINISHED")}
        )
    assert caught.value.kwargs == {"deadline": START + 560}

    assert make_op(deferrable=True).execute_complete({}, event={"status": "success", "task": task("FINISHED")}) == NEW
