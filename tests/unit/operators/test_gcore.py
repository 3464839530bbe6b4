"""GcoreReplaceProjectOperator: lock-aware replace, exact request sequences, methods, validation, deferral.

No test sleeps: the blocking lock wait, the HTTP retries and the trigger all run on the virtual
clock (``clock.sleeps`` lists every pause, in order); the API is the scripted ``api``.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred
from fakes import START, FakeApi, Reply, VirtualClock, body_of, ok, run_virtual
from structlog.testing import capture_logs

from airflow_provider_projects import _clock
from airflow_provider_projects.defaults import DEFER_MARGIN
from airflow_provider_projects.errors import (
    AuthenticationError,
    ConcurrentChangeError,
    ConflictError,
    GcoreTaskFailedError,
    InvalidInputError,
    LockConflictError,
    LockWaitTimeoutError,
    MethodNotAllowedError,
    NotFoundError,
    ProjectsApiError,
    ServerError,
)
from airflow_provider_projects.hooks import gcore
from airflow_provider_projects.models.gcore import GcoreProject, GcoreProjectLock, GcoreTask
from airflow_provider_projects.operators._write_guard import GUARD_KEY
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger
from airflow_provider_projects.waiting import WaitOutcome

from .support import FakeStore, context

BASE = "https://api.gcore.test"
KEY = "gcore-operator-key-93c1f0e4d2b7"
PID = 42
PROJECT_PATH = f"/cloud/v1/projects/{PID}"
TASK_ID = "7244e161-664c-4afd-a34e-7003eac4d949"
TASK_PATH = f"/cloud/v1/tasks/{TASK_ID}"
OTHER_TASK = "0b6d7d3e-2f4a-4c8e-9a51-5c1f2e3d4b6a"
OTHER_PATH = f"/cloud/v1/tasks/{OTHER_TASK}"

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
DESIRED = {"name": NEW_NAME, "description": NEW_DESCRIPTION}


def locked(task_id: str = TASK_ID) -> Reply:
    return ok({**OLD, "task_id": task_id})


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


def gcore_error(status: int, exception_class: str, message: str) -> Reply:
    return Reply(status, {"exception_class": exception_class, "message": message, "request_id": f"req-{status}"})


def lock_409(task_id: str = TASK_ID) -> Reply:
    message = (
        f"Operation on resource `{PID}` currently locked by running task `update_project` with id `{task_id}` "
        "(2026-05-01 12:00:00) to prevent concurrent operations. Repeat request a little later. "
    )
    return gcore_error(409, "ConflictError", message)


def done_event(state: str = "FINISHED", error: str | None = None, **extra: Any) -> dict[str, Any]:
    """What GcoreTaskTrigger yields when the lock holder ended (a trigger deferred by an earlier version)."""
    value = GcoreTask.model_validate(task(state, error))
    return {**WaitOutcome("done", value=value, polls=3, waited=10.0).to_event(), **extra}


def unlocked_event(state: str | None = None, error: str | None = None, **extra: Any) -> dict[str, Any]:
    """What GcoreProjectUnlockedTrigger yields when the lock cleared; the holder only if it was read."""
    holder = GcoreTask.model_validate(task(state, error)) if state is not None else None
    value = GcoreProjectLock(project=GcoreProject.model_validate(OLD), holder=holder)
    last_seen = GcoreProjectLock(project=GcoreProject.model_validate({**OLD, "task_id": TASK_ID}))
    return {**WaitOutcome("done", value=value, last_seen=last_seen, polls=3, waited=10.0).to_event(), **extra}


#: Both events a resumed replace may get: from the trigger it defers to now, and from an earlier version's.
RESUMING_EVENTS = [pytest.param(unlocked_event, id="project-unlocked"), pytest.param(done_event, id="task-ended")]


#: A regression into a loop without pauses must fail the test, not hang it: these caps end it.
MAX_CLOCK_READS_WITHOUT_SLEEP = 1_000
MAX_REQUESTS = 500


class BusyLoopError(AssertionError):
    """The operator looped without pausing (never raised by the code under test)."""


@pytest.fixture(autouse=True)
def setup(monkeypatch: pytest.MonkeyPatch, clock: VirtualClock, api: FakeApi) -> Iterator[None]:
    monkeypatch.setenv("AIRFLOW_CONN_GCORE_DEFAULT", json.dumps({"conn_type": "gcore", "host": BASE, "password": KEY}))
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    gcore._put_removed.clear()
    reads = [0]
    sleep = _clock.sleep

    def now() -> float:
        reads[0] += 1
        if reads[0] > MAX_CLOCK_READS_WITHOUT_SLEEP:
            raise BusyLoopError(f"the clock was read {reads[0]} times without a sleep: a loop without pauses")
        return clock.now

    def counted_sleep(seconds: float) -> None:
        assert seconds >= 0
        reads[0] = 0
        sleep(seconds)

    answer = api.answer

    def capped(request: Any) -> Any:
        if len(api.requests) >= MAX_REQUESTS:
            raise BusyLoopError(f"more than {MAX_REQUESTS} requests: a loop without end")
        return answer(request)

    monkeypatch.setattr(_clock, "now", now)
    monkeypatch.setattr(_clock, "sleep", counted_sleep)
    monkeypatch.setattr(api, "answer", capped)
    yield
    gcore._put_removed.clear()


def make_op(**kwargs: Any) -> GcoreReplaceProjectOperator:
    args: dict[str, Any] = {
        "task_id": "replace",
        "project_id": PID,
        "name": NEW_NAME,
        "description": NEW_DESCRIPTION,
        "poll_interval": 5,
        "lock_timeout": 60,
        **kwargs,
    }
    return GcoreReplaceProjectOperator(**args)


def calls(api: FakeApi) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in api.requests]


def lines(logs: list[dict[str, Any]], level: str = "info") -> list[str]:
    """The operator's own log lines of one level (Airflow's "outside of the Task Runner" warning left out)."""
    found = []
    for entry in logs:
        if entry.get("log_level") != level or "outside of the Task Runner" in entry["event"]:
            continue
        args = entry.get("positional_args", ())
        found.append(entry["event"] % args if args else entry["event"])
    return found


# -- the happy path and the request on the wire --------------------------------------------------


def test_unlocked_project_is_read_then_replaced(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    result = make_op().execute({})

    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    put = api.requests[1]
    assert put.url == BASE + PROJECT_PATH
    assert body_of(put) == DESIRED
    assert put.headers["Authorization"] == f"APIKey {KEY}"
    assert put.headers["Content-Type"] == "application/json"
    assert put.headers["User-Agent"].startswith("airflow-provider-projects/")
    assert result == NEW
    assert clock.sleeps == []


def test_by_default_one_patch_carries_both_fields_and_a_description_not_given_is_sent_as_empty(
    api: FakeApi,
) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok({**NEW, "description": ""}))

    op = GcoreReplaceProjectOperator(task_id="replace", project_id=PID, name=NEW_NAME)
    assert (op.description, op.method) == (None, "PATCH")
    with capture_logs() as logs:
        result = op.execute({})

    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    # Both fields, always: PATCH changes only the fields sent, so omitting one would not replace it.
    assert body_of(api.requests[-1]) == {"name": NEW_NAME, "description": ""}
    assert lines(logs, "warning") == []
    assert result["description"] == ""


def test_method_put_sends_a_description_not_given_as_null(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PUT", PROJECT_PATH, ok({**NEW, "description": None}))

    result = make_op(method="PUT", description=None).execute({})

    assert calls(api) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]
    assert api.requests[-1].body is not None
    assert b'"description":null' in api.requests[-1].body
    assert result["description"] is None


@pytest.mark.parametrize(("description", "sent"), [(NEW_DESCRIPTION, NEW_DESCRIPTION), (None, "")])
def test_method_patch_sends_the_replacement_by_patch_only(api: FakeApi, description: str | None, sent: str) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok({**NEW, "description": sent}))

    result = make_op(method="PATCH", description=description).execute({})

    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    assert body_of(api.requests[-1]) == {"name": NEW_NAME, "description": sent}
    assert result["description"] == sent


def test_auto_falls_back_to_patch_on_405_and_the_next_task_goes_straight_to_patch(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PUT", PROJECT_PATH, gcore_error(405, "HTTPError", "HTTP 405: Method Not Allowed"))
    api.on("PATCH", PROJECT_PATH, ok({**NEW, "description": ""}))

    with capture_logs() as logs:
        first = make_op(method="auto", description=None).execute({})
        second = make_op(task_id="replace_again", method="auto", description=None).execute({})

    assert calls(api) == [
        ("GET", PROJECT_PATH),
        ("PUT", PROJECT_PATH),
        ("PATCH", PROJECT_PATH),
        ("GET", PROJECT_PATH),
        ("PATCH", PROJECT_PATH),
    ]
    assert body_of(api.requests[1]) == {"name": NEW_NAME, "description": None}
    assert body_of(api.requests[2]) == body_of(api.requests[4]) == {"name": NEW_NAME, "description": ""}
    assert first == second == {**NEW, "description": ""}
    # One line, naming the URL really sent (a template would become a broken link in the UI).
    assert lines(logs, "warning") == [
        f"Gcore answered 405 to PUT {BASE}{PROJECT_PATH}: PUT is deprecated (since 2025-12) and gone from "
        "Gcore's current API; sending the same replacement with PATCH, and PATCH first from now on for "
        "connection 'gcore_default' in this process. Leave method at its default ('PATCH') to skip the PUT."
    ]


def test_method_put_never_falls_back(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PUT", PROJECT_PATH, gcore_error(405, "HTTPError", "HTTP 405: Method Not Allowed"))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    with pytest.raises(MethodNotAllowedError) as caught:
        make_op(method="PUT").execute({})

    assert calls(api) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]
    assert "PATCH /cloud/v1/projects/{project_id}" in str(caught.value)
    assert "method='PATCH'" in str(caught.value)
    assert isinstance(caught.value, AirflowFailException)


def test_check_lock_false_writes_without_reading_first(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, locked())  # would make the pre-check wait
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    result = make_op(check_lock=False).execute({})

    assert calls(api) == [("PATCH", PROJECT_PATH)]
    assert result == NEW


def test_the_connection_id_is_used(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> None:
    other = "https://other.gcore.test"
    monkeypatch.setenv(
        "AIRFLOW_CONN_GCORE_OTHER", json.dumps({"conn_type": "gcore", "host": other, "password": "other-key-1234"})
    )
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    make_op(gcore_conn_id="gcore_other").execute({})

    assert [r.url for r in api.requests] == [other + PROJECT_PATH] * 2
    assert api.requests[-1].headers["Authorization"] == "APIKey other-key-1234"


@pytest.mark.parametrize(
    ("current", "description"),
    [
        pytest.param(NEW, NEW_DESCRIPTION, id="same-name-and-description"),
        pytest.param({**NEW, "description": None}, None, id="same-name-description-null"),
        pytest.param({**NEW, "description": ""}, None, id="cleared-by-patch-reads-empty"),
        pytest.param({**NEW, "description": None}, "", id="empty-wanted-null-stored"),
    ],
)
def test_a_project_already_in_the_desired_state_is_not_written(
    api: FakeApi, current: dict[str, Any], description: str | None
) -> None:
    api.on("GET", PROJECT_PATH, ok(current))
    api.on("PATCH", PROJECT_PATH, ok(current))

    result = make_op(description=description).execute({})

    assert calls(api) == [("GET", PROJECT_PATH)]
    assert result == current


@pytest.mark.parametrize(
    "current",
    [
        pytest.param({**NEW, "description": None}, id="description-differs"),
        pytest.param({**NEW, "name": "analytics-2025"}, id="name-differs"),
        pytest.param({**NEW, "description": ""}, id="empty-is-not-a-value"),
    ],
)
def test_a_project_differing_in_one_field_is_written(api: FakeApi, current: dict[str, Any]) -> None:
    api.on("GET", PROJECT_PATH, ok(current))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    make_op().execute({})

    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]


def test_the_return_value_is_the_api_body_and_json_serialisable(api: FakeApi) -> None:
    answer = {**NEW, "region_hint": {"a": [1, 2]}, "created_at": "2026-01-01T00:00:00+0000"}
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(answer))

    result = make_op().execute({})

    assert result == answer  # the API's field names, unknown fields included, values as sent
    assert json.loads(json.dumps(result)) == answer
    assert type(result) is dict


def test_one_concise_log_line_old_to_new_and_never_the_key(
    api: FakeApi, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok({**NEW, "description": OLD["description"]}))

    with capture_logs() as logs:
        make_op(description=OLD["description"]).execute({})

    info = lines(logs)
    assert len(info) == 1, info
    line = info[0]
    assert str(PID) in line
    assert f"name {OLD['name']!r} -> {NEW_NAME!r}" in line
    assert "description unchanged" in line
    assert "\n" not in line
    assert len(line) < 200
    captured = capsys.readouterr()
    everything = "\n".join([*(json.dumps(e, default=str) for e in logs), caplog.text, captured.out, captured.err])
    assert KEY not in everything


def test_the_key_is_not_logged_when_the_api_echoes_it(
    api: FakeApi, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    api.on("GET", PROJECT_PATH, gcore_error(401, "NotAuthenticated", f"Invalid token {KEY}"))

    with capture_logs() as logs, pytest.raises(AuthenticationError) as caught:
        make_op().execute({})

    captured = capsys.readouterr()
    everything = "\n".join([*(json.dumps(e, default=str) for e in logs), caplog.text, captured.out, captured.err])
    assert KEY not in everything
    assert KEY not in str(caught.value)


# -- waiting for locks (blocking) ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["auto", "PUT", "PATCH"])
def test_a_409_waits_for_the_named_task_then_writes_again(api: FakeApi, clock: VirtualClock, method: str) -> None:
    verb = "PATCH" if method == "PATCH" else "PUT"
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on(verb, PROJECT_PATH, lock_409(), ok(NEW))
    api.on("GET", TASK_PATH, *(ok(task(s)) for s in ("NEW", "RUNNING", "FINISHED")))

    result = make_op(method=method).execute({})

    assert calls(api) == [
        ("GET", PROJECT_PATH),
        (verb, PROJECT_PATH),
        ("GET", TASK_PATH),
        ("GET", TASK_PATH),
        ("GET", TASK_PATH),
        ("GET", PROJECT_PATH),
        (verb, PROJECT_PATH),
    ]
    assert [body_of(r) for r in api.sent(verb)] == [DESIRED] * 2
    assert result == NEW
    # One poll interval between task polls, none after FINISHED; the 409 itself is never retried.
    assert clock.sleeps == [5.0, 5.0]


def test_a_locked_project_is_waited_for_before_the_write(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, locked(), ok(OLD))
    api.on("GET", TASK_PATH, ok(task("RUNNING")), ok(task("FINISHED")))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    result = make_op(poll_interval=3).execute({})

    assert calls(api) == [
        ("GET", PROJECT_PATH),
        ("GET", TASK_PATH),
        ("GET", TASK_PATH),
        ("GET", PROJECT_PATH),
        ("PATCH", PROJECT_PATH),
    ]
    assert result == NEW
    assert clock.sleeps == [3.0]


def test_a_409_after_one_wait_waits_for_the_new_holder(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, lock_409(), lock_409(OTHER_TASK), ok(NEW))
    api.on("GET", TASK_PATH, ok(task("FINISHED")))
    api.on("GET", OTHER_PATH, ok(task("FINISHED", task_id=OTHER_TASK)))

    assert make_op().execute({}) == NEW

    assert [r.path for r in api.requests] == [
        PROJECT_PATH,
        PROJECT_PATH,
        TASK_PATH,
        PROJECT_PATH,
        PROJECT_PATH,
        OTHER_PATH,
        PROJECT_PATH,
        PROJECT_PATH,
    ]


def test_a_lock_holder_ending_in_error_is_reported_and_the_write_goes_ahead(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, locked(), ok(OLD))
    api.on("GET", TASK_PATH, ok(task("RUNNING")), ok(task("ERROR", error="disk quota exceeded")))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    with capture_logs() as logs:
        result = make_op().execute({})

    assert result == NEW
    assert calls(api)[-1] == ("PATCH", PROJECT_PATH)
    warned = lines(logs, "warning")
    assert len(warned) == 1, warned
    assert "ERROR" in warned[0]
    assert "disk quota exceeded" in warned[0]
    assert TASK_ID in warned[0]


def test_fail_on_lock_error_raises_with_the_task_error(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, lock_409(), ok(NEW))
    api.on("GET", TASK_PATH, ok(task("NEW")), ok(task("ERROR", error="disk quota exceeded")))

    with pytest.raises(GcoreTaskFailedError) as caught:
        make_op(fail_on_lock_error=True).execute({})

    assert caught.value.task_error == "disk quota exceeded"
    assert caught.value.task_id == TASK_ID
    assert "disk quota exceeded" in str(caught.value)
    assert isinstance(caught.value, AirflowFailException)
    assert len(api.sent("PATCH")) == 1  # no second write


def test_lock_timeout_names_the_holder_and_how_long_it_was_seen(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, locked())
    api.on("GET", TASK_PATH, ok(task("RUNNING")))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    with pytest.raises(LockWaitTimeoutError) as caught:
        make_op(poll_interval=2, lock_timeout=5).execute({})

    assert not [r for r in api.requests if r.method != "GET"]
    assert clock.sleeps == [2.0, 2.0, 1.0]  # the last pause is cut to the deadline
    assert clock.now == START + 5
    text = str(caught.value)
    assert f"Gcore project {PID} stayed locked past lock_timeout 5 s" in text
    assert f"task {TASK_ID} (update_project) is RUNNING" in text
    assert "seen holding the lock for 5 s over 4 poll(s)" in text
    assert "nothing was written" in text


def test_lock_timeout_after_a_409_writes_only_once(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, lock_409(), ok(NEW))
    api.on("GET", TASK_PATH, ok(task("RUNNING")))

    with pytest.raises(LockWaitTimeoutError, match=TASK_ID):
        make_op(poll_interval=4, lock_timeout=10).execute({})

    assert len(api.sent("PATCH")) == 1
    assert clock.now == START + 10


def test_the_lock_timeout_covers_every_wait_together(api: FakeApi, clock: VirtualClock) -> None:
    # Each lock ends, but a new one keeps appearing: the total wait is bounded by lock_timeout.
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, lock_409())
    api.on("GET", TASK_PATH, *[ok(task("RUNNING")), ok(task("FINISHED"))] * 50)

    with pytest.raises(LockWaitTimeoutError):
        make_op(poll_interval=4, lock_timeout=20).execute({})

    assert clock.now <= START + 20
    assert 2 <= len(api.sent("PATCH")) <= 6


def test_transient_poll_errors_are_ridden_out(api: FakeApi, clock: VirtualClock) -> None:
    busy = gcore_error(503, "HTTPError", "busy")
    api.on("GET", PROJECT_PATH, locked(), ok(OLD))
    api.on("GET", TASK_PATH, *[busy] * 5, ok(task("FINISHED")))  # one poll = 1 try + 4 retries
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    assert make_op(poll_interval=5).execute({}) == NEW
    # The HTTP core's backoff (half fixed, half jitter of 0.5) inside the failed poll, then one poll interval.
    assert clock.sleeps == [0.75, 1.5, 3.0, 6.0, 5.0]


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(f"Project with name `{NEW_NAME}` already exists.", id="another-conflict"),
        pytest.param("Resource is busy, try later", id="a-lock-in-other-words"),
    ],
)
def test_a_409_naming_no_holder_fails_without_reading_or_waiting(
    api: FakeApi, clock: VirtualClock, message: str
) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD), locked())  # a read after the 409 would find a lock
    api.on("PATCH", PROJECT_PATH, gcore_error(409, "ConflictError", message), ok(NEW))

    with pytest.raises(ConflictError) as caught:
        make_op().execute({})

    assert not isinstance(caught.value, LockConflictError)
    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    assert caught.value.status == 409
    assert message in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert clock.sleeps == []


def test_a_lock_still_reported_after_its_task_ended_is_waited_out_with_pauses(
    api: FakeApi, clock: VirtualClock
) -> None:
    api.on("GET", PROJECT_PATH, locked(), locked(), locked(), ok(OLD))
    api.on("GET", TASK_PATH, ok(task("FINISHED")))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    assert make_op(poll_interval=5).execute({}) == NEW

    assert calls(api) == [
        ("GET", PROJECT_PATH),
        ("GET", TASK_PATH),
        ("GET", PROJECT_PATH),
        ("GET", PROJECT_PATH),
        ("GET", PROJECT_PATH),
        ("PATCH", PROJECT_PATH),
    ]
    assert clock.sleeps == [5.0, 5.0]  # a pause before each read after the task ended, no back-to-back loop


def test_a_409_naming_an_ended_task_is_retried_with_pauses_within_the_lock_timeout(
    api: FakeApi, clock: VirtualClock
) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, lock_409())
    api.on("GET", TASK_PATH, ok(task("FINISHED")))

    with pytest.raises(LockWaitTimeoutError) as caught:
        make_op(poll_interval=5, lock_timeout=20).execute({})

    assert clock.now == START + 20
    assert clock.sleeps == [5.0] * 4
    assert len(api.sent("PATCH")) == 6  # at 0 (twice: before and after the wait), 5, 10, 15, 20
    assert len(api.sent("GET", TASK_PATH)) == 1
    assert f"still locked by task {TASK_ID} after lock_timeout 20 s" in str(caught.value)
    assert "nothing was written" in str(caught.value)


# -- failures that no retry can fix --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exception_class", "error_type"),
    [(404, "NotFoundError", NotFoundError), (401, "NotAuthenticated", AuthenticationError)],
)
@pytest.mark.parametrize("check_lock", [True, False], ids=["read-first", "write-first"])
def test_404_and_401_fail_at_once_with_one_request(
    *,
    api: FakeApi,
    clock: VirtualClock,
    status: int,
    exception_class: str,
    error_type: type[Exception],
    check_lock: bool,
) -> None:
    answer = gcore_error(status, exception_class, "nope")
    api.on("GET", PROJECT_PATH, answer)
    api.on("PATCH", PROJECT_PATH, answer)

    with pytest.raises(error_type) as caught:
        make_op(check_lock=check_lock).execute({})

    assert len(api.requests) == 1
    assert clock.sleeps == []
    assert isinstance(caught.value, AirflowFailException)
    assert getattr(caught.value, "status", None) == status


def test_404_while_polling_the_task_fails_at_once(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, locked())
    api.on("GET", TASK_PATH, gcore_error(404, "NotFoundError", "Task not found"))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    with pytest.raises(NotFoundError, match="Task not found"):
        make_op().execute({})

    assert calls(api) == [("GET", PROJECT_PATH), ("GET", TASK_PATH)]
    assert clock.sleeps == []


def test_a_500_on_the_write_is_not_retried(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, gcore_error(500, "InternalError", "boom"))

    with pytest.raises(ServerError):
        make_op().execute({})

    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    assert clock.sleeps == []


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
    pytest.param({"method": "put"}, "method", id="method-lower-case"),
    pytest.param({"method": "POST"}, "method", id="method-unknown"),
    pytest.param({"poll_interval": 0}, "poll_interval", id="poll-zero"),
    pytest.param({"poll_interval": -1}, "poll_interval", id="poll-negative"),
    pytest.param({"lock_timeout": 0}, "lock_timeout", id="timeout-zero"),
    pytest.param({"lock_timeout": "60"}, "lock_timeout", id="timeout-text"),
]


@pytest.mark.parametrize(("change", "field"), BAD_LITERALS)
def test_literal_input_is_refused_at_construction_naming_the_task(
    api: FakeApi, change: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"task_id": "rename_analytics", "project_id": PID, "name": NEW_NAME, **change}
    with pytest.raises(InvalidInputError) as caught:
        GcoreReplaceProjectOperator(**args)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"Task 'rename_analytics': {field} ")
    assert caught.value.rule and caught.value.rule in str(caught.value)
    assert isinstance(caught.value, AirflowFailException)
    assert api.requests == []


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
    api: FakeApi, params: dict[str, Any], field: str
) -> None:
    op = make_op(**TEMPLATED)  # templates are not judged at construction
    op.render_template_fields({"params": {**GOOD_PARAMS, **params}})

    with pytest.raises(InvalidInputError) as caught:
        op.execute({})

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field} ")
    assert api.requests == []


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("project_id", "0"), ("name", "x"), ("description", "d" * 300), ("name", 123)],
)
def test_attributes_set_invalid_after_construction_fail_at_execute(api: FakeApi, attribute: str, value: Any) -> None:
    op = make_op(**TEMPLATED)
    op.render_template_fields({"params": GOOD_PARAMS})
    setattr(op, attribute, value)

    with pytest.raises(InvalidInputError) as caught:
        op.execute({})
    assert caught.value.field == attribute
    assert api.requests == []


def test_invalid_rendering_fails_execute_complete_too(api: FakeApi) -> None:
    op = make_op(**TEMPLATED)
    op.render_template_fields({"params": {**GOOD_PARAMS, "name": "!!"}})
    with pytest.raises(InvalidInputError):
        op.execute_complete({}, event=done_event(), deadline=START + 60)
    assert api.requests == []


def test_templated_input_rendered_valid_is_sent(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    op = make_op(**TEMPLATED)
    assert GcoreReplaceProjectOperator.template_fields == ("project_id", "name", "description")
    op.render_template_fields({"params": GOOD_PARAMS})
    assert op.project_id == str(PID)

    assert op.execute({}) == NEW
    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    assert body_of(api.requests[-1]) == DESIRED


# -- deferrable mode -----------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "expected"), [("True", True), ("False", False)])
def test_deferrable_defaults_to_the_airflow_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str, expected: bool
) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    assert GcoreReplaceProjectOperator(task_id="r", project_id=PID, name=NEW_NAME).deferrable is expected
    explicit = GcoreReplaceProjectOperator(task_id="r", project_id=PID, name=NEW_NAME, deferrable=not expected)
    assert explicit.deferrable is not expected


def assert_defers_on(
    deferred: TaskDeferred, holder: str, deadline: float, remaining: float, read_holder: bool = False
) -> None:
    trigger = deferred.trigger
    assert isinstance(trigger, GcoreProjectUnlockedTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_projects.triggers.gcore.GcoreProjectUnlockedTrigger"
    assert kwargs == {
        "project_id": int(PID),
        "lock_task_id": holder,
        **({} if read_holder else {"read_holder": False}),
        "deadline": deadline,
        "gcore_conn_id": "gcore_default",
        "poll_interval": 5.0,
        "max_consecutive_errors": 5,
    }
    assert KEY not in json.dumps(kwargs)  # JSON-safe, and without the key
    assert deferred.method_name == "execute_complete"
    assert deferred.kwargs == {"deadline": deadline}
    assert deferred.timeout == timedelta(seconds=remaining + DEFER_MARGIN)


def test_deferrable_locked_project_defers_on_the_project_unlocked_trigger(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, locked())
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True, lock_timeout=90).execute({})

    assert_defers_on(caught.value, TASK_ID, START + 90, 90)
    assert calls(api) == [("GET", PROJECT_PATH)]  # no task polls on the worker
    assert clock.sleeps == []


def test_deferrable_409_defers_on_the_task_named_in_the_error(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, lock_409())

    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True, lock_timeout=60).execute({})

    assert_defers_on(caught.value, TASK_ID, START + 60, 60)
    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    assert clock.sleeps == []


def test_deferrable_unlocked_project_writes_without_deferring(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    assert make_op(deferrable=True).execute({}) == NEW


def test_the_triggerer_never_reads_the_holder_for_the_operator(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, locked())
    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True, lock_timeout=90, fail_on_lock_error=True).execute({})
    assert_defers_on(caught.value, TASK_ID, START + 90, 90)  # read_holder False, fail_on_lock_error or not


@pytest.mark.parametrize(("state", "fails"), [("ERROR", True), ("FINISHED", False)])
def test_fail_on_lock_error_reads_the_holder_once_on_resuming(api: FakeApi, state: str, fails: bool) -> None:
    api.on("GET", TASK_PATH, ok(task(state, "volume busy" if fails else None)))
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    event = {**unlocked_event(), "lock_task_id": TASK_ID}  # the trigger names the holder, unread
    op = make_op(deferrable=True, fail_on_lock_error=True)
    if fails:
        with pytest.raises(GcoreTaskFailedError, match="volume busy"):
            op.execute_complete({}, event=event, deadline=START + 60)
        assert calls(api) == [("GET", TASK_PATH)]  # nothing written
    else:
        assert op.execute_complete({}, event=event, deadline=START + 60) == NEW
        assert calls(api) == [("GET", TASK_PATH), ("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]


def test_without_fail_on_lock_error_the_holder_is_not_read_on_resuming(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    event = {**unlocked_event(), "lock_task_id": TASK_ID}
    assert make_op(deferrable=True).execute_complete({}, event=event, deadline=START + 60) == NEW
    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]


def test_a_holder_that_cannot_be_read_on_resuming_is_logged_and_the_write_goes_ahead(api: FakeApi) -> None:
    api.on("GET", TASK_PATH, Reply(404, {"exception_class": "NotFoundError", "message": "Task not found"}))
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    event = {**unlocked_event(), "lock_task_id": TASK_ID}
    with capture_logs() as logs:
        assert make_op(deferrable=True, fail_on_lock_error=True).execute_complete({}, event=event) == NEW
    assert f"Gcore task {TASK_ID}, which held the lock, could not be found (HTTP 404): how it ended is unknown" in (
        lines(logs, "warning")
    )


def test_a_holder_that_fails_to_read_on_resuming_is_logged_with_the_error(api: FakeApi) -> None:
    api.on("GET", TASK_PATH, Reply(403, {"exception_class": "Forbidden", "message": "no"}))
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    event = {**unlocked_event(), "lock_task_id": TASK_ID}
    with capture_logs() as logs:
        assert make_op(deferrable=True, fail_on_lock_error=True).execute_complete({}, event=event) == NEW
    assert lines(logs, "warning") == [
        f"Could not read how Gcore task {TASK_ID}, which held the lock, ended: Gcore Cloud GET {TASK_PATH} failed: "
        "HTTP 403 Forbidden: no. The key is valid but may not do this: check its permissions in the Gcore portal"
    ]


@pytest.mark.parametrize("event", RESUMING_EVENTS)
def test_execute_complete_after_the_holder_ended_reads_and_writes(api: FakeApi, event: Any) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    result = make_op(deferrable=True).execute_complete({}, event=event(), deadline=START + 30)

    assert result == NEW
    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    assert body_of(api.requests[-1]) == DESIRED


@pytest.mark.parametrize("event", RESUMING_EVENTS)
def test_execute_complete_pauses_for_an_ended_holder_instead_of_deferring_again(
    api: FakeApi, clock: VirtualClock, event: Any
) -> None:
    api.on("GET", PROJECT_PATH, locked(), ok(OLD))  # Gcore still reports the lock of the task that ended
    api.on("PATCH", PROJECT_PATH, ok(NEW))

    result = make_op(deferrable=True).execute_complete({}, event=event(), deadline=START + 30)

    assert result == NEW
    assert calls(api) == [("GET", PROJECT_PATH), ("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]
    assert clock.sleeps == [5.0]


def test_execute_complete_defers_again_with_the_same_deadline(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, lock_409(OTHER_TASK))
    clock.now = START + 20

    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True).execute_complete({}, event=done_event(), deadline=START + 50)

    assert_defers_on(caught.value, OTHER_TASK, START + 50, 30)


def test_execute_complete_past_the_deadline_with_the_project_still_locked_times_out(
    api: FakeApi, clock: VirtualClock
) -> None:
    api.on("GET", PROJECT_PATH, locked(OTHER_TASK))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    clock.now = START + 61

    with pytest.raises(LockWaitTimeoutError) as caught:
        make_op(deferrable=True).execute_complete({}, event=done_event(), deadline=START + 60)
    assert calls(api) == [("GET", PROJECT_PATH)]
    assert f"still locked by task {OTHER_TASK}" in str(caught.value)


def test_execute_complete_after_a_timeout_names_the_holder_and_writes_nothing(api: FakeApi) -> None:
    holder = GcoreTask.model_validate(task("RUNNING"))
    event = {
        **WaitOutcome("timeout", last_seen=holder, polls=9, waited=57.4).to_event(),
        "deadline": START + 60,
    }

    with pytest.raises(LockWaitTimeoutError) as caught:
        make_op(deferrable=True).execute_complete({}, event=event, deadline=START + 60)

    text = str(caught.value)
    assert f"Gcore project {PID} stayed locked past lock_timeout 60 s" in text
    assert f"task {TASK_ID} (update_project) is RUNNING" in text
    assert "seen holding the lock for 57 s over 9 poll(s)" in text
    assert "nothing was written" in text
    assert api.requests == []


def test_execute_complete_after_a_timeout_without_a_holder_read(api: FakeApi) -> None:
    event = WaitOutcome("timeout", polls=0, waited=0.0).to_event()
    with pytest.raises(LockWaitTimeoutError, match=r"the lock holder \(never read\)"):
        make_op(deferrable=True).execute_complete({}, event=event, deadline=START + 60)
    assert api.requests == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (AuthenticationError("polling failed: HTTP 401", status=401), AuthenticationError),
        (NotFoundError("polling failed: HTTP 404", status=404), NotFoundError),
        (ServerError("polling failed: HTTP 503", status=503), ServerError),
    ],
)
def test_execute_complete_after_an_error_raises_the_typed_error(
    api: FakeApi, error: ProjectsApiError, expected: type[Exception]
) -> None:
    event = WaitOutcome("error", error=error, polls=2).to_event()
    with pytest.raises(expected) as caught:
        make_op(deferrable=True).execute_complete({}, event=event, deadline=START + 60)
    assert type(caught.value) is expected
    assert str(caught.value) == str(error)
    assert getattr(caught.value, "status", None) == error.status
    assert api.requests == []


def test_execute_complete_with_an_unreadable_event_fails(api: FakeApi) -> None:
    with pytest.raises(ProjectsApiError, match="unreadable event"):
        make_op(deferrable=True).execute_complete({}, event={"status": "success"}, deadline=START + 60)
    assert api.requests == []


@pytest.mark.parametrize("make_event", RESUMING_EVENTS)
def test_execute_complete_with_a_task_in_error(api: FakeApi, make_event: Any) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    event = make_event("ERROR", error="volume busy")

    with pytest.raises(GcoreTaskFailedError) as caught:
        make_op(deferrable=True, fail_on_lock_error=True).execute_complete({}, event=event, deadline=START + 60)
    assert caught.value.task_error == "volume busy"
    assert api.requests == []

    with capture_logs() as logs:
        assert make_op(deferrable=True).execute_complete({}, event=event, deadline=START + 60) == NEW
    assert any("volume busy" in line for line in lines(logs, "warning"))


def test_the_deferred_trigger_round_trip_resumes_and_writes(
    api: FakeApi, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trigger rebuilt from ``serialize()`` (as the triggerer does) yields an event execute_complete accepts."""
    api.on("GET", PROJECT_PATH, locked(), locked(), locked(), ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True).execute({})
    classpath, kwargs = caught.value.trigger.serialize()
    module, _, name = classpath.rpartition(".")
    trigger = getattr(importlib.import_module(module), name)(**kwargs)

    # The env-var backend's async read hands off to a worker thread, which virtual time cannot
    # wait for; the connection itself is not what this test is about.
    async def aget_connection(conn_id: str) -> Any:
        return BaseHook.get_connection(conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", aget_connection)

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger yielded nothing")

    event = run_virtual(clock, first_event())
    assert calls(api)[1:] == [("GET", PROJECT_PATH)] * 3  # the project until unlocked; no task read
    assert clock.sleeps == [5.0, 5.0]
    assert event["status"] == "done"
    assert event["deadline"] == START + 60
    assert json.loads(json.dumps(event)) == event

    resumed = make_op(deferrable=True)
    assert resumed.execute_complete({}, event=event, **caught.value.kwargs) == NEW
    assert calls(api)[4:] == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]


