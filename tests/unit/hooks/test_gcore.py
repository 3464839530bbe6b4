"""GcoreHook: the exact requests it sends (PUT, PATCH and the auto fallback), the input it refuses
before sending, how it fails, and the blocking task wait."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fakes import FakeApi, Reply, VirtualClock, body_of, ok, run_virtual
from samples import TASK_ID
from structlog.testing import capture_logs

from airflow_provider_projects import __version__
from airflow_provider_projects.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    LockConflictError,
    MethodNotAllowedError,
    NotFoundError,
)
from airflow_provider_projects.hooks import gcore
from airflow_provider_projects.hooks.gcore import GcoreHook
from airflow_provider_projects.models.gcore import GcoreProject, GcoreTask

BASE = "https://api.gcore.test"
KEY = "gcore-unit-key-6f1d2c9a8b7e"
PID = 42
PATH = f"/cloud/v1/projects/{PID}"
TASK_PATH = f"/cloud/v1/tasks/{TASK_ID}"

PROJECT: dict[str, Any] = {
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
TASK: dict[str, Any] = {
    "id": TASK_ID,
    "user_id": 1001,
    "task_type": "update_project",
    "state": "RUNNING",
    "created_on": "2026-05-01T12:00:00",
    "updated_on": None,
    "finished_on": None,
    "error": None,
    "project_id": 7,
    "region_id": None,
}
NEW = {**PROJECT, "name": "analytics-2026", "description": "Q4 data"}


def gcore_error(status: int, exception_class: str, message: str) -> Reply:
    return Reply(status, {"exception_class": exception_class, "message": message, "request_id": f"req-{status}"})


def lock_409(task_id: str = TASK_ID) -> Reply:
    message = (
        f"Operation on resource `{PID}` currently locked by running task `update_project` with id `{task_id}` "
        "(2026-05-01 12:00:00) to prevent concurrent operations. Repeat request a little later. "
    )
    return gcore_error(409, "ConflictError", message)


GONE_405 = gcore_error(405, "HTTPError", "HTTP 405: Method Not Allowed")


@pytest.fixture(autouse=True)
def gcore_conn(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AIRFLOW_CONN_GCORE_DEFAULT", json.dumps({"conn_type": "gcore", "host": BASE, "password": KEY}))
    gcore._put_removed.clear()  # the per-process memory of a removed PUT must not leak between tests
    yield
    gcore._put_removed.clear()


@pytest.fixture
def hook(clock: VirtualClock) -> Iterator[GcoreHook]:
    """The default connection; HTTP retry pauses land on the virtual clock."""
    made = GcoreHook()
    yield made
    made.close()


def calls(api: FakeApi) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in api.requests]


def warnings_in(logs: list[dict[str, Any]]) -> list[str]:
    lines = []
    for entry in logs:
        if entry.get("log_level") != "warning" or "outside of the Task Runner" in entry["event"]:
            continue
        args = entry.get("positional_args", ())
        lines.append(entry["event"] % args if args else entry["event"])
    return lines


# -- the replace request on the wire ------------------------------------------------------------


def test_replace_by_default_sends_one_patch_with_both_fields(hook: GcoreHook, api: FakeApi) -> None:
    api.on("PATCH", PATH, ok({**PROJECT, "name": "analytics-2026", "description": ""}))

    with capture_logs() as logs:
        result = hook.replace_project(PID, name="analytics-2026")

    [sent] = api.requests
    assert (sent.method, sent.url) == ("PATCH", BASE + PATH)
    assert sent.headers["Authorization"] == f"APIKey {KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    # Both keys: PATCH changes only the fields sent; its spec types description as a string, so "".
    assert body_of(sent) == {"name": "analytics-2026", "description": ""}
    assert warnings_in(logs) == []
    assert (result.name, result.description) == ("analytics-2026", "")


def test_put_without_description_sends_description_null(hook: GcoreHook, api: FakeApi) -> None:
    api.on("PUT", PATH, ok({**PROJECT, "name": "analytics-2026", "description": None}))

    result = hook.replace_project(PID, name="analytics-2026", method="PUT")

    [sent] = api.requests
    assert (sent.method, sent.url) == ("PUT", BASE + PATH)
    assert sent.headers["Authorization"] == f"APIKey {KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"].startswith(f"airflow-provider-projects/{__version__} apache-airflow/")
    # Both keys present: a PUT replaces the record, so "not given" must be sent as null.
    assert body_of(sent) == {"name": "analytics-2026", "description": None}
    assert b'"description":null' in sent.body
    assert isinstance(result, GcoreProject)
    assert (result.name, result.description) == ("analytics-2026", None)


@pytest.mark.parametrize("method", ["auto", "PUT"])
def test_replace_with_description_sends_it(hook: GcoreHook, api: FakeApi, method: Any) -> None:
    api.on("PUT", PATH, ok(NEW))

    hook.replace_project(str(PID), name="analytics-2026", description="Q4 data", method=method)

    assert calls(api) == [("PUT", PATH)]
    assert body_of(api.requests[0]) == {"name": "analytics-2026", "description": "Q4 data"}


@pytest.mark.parametrize(
    ("description", "sent"),
    [(None, ""), ("", ""), ("Q4 data", "Q4 data")],
    ids=["cleared-is-empty-string", "empty", "value"],
)
def test_patch_sends_both_fields_and_never_a_null_description(
    hook: GcoreHook, api: FakeApi, description: str | None, sent: str
) -> None:
    api.on("PATCH", PATH, ok({**PROJECT, "name": "analytics-2026", "description": sent}))

    hook.replace_project(PID, name="analytics-2026", description=description, method="PATCH")

    assert calls(api) == [("PATCH", PATH)]  # PATCH never tries PUT
    request = api.requests[0]
    assert request.headers["Authorization"] == f"APIKey {KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert body_of(request) == {"name": "analytics-2026", "description": sent}
    assert b"null" not in request.body


def test_auto_on_405_sends_the_same_replacement_by_patch_and_warns_once(hook: GcoreHook, api: FakeApi) -> None:
    api.on("PUT", PATH, GONE_405)
    api.on("PATCH", PATH, ok({**PROJECT, "name": "analytics-2026", "description": ""}))

    with capture_logs() as logs:
        first = hook.replace_project(PID, name="analytics-2026", method="auto")
        second = hook.replace_project(PID, name="analytics-2026", description="Q4 data", method="auto")
        # another hook, same process and connection
        third = GcoreHook().replace_project(PID, name="analytics-2026", method="auto")

    assert calls(api) == [("PUT", PATH), ("PATCH", PATH), ("PATCH", PATH), ("PATCH", PATH)]
    assert [body_of(r) for r in api.requests] == [
        {"name": "analytics-2026", "description": None},
        {"name": "analytics-2026", "description": ""},
        {"name": "analytics-2026", "description": "Q4 data"},
        {"name": "analytics-2026", "description": ""},
    ]
    assert first.name == second.name == third.name == "analytics-2026"
    warned = warnings_in(logs)
    assert len(warned) == 1, warned
    assert "405" in warned[0]
    assert "PATCH" in warned[0]
    assert "'gcore_default'" in warned[0]
    assert "method at its default ('PATCH')" in warned[0]
    assert KEY not in warned[0]
    assert gcore._put_removed == {("gcore_default", BASE)}


def test_two_replacements_racing_into_the_405_warn_once(hook: GcoreHook, api: FakeApi) -> None:
    """Two tasks of one process (threads) both send PUT before either has learnt it is gone."""
    racing: list[GcoreProject | None] = []

    def gone(request: Any) -> Reply:
        if not racing:  # while the first PUT is in flight, a second replacement runs to its end
            racing.append(None)
            racing[0] = GcoreHook().replace_project(PID, name="analytics-2026", method="auto")
        return GONE_405

    api.on("PUT", PATH, gone)
    api.on("PATCH", PATH, ok({**PROJECT, "name": "analytics-2026", "description": ""}))

    with capture_logs() as logs:
        hook.replace_project(PID, name="analytics-2026", method="auto")

    assert calls(api) == [("PUT", PATH), ("PUT", PATH), ("PATCH", PATH), ("PATCH", PATH)]
    assert racing[0] is not None
    assert racing[0].name == "analytics-2026"
    assert len(warnings_in(logs)) == 1, warnings_in(logs)


def test_the_memory_of_a_removed_put_is_per_connection(
    hook: GcoreHook, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GCORE_OTHER", json.dumps({"conn_type": "gcore", "host": BASE, "password": "other-key-1"})
    )
    api.on("PUT", PATH, GONE_405, ok(NEW))
    api.on("PATCH", PATH, ok(NEW))

    hook.replace_project(PID, name="analytics-2026", description="Q4 data", method="auto")
    GcoreHook("gcore_other").replace_project(PID, name="analytics-2026", description="Q4 data", method="auto")

    assert calls(api) == [("PUT", PATH), ("PATCH", PATH), ("PUT", PATH)]


def test_put_never_falls_back_and_names_the_patch_successor(hook: GcoreHook, api: FakeApi) -> None:
    api.on("PUT", PATH, GONE_405)
    api.on("PATCH", PATH, ok(NEW))

    with capture_logs() as logs, pytest.raises(MethodNotAllowedError) as caught:
        hook.replace_project(PID, name="analytics-2026", method="PUT")

    assert calls(api) == [("PUT", PATH)]
    assert caught.value.status == 405
    text = str(caught.value)
    assert "PATCH /cloud/v1/projects/{project_id}" in text
    assert "method='auto'" in text
    assert "method='PATCH'" in text
    assert warnings_in(logs) == []
    assert gcore._put_removed == set()  # an explicit PUT teaches auto nothing

    with pytest.raises(MethodNotAllowedError):  # and is tried again next time
        hook.replace_project(PID, name="analytics-2026", method="PUT")
    assert calls(api) == [("PUT", PATH), ("PUT", PATH)]


def test_a_405_on_patch_is_raised(hook: GcoreHook, api: FakeApi) -> None:
    api.on("PUT", PATH, GONE_405)
    api.on("PATCH", PATH, gcore_error(405, "HTTPError", "HTTP 405: Method Not Allowed"))

    with pytest.raises(MethodNotAllowedError) as caught:
        hook.replace_project(PID, name="analytics-2026", method="auto")

    assert calls(api) == [("PUT", PATH), ("PATCH", PATH)]
    assert caught.value.method == "PATCH"


def test_auto_does_not_fall_back_on_other_errors(hook: GcoreHook, api: FakeApi) -> None:
    api.on("PUT", PATH, gcore_error(404, "NotFoundError", "nope"))
    with pytest.raises(NotFoundError):
        hook.replace_project(PID, name="analytics-2026", method="auto")
    assert calls(api) == [("PUT", PATH)]
    assert gcore._put_removed == set()


@pytest.mark.parametrize("method", ["put", "Patch", "POST", "", None, True])
def test_an_unknown_method_is_refused_before_any_request(hook: GcoreHook, api: FakeApi, method: Any) -> None:
    with pytest.raises(InvalidInputError) as caught:
        hook.replace_project(PID, name="analytics-2026", method=method)
    assert caught.value.field == "method"
    assert "'auto', 'PUT', 'PATCH'" in str(caught.value)
    assert api.requests == []


def test_get_project_and_get_task(hook: GcoreHook, api: FakeApi) -> None:
    api.on("GET", PATH, ok(PROJECT))
    api.on("GET", TASK_PATH, ok({**TASK, "state": "ERROR", "error": "disk full"}))

    project = hook.get_project(PID)
    task = hook.get_task(TASK_ID.upper())  # normalised to the canonical lower-case form

    assert project.to_xcom() == PROJECT
    assert (task.id, task.state, task.error, task.finished, task.failed) == (TASK_ID, "ERROR", "disk full", True, True)
    assert [(r.method, r.url) for r in api.requests] == [("GET", BASE + PATH), ("GET", BASE + TASK_PATH)]
    assert all(r.body is None for r in api.requests)
    assert all(r.headers["Authorization"] == f"APIKey {KEY}" for r in api.requests)


def test_task_states_before_the_end_are_not_finished(hook: GcoreHook, api: FakeApi) -> None:
    api.on("GET", TASK_PATH, *(ok({**TASK, "state": s}) for s in ("NEW", "RUNNING", "FINISHED")))
    assert [hook.get_task(TASK_ID).finished for _ in range(3)] == [False, False, True]


# -- input refused before any request -----------------------------------------------------------

BAD_REPLACE_INPUT = [
    pytest.param({"project_id": 0}, "project_id", id="id-zero"),
    pytest.param({"project_id": -5}, "project_id", id="id-negative"),
    pytest.param({"project_id": "abc"}, "project_id", id="id-text"),
    pytest.param({"project_id": "4 2"}, "project_id", id="id-space"),
    pytest.param({"project_id": 1.5}, "project_id", id="id-float"),
    pytest.param({"project_id": True}, "project_id", id="id-bool"),
    pytest.param({"project_id": 2**63}, "project_id", id="id-over-int64"),
    pytest.param({"project_id": None}, "project_id", id="id-none"),
    pytest.param({"name": "ab"}, "name", id="name-too-short"),
    pytest.param({"name": "a" * 64}, "name", id="name-too-long"),
    pytest.param({"name": "-abc"}, "name", id="name-bad-start"),
    pytest.param({"name": "abc-"}, "name", id="name-bad-end"),
    pytest.param({"name": "abc "}, "name", id="name-trailing-space"),
    pytest.param({"name": "ab/cd"}, "name", id="name-bad-char"),
    pytest.param({"name": "naïve"}, "name", id="name-non-ascii"),
    pytest.param({"name": ""}, "name", id="name-empty"),
    pytest.param({"name": None}, "name", id="name-none"),
    pytest.param({"name": 12345}, "name", id="name-int"),
    pytest.param({"description": "d" * 256}, "description", id="description-too-long"),
    pytest.param({"description": 7}, "description", id="description-int"),
]


@pytest.mark.parametrize(("change", "field"), BAD_REPLACE_INPUT)
@pytest.mark.parametrize("method", ["auto", "PUT", "PATCH"])
def test_replace_refuses_bad_input_before_any_request(
    hook: GcoreHook, api: FakeApi, change: dict[str, Any], field: str, method: Any
) -> None:
    args: dict[str, Any] = {"project_id": PID, "name": "analytics", "description": None, **change}
    with pytest.raises(InvalidInputError) as caught:
        hook.replace_project(args["project_id"], name=args["name"], description=args["description"], method=method)
    assert api.requests == []
    assert caught.value.field == field
    assert caught.value.rule
    assert str(caught.value).startswith(f"{field} ")
    assert caught.value.rule in str(caught.value)
    assert caught.value.status is None


@pytest.mark.parametrize(
    ("name", "description"),
    [("abc", None), ("a" * 63, "d" * 255), ("0 x.y_z-9", ""), ("Ab.", "anything"), ("1__", None)],
)
def test_replace_accepts_the_edges_of_the_rules(
    hook: GcoreHook, api: FakeApi, name: str, description: str | None
) -> None:
    api.on("PATCH", PATH, ok({**PROJECT, "name": name, "description": description or ""}))
    hook.replace_project(PID, name=name, description=description)
    assert body_of(api.requests[-1]) == {"name": name, "description": description or ""}


@pytest.mark.parametrize("project_id", [0, "x", -1, True])
def test_get_project_refuses_a_bad_id_before_any_request(hook: GcoreHook, api: FakeApi, project_id: Any) -> None:
    with pytest.raises(InvalidInputError) as caught:
        hook.get_project(project_id)
    assert caught.value.field == "project_id"
    assert api.requests == []


@pytest.mark.parametrize("task_id", ["not-a-uuid", "", "../projects/1", 42])
def test_get_task_refuses_a_bad_task_id_before_any_request(hook: GcoreHook, api: FakeApi, task_id: Any) -> None:
    with pytest.raises(InvalidInputError) as caught:
        hook.get_task(task_id)
    assert caught.value.field == "gcore_task_id"
    assert api.requests == []


# -- failures -----------------------------------------------------------------------------------


def test_404_fails_at_once_without_retries(hook: GcoreHook, api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", PATH, gcore_error(404, "NotFoundError", f"Project {PID} not found"))
    with pytest.raises(NotFoundError) as caught:
        hook.get_project(PID)
    assert len(api.requests) == 1
    assert clock.sleeps == []
    assert caught.value.status == 404
    assert f"Project {PID} not found" in str(caught.value)
    assert caught.value.request_id == "req-404"


@pytest.mark.parametrize("method", ["auto", "PUT", "PATCH"])
def test_401_fails_at_once_without_retries_and_without_the_key(
    hook: GcoreHook, api: FakeApi, clock: VirtualClock, method: Any
) -> None:
    # A server echoing the whole key must not put it into the error text.
    answer = gcore_error(401, "NotAuthenticated", f"Invalid <APIKey> authentication token: {KEY}")
    api.on("PUT", PATH, answer)
    api.on("PATCH", PATH, answer)
    with pytest.raises(AuthenticationError) as caught:
        hook.replace_project(PID, name="analytics-2026", method=method)
    assert calls(api) == [("PATCH" if method == "PATCH" else "PUT", PATH)]
    assert clock.sleeps == []
    assert caught.value.status == 401
    assert "HTTP 401" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)


@pytest.mark.parametrize("method", ["auto", "PUT", "PATCH"])
def test_409_is_a_lock_conflict_naming_the_task(
    hook: GcoreHook, api: FakeApi, clock: VirtualClock, method: Any
) -> None:
    api.on("PUT", PATH, lock_409())
    api.on("PATCH", PATH, lock_409())
    with pytest.raises(LockConflictError) as caught:
        hook.replace_project(PID, name="analytics-2026", method=method)
    assert len(api.requests) == 1  # the hook does not retry a lock: the operator waits for it
    assert clock.sleeps == []
    error = caught.value
    assert (error.task_id, error.task_type, error.resource_id, error.status) == (
        TASK_ID,
        "update_project",
        str(PID),
        409,
    )
    assert TASK_ID in str(error)


@pytest.mark.parametrize(
    "message",
    ["Project with name `analytics-2026` already exists.", "Resource is busy, try later"],
)
def test_409_naming_no_holder_is_a_conflict_and_reads_nothing_more(
    hook: GcoreHook, api: FakeApi, clock: VirtualClock, message: str
) -> None:
    api.on("PATCH", PATH, gcore_error(409, "ConflictError", message))
    api.on("GET", PATH, ok({**PROJECT, "task_id": TASK_ID}))
    with pytest.raises(ConflictError) as caught:
        hook.replace_project(PID, name="analytics-2026")
    assert not isinstance(caught.value, LockConflictError)
    assert calls(api) == [("PATCH", PATH)]  # no extra GET looking for a holder
    assert clock.sleeps == []
    assert caught.value.status == 409
    assert "naming no lock holder" in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert message in str(caught.value)


def test_503_on_read_is_retried_after_retry_after(hook: GcoreHook, api: FakeApi, clock: VirtualClock) -> None:
    busy = Reply(503, {"exception_class": "HTTPError", "message": "busy"}, {"Retry-After": "2"})
    api.on("GET", PATH, busy, ok(PROJECT))
    assert hook.get_project(PID).name == "analytics"
    assert len(api.requests) == 2
    assert clock.sleeps == [2.0 + 0.5 * 0.2]  # Retry-After plus jitter (0.5 of at most 10 %)


# -- the blocking task wait ---------------------------------------------------------------------


def test_wait_for_task_polls_until_the_task_ends(hook: GcoreHook, api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", TASK_PATH, *(ok({**TASK, "state": s}) for s in ("NEW", "RUNNING", "FINISHED")))
    start = clock.now

    outcome = hook.wait_for_task(TASK_ID, deadline=start + 60, poll_interval=5)

    assert outcome.status == "done"
    assert isinstance(outcome.value, GcoreTask)
    assert outcome.value.state == "FINISHED"
    assert outcome.last_seen is not None
    assert outcome.last_seen.state == "RUNNING"
    assert (outcome.polls, outcome.waited) == (3, 10.0)
    assert clock.sleeps == [5.0, 5.0]
    assert calls(api) == [("GET", TASK_PATH)] * 3


def test_wait_for_task_times_out_at_the_deadline(hook: GcoreHook, api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", TASK_PATH, ok(TASK))
    start = clock.now

    outcome = hook.wait_for_task(TASK_ID, deadline=start + 12, poll_interval=5)

    assert outcome.status == "timeout"
    assert outcome.value is None
    assert outcome.last_seen is not None
    assert outcome.last_seen.summary() == f"task {TASK_ID} (update_project) is RUNNING"
    assert clock.sleeps == [5.0, 5.0, 2.0]  # the last pause is cut to the deadline
    assert clock.now == start + 12
    assert outcome.waited == 12.0


def test_wait_for_task_ends_at_once_on_a_404(hook: GcoreHook, api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", TASK_PATH, gcore_error(404, "NotFoundError", "Task not found"))
    outcome = hook.wait_for_task(TASK_ID, deadline=clock.now + 60, poll_interval=5)
    assert outcome.status == "error"
    assert isinstance(outcome.error, NotFoundError)
    assert len(api.requests) == 1
    assert clock.sleeps == []


def test_wait_for_task_refuses_a_bad_id_before_any_request(hook: GcoreHook, api: FakeApi, clock: VirtualClock) -> None:
    with pytest.raises(InvalidInputError):
        hook.wait_for_task("nope", deadline=clock.now + 60, poll_interval=5)
    assert api.requests == []


# -- test_connection ----------------------------------------------------------------------------


def test_test_connection_succeeds_on_a_read_only_list(hook: GcoreHook, api: FakeApi) -> None:
    api.on("GET", "/cloud/v1/projects", ok({"count": 3, "results": [PROJECT]}))

    success, message = hook.test_connection()

    assert success is True
    assert BASE in message
    assert "3 visible" in message
    assert KEY not in message
    [sent] = api.requests
    assert (sent.method, sent.url) == ("GET", BASE + "/cloud/v1/projects?limit=1")
    assert sent.headers["Authorization"] == f"APIKey {KEY}"


def test_test_connection_reports_a_401(hook: GcoreHook, api: FakeApi, clock: VirtualClock) -> None:
    masked = "Invalid <APIKey> authentication token: gcore*****a8b7e"
    api.on("GET", "/cloud/v1/projects", gcore_error(401, "NotAuthenticated", masked))

    success, message = hook.test_connection()

    assert success is False
    assert "401" in message
    assert "APIKey <token>" in message  # the hint on how to fix the connection
    assert KEY not in message
    assert "a8b7e" not in message  # the masked echo of the key is hidden too
    assert len(api.requests) == 1
    assert clock.sleeps == []


def test_test_connection_reports_a_missing_connection(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_GCORE_OTHER", raising=False)
    success, message = GcoreHook("gcore_other").test_connection()
    assert success is False
    assert "gcore_other" in message
    assert api.requests == []


# -- async reads (triggers) ---------------------------------------------------------------------


# The connection is read with the async APIs, which hand the env-var backend to a worker thread; a
# real event loop waits for that thread, so the reads that need no virtual time run in one.


def test_aget_project(api: FakeApi) -> None:
    api.on("GET", PATH, ok(PROJECT))
    project = asyncio.run(GcoreHook().aget_project(PID))
    assert isinstance(project, GcoreProject)
    assert project.to_xcom() == PROJECT
    assert [(r.method, r.url) for r in api.requests] == [("GET", BASE + PATH)]
    assert api.requests[0].headers["Authorization"] == f"APIKey {KEY}"
    assert api.requests[0].body is None


def test_aget_task(api: FakeApi) -> None:
    api.on("GET", TASK_PATH, ok(TASK))
    task = asyncio.run(GcoreHook().aget_task(TASK_ID))
    assert isinstance(task, GcoreTask)
    assert (task.id, task.state, task.finished) == (TASK_ID, "RUNNING", False)
    assert [(r.method, r.url) for r in api.requests] == [("GET", BASE + TASK_PATH)]
    assert api.requests[0].headers["Authorization"] == f"APIKey {KEY}"


def test_async_reads_retry_on_the_virtual_clock(api: FakeApi, clock: VirtualClock) -> None:
    api.on("GET", TASK_PATH, Reply(503, {"message": "busy"}, {"Retry-After": "3"}), ok(TASK))
    hook = GcoreHook()
    hook.settings()  # read here: asettings() then needs no worker thread inside the virtual loop
    task = run_virtual(clock, hook.aget_task(TASK_ID))
    assert task.id == TASK_ID
    assert len(api.requests) == 2
    assert clock.sleeps == [3.0 + 0.5 * 0.3]


def test_async_reads_refuse_bad_ids_before_any_request(api: FakeApi) -> None:
    hook = GcoreHook()
    with pytest.raises(InvalidInputError):
        asyncio.run(hook.aget_project(0))
    with pytest.raises(InvalidInputError):
        asyncio.run(hook.aget_task("nope"))
    assert api.requests == []


# -- what mutation testing found unpinned (issue 19) ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "answer", "call"),
    [
        ("GET", PATH, PROJECT, lambda hook: hook.get_project(PID, timeout=5)),
        ("PUT", PATH, NEW, lambda hook: hook.replace_project(PID, name="analytics-2026", method="PUT", timeout=5)),
        ("PATCH", PATH, NEW, lambda hook: hook.replace_project(PID, name="analytics-2026", method="PATCH", timeout=5)),
        ("GET", TASK_PATH, TASK, lambda hook: hook.get_task(TASK_ID, timeout=5)),
    ],
    ids=["get_project", "replace-put", "replace-patch", "get_task"],
)
def test_a_call_timeout_bounds_connect_and_read_of_that_call(
    *, hook: GcoreHook, api: FakeApi, method: str, path: str, answer: dict[str, Any], call: Any
) -> None:
    from airflow_provider_projects._http.wire import Timeout

    api.on(method, path, ok(answer))
    call(hook)
    assert [request.timeout for request in api.requests] == [Timeout(connect=5.0, read=5.0)]


def test_the_auto_fallback_to_patch_keeps_the_call_timeout(hook: GcoreHook, api: FakeApi) -> None:
    from airflow_provider_projects._http.wire import Timeout

    api.on("PUT", PATH, GONE_405)
    api.on("PATCH", PATH, ok(NEW))
    hook.replace_project(PID, name="analytics-2026", method="auto", timeout=5)
    assert [(r.method, r.timeout) for r in api.requests] == [("PUT", Timeout(5.0, 5.0)), ("PATCH", Timeout(5.0, 5.0))]


@pytest.mark.parametrize(
    "host", [BASE, "https://someone:s3cret-pass@api.gcore.test/"], ids=["plain", "credentials-in-the-host"]
)
def test_the_patch_fallback_warning_names_the_real_url_exactly(
    monkeypatch: pytest.MonkeyPatch, api: FakeApi, host: str
) -> None:
    """The URL really sent, project id filled in: the Airflow UI links URLs in task logs, and a
    ``{project_id}`` template made a broken link. Never any credentials pasted into the host."""
    monkeypatch.setenv("AIRFLOW_CONN_GCORE_DEFAULT", json.dumps({"conn_type": "gcore", "host": host, "password": KEY}))
    api.on("PUT", PATH, GONE_405)
    api.on("PATCH", PATH, ok(NEW))
    with capture_logs() as logs:
        GcoreHook().replace_project(PID, name="analytics-2026", method="auto")
    assert warnings_in(logs) == [
        f"Gcore answered 405 to PUT {BASE}/cloud/v1/projects/42: PUT is deprecated (since 2025-12) and gone from "
        "Gcore's current API; sending the same replacement with PATCH, and PATCH first from now on for "
        "connection 'gcore_default' in this process. Leave method at its default ('PATCH') to skip the PUT."
    ]


def test_a_successful_connection_test_logs_its_message(hook: GcoreHook, api: FakeApi) -> None:
    api.on("GET", "/cloud/v1/projects", ok({"count": 3, "results": [PROJECT]}))
    with capture_logs() as logs:
        _, message = hook.test_connection()
    assert message == f"Connected to Gcore Cloud at {BASE}: the key can read projects (3 visible)."
    infos = [e["event"] % e.get("positional_args", ()) for e in logs if e.get("log_level") == "info"]
    assert message in infos


def test_a_task_wait_tolerates_the_default_failed_polls_and_names_the_task(
    hook: GcoreHook, api: FakeApi, clock: VirtualClock
) -> None:
    from airflow_provider_projects import defaults

    failed_poll = [Reply(503, {})] * 5  # one poll: the first try and its 4 retries
    api.on("GET", TASK_PATH, *(failed_poll * defaults.MAX_CONSECUTIVE_ERRORS), ok({**TASK, "state": "FINISHED"}))
    with capture_logs() as logs:
        outcome = hook.wait_for_task(TASK_ID, deadline=clock.now + 3600, poll_interval=5)
    assert outcome.status == "done"
    lines = [e["event"] % e.get("positional_args", ()) for e in logs]
    assert any(f"Gcore task {TASK_ID}" in line for line in lines), lines


def test_a_task_waits_earlier_failed_polls_count_against_its_tolerance() -> None:
    from airflow_provider_projects.hooks.gcore import task_wait

    wait = task_wait(TASK_ID, deadline=0.0, poll_interval=5, failed_polls=2, max_consecutive_errors=3)
    assert (wait.tolerance.failures, wait.tolerance.max_consecutive_errors) == (2, 3)


def test_hook_arguments_reach_the_base_hook_and_the_connection_id_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_projects._http.wire import Timeout

    monkeypatch.setenv(
        "AIRFLOW_CONN_CONN_ARGS", '{"conn_type": "gcore", "password": "k-123456", "extra": {"timeout": 5}}'
    )
    hook = GcoreHook("conn_args", timeout=12, max_retries=0)
    assert hook.gcore_conn_id == "conn_args"
    assert (hook.settings().timeout, hook.settings().max_retries) == (Timeout(10.0, 12.0), 0)


# -- ended_holder: the task that held a lock, read once at the unlock ---------------------------------


class ListLog:
    """A logger that keeps its warnings as rendered lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, message: str, *args: Any) -> None:
        self.lines.append(message % args)