def test_execute_complete_without_the_deadline_kwarg_reads_it_from_the_event(api: FakeApi, clock: VirtualClock) -> None:
    """``dag.test()`` resumes with ``{"event": ...}`` only, dropping the deferral's kwargs."""
    api.on("GET", PROJECT_PATH, locked(OTHER_TASK))
    clock.now = START + 20

    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True).execute_complete({}, event=done_event(deadline=START + 50))
    assert caught.value.kwargs == {"deadline": START + 50}


def test_execute_complete_without_any_deadline_gets_a_fresh_lock_timeout(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, locked(OTHER_TASK), ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    clock.now = START + 500

    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True, lock_timeout=60).execute_complete({}, event=done_event())
    assert caught.value.kwargs == {"deadline": START + 560}

    assert make_op(deferrable=True).execute_complete({}, event=done_event()) == NEW


# -- the write guard, as this operator uses it (issue 19: only test_write_guard.py covered it) -----


def store_context(store: Any, try_number: int) -> dict[str, Any]:
    from .test_write_guard import context

    return context(store, try_number)


def test_the_write_in_flight_is_recorded_then_forgotten(api: FakeApi) -> None:
    from airflow_provider_projects.operators._write_guard import GUARD_KEY

    from .test_write_guard import FakeStore

    store = FakeStore()
    in_flight: list[Any] = []

    def put(request: Any) -> Reply:
        in_flight.append(store.get(GUARD_KEY))
        return ok(NEW)

    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PUT", PROJECT_PATH, put)
    assert make_op(method="PUT").execute(store_context(store, try_number=1)) == NEW
    [record] = in_flight
    assert record["try_number"] == 1
    assert record["value"]["desired"] == DESIRED
    assert record["value"]["before"] == {"name": OLD["name"], "description": OLD["description"]}
    assert store.values == {}  # settled: forgotten


def test_a_retry_finds_the_write_of_the_try_that_crashed_applied_and_sends_nothing(api: FakeApi) -> None:
    from .test_write_guard import FakeStore, earlier

    store = FakeStore(earlier(DESIRED, {"name": OLD["name"], "description": OLD["description"]}))
    api.on("GET", PROJECT_PATH, ok(NEW))
    assert make_op(method="PUT").execute(store_context(store, try_number=2)) == NEW
    assert calls(api) == [("GET", PROJECT_PATH)]
    assert store.values == {}


def test_a_retry_refuses_to_overwrite_a_change_made_since_the_crash_and_forgets_the_write(api: FakeApi) -> None:
    from airflow_provider_projects.errors import ConcurrentChangeError

    from .test_write_guard import FakeStore, earlier

    store = FakeStore(earlier(DESIRED, {"name": OLD["name"], "description": OLD["description"]}))
    theirs = {**OLD, "name": "renamed-by-ops"}
    api.on("GET", PROJECT_PATH, ok(theirs))
    with pytest.raises(ConcurrentChangeError, match="renamed-by-ops"):
        make_op(method="PUT").execute(store_context(store, try_number=2))
    assert calls(api) == [("GET", PROJECT_PATH)]
    assert store.values == {}  # the refusal is final: a cleared task then applies the change