def test_ended_holder_returns_the_task(api: FakeApi, hook: GcoreHook) -> None:
    api.on("GET", TASK_PATH, ok({**TASK, "state": "FINISHED"}))
    log = ListLog()
    holder = gcore.ended_holder(hook, TASK_ID, log)
    assert holder is not None and holder.state == "FINISHED"
    assert log.lines == []


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (
            Reply(404, {"exception_class": "NotFoundError", "message": "Task not found"}),
            f"Gcore task {TASK_ID}, which held the lock, could not be found (HTTP 404): how it ended is unknown",
        ),
        (
            Reply(403, {"exception_class": "Forbidden", "message": "no"}),
            f"Could not read how Gcore task {TASK_ID}, which held the lock, ended: Gcore Cloud GET {TASK_PATH} "
            "failed: HTTP 403 Forbidden: no. The key is valid but may not do this: check its permissions in the "
            "Gcore portal",
        ),
    ],
    ids=["not-found", "refused"],
)
def test_ended_holder_that_cannot_be_read_says_why(api: FakeApi, hook: GcoreHook, reply: Reply, said: str) -> None:
    api.on("GET", TASK_PATH, reply)
    log = ListLog()
    assert gcore.ended_holder(hook, TASK_ID, log) is None
    assert log.lines == [said]