def test_one_run_reads_its_connection_once(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    real = BaseHook.get_connection.__func__  # type: ignore[attr-defined]
    reads: list[str] = []

    def counted(cls: Any, conn_id: str) -> Any:
        reads.append(conn_id)
        return real(cls, conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(counted))
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PUT", PROJECT_PATH, ok(NEW))
    assert make_op(method="PUT").execute({}) == NEW  # type: ignore[arg-type]
    assert calls(api) == [("GET", PROJECT_PATH), ("PUT", PROJECT_PATH)]
    assert reads == ["gcore_default"]  # one hook for the read and the write


# -- the operator's own log lines, read exactly --------------------------------------------------


def test_a_wait_then_a_409_then_the_write_log_what_happened(api: FakeApi) -> None:
    other = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
    api.on("GET", PROJECT_PATH, locked(), ok(OLD), ok(OLD))
    api.on("GET", TASK_PATH, ok(task("FINISHED")))
    api.on("GET", f"/cloud/v1/tasks/{other}", ok(task("FINISHED", task_id=other)))
    api.on("PATCH", PROJECT_PATH, lock_409(other), ok(NEW))

    with capture_logs() as logs:
        make_op().execute({})

    said = lines(logs)
    assert f"Gcore project {PID} is locked by task {TASK_ID}; waiting" in said
    assert f"Gcore project {PID} was locked meanwhile (task {other}); waiting" in said
    assert said[-1] == (
        f"Gcore project {PID}: name 'analytics' -> '{NEW_NAME}'; description 'Dashboards' -> '{NEW_DESCRIPTION}'"
    )


def test_nothing_sent_is_said_naming_the_project(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(NEW))
    with capture_logs() as logs:
        make_op().execute({})
    assert lines(logs) == [f"Gcore project {PID} already has this name and description; nothing sent"]


# -- a retry after a crash mid-write (the write guard, through the operator) ----------------------


def crashed_try(desired: dict[str, Any], before: dict[str, Any]) -> FakeStore:
    """The task state store as try 1 left it when it crashed with ``desired`` in flight."""
    value = {"desired": desired, "before": before, "started_at": "2026-11-23T10:00:00+00:00"}
    return FakeStore({GUARD_KEY: {"try_number": 1, "value": value}})


def test_a_retry_refuses_a_newer_change_saying_exactly_what_changed(api: FakeApi) -> None:
    someone_elses = {**OLD, "name": "renamed-by-ops", "description": "hands off"}
    api.on("GET", PROJECT_PATH, ok(someone_elses))
    store = crashed_try(DESIRED, {"name": "analytics", "description": "Dashboards"})

    with pytest.raises(ConcurrentChangeError) as refused:
        make_op().execute(context(store, try_number=2))

    assert str(refused.value) == (
        f"Gcore project {PID} changed since try 1 of this task started writing {DESIRED}: it held "
        "{'name': 'analytics', 'description': 'Dashboards'} then and holds "
        "{'name': 'renamed-by-ops', 'description': 'hands off'} now. Not overwriting a newer change; clear the "
        "task to apply this one anyway."
    )
    assert calls(api) == [("GET", PROJECT_PATH)]


def test_a_retry_whose_change_was_edited_since_the_crash_writes_the_new_one(api: FakeApi) -> None:
    # The DAG now asks for another replacement than the crashed try did: nothing of that try is
    # judged, whatever the project holds now.
    someone_elses = {**OLD, "name": "renamed-by-ops", "description": "hands off"}
    api.on("GET", PROJECT_PATH, ok(someone_elses))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    store = crashed_try({"name": "analytics-2025", "description": "Q3"}, {"name": "analytics", "description": None})

    assert make_op().execute(context(store, try_number=2)) == NEW
    assert calls(api) == [("GET", PROJECT_PATH), ("PATCH", PROJECT_PATH)]


# -- the lock wait's own lines, bounds and bookkeeping (operators/_lock_wait.py) ------------------


def test_deferring_says_on_what_and_how_often_under_the_tasks_connection(
    monkeypatch: pytest.MonkeyPatch, api: FakeApi
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GCORE_OPS", json.dumps({"conn_type": "gcore", "host": BASE, "password": KEY}))
    api.on("GET", PROJECT_PATH, locked())
    with capture_logs() as logs, pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True, gcore_conn_id="gcore_ops").execute({})
    assert lines(logs)[-1] == (
        f"Deferring: the triggerer waits for Gcore project {PID} to be unlocked (task {TASK_ID} holds it), every 5 s"
    )
    assert caught.value.trigger.serialize()[1]["gcore_conn_id"] == "gcore_ops"


def test_a_wait_that_times_out_in_the_triggerer_says_what_to_do(api: FakeApi) -> None:
    last_seen = GcoreProjectLock(project=GcoreProject.model_validate({**OLD, "task_id": TASK_ID}))
    event = WaitOutcome("timeout", last_seen=last_seen, polls=12, waited=60.0).to_event()
    with pytest.raises(LockWaitTimeoutError) as caught:
        make_op(deferrable=True).execute_complete({}, event=event, deadline=START + 60)
    assert str(caught.value) == (
        f"Gcore project {PID} stayed locked past lock_timeout 60 s: {last_seen.summary()}, seen holding the lock for "
        "60 s over 12 poll(s); nothing was written. Raise lock_timeout, or look into that task in Gcore."
    )
    never_read = WaitOutcome("timeout", polls=0, waited=60.0).to_event()
    with pytest.raises(LockWaitTimeoutError, match="lock_timeout 60 s: the lock holder \\(never read\\), seen"):
        make_op(deferrable=True).execute_complete({}, event=never_read, deadline=START + 60)
    assert api.requests == []


def test_a_holder_that_ended_in_error_is_warned_of_and_the_replace_goes_ahead(api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(OLD))
    api.on("PATCH", PROJECT_PATH, ok(NEW))
    with capture_logs() as logs:
        make_op(deferrable=True).execute_complete({}, event=unlocked_event("ERROR", "volume busy"), deadline=START + 60)
    (warned,) = lines(logs, "warning")
    assert warned.endswith("; the lock is gone, so the replace goes ahead")
    assert "volume busy" in warned


def test_a_resumed_wait_knows_every_holder_it_saw_end() -> None:
    event = unlocked_event("FINISHED")
    other = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
    event["value"]["holder"]["id"] = other  # the holder read at the end differs from the one seen locking
    assert make_op().resumed(event, PID) == {other, TASK_ID}


def test_a_lock_reported_by_an_ended_task_pauses_and_says_so(api: FakeApi, clock: VirtualClock) -> None:
    with capture_logs() as logs:
        make_op(poll_interval=5).wait_for_lock(TASK_ID, PID, clock.now + 60, {TASK_ID})
    assert lines(logs) == [f"Gcore task {TASK_ID} has ended but the lock is still reported; pausing"]
    assert clock.sleeps == [5.0]


def test_under_a_second_left_still_waits(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PROJECT_PATH, locked())
    with pytest.raises(TaskDeferred) as caught:
        make_op(deferrable=True).wait_for_lock(TASK_ID, PID, clock.now + 0.5, set())
    assert caught.value.trigger.serialize()[1]["deadline"] == clock.now + 0.5
