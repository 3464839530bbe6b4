"""GcoreHook: the exact requests it sends, the input it refuses before sending, and how it fails."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests_mock as rm

from airflow_provider_projects import __version__
from airflow_provider_projects._http import aio
from airflow_provider_projects.errors import (
    AuthenticationError,
    InvalidInputError,
    LockConflictError,
    MethodNotAllowedError,
    NotFoundError,
)
from airflow_provider_projects.hooks.gcore import GcoreHook
from airflow_provider_projects.models.gcore import GcoreProject, GcoreTask

BASE = "https://api.gcore.test"
KEY = "gcore-unit-key-6f1d2c9a8b7e"
PID = 42
URL = f"{BASE}/cloud/v1/projects/{PID}"
TASK_ID = "7244e161-664c-4afd-a34e-7003eac4d949"
TASK_URL = f"{BASE}/cloud/v1/tasks/{TASK_ID}"

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


def gcore_error(status: int, exception_class: str, message: str) -> dict[str, Any]:
    return {"exception_class": exception_class, "message": message, "request_id": f"req-{status}"}


@pytest.fixture(autouse=True)
def gcore_conn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GCORE_DEFAULT",
        json.dumps({"conn_type": "gcore", "host": BASE, "password": KEY}),
    )


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def hook(sleeps: list[float]) -> Iterator[GcoreHook]:
    """The default connection; HTTP retry pauses are recorded instead of slept."""
    made = GcoreHook(sleep=sleeps.append)
    yield made
    made.close()


# -- the replace request on the wire ------------------------------------------------------------


def test_replace_without_description_sends_put_with_description_null(hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.put(URL, json={**PROJECT, "name": "analytics-2026", "description": None})

    result = hook.replace_project(PID, name="analytics-2026")

    assert requests_mock.call_count == 1
    sent = requests_mock.last_request
    assert sent.method == "PUT"
    assert sent.url == URL
    assert sent.headers["Authorization"] == f"APIKey {KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"].startswith(f"airflow-provider-projects/{__version__} apache-airflow/")
    # Both keys present: a PUT replaces the record, so "not given" must be sent as null.
    assert sent.json() == {"name": "analytics-2026", "description": None}
    assert '"description":null' in sent.text
    assert isinstance(result, GcoreProject)
    assert (result.name, result.description) == ("analytics-2026", None)


def test_replace_with_description_sends_it(hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.put(URL, json={**PROJECT, "name": "analytics-2026", "description": "Q4 data"})

    hook.replace_project(str(PID), name="analytics-2026", description="Q4 data")

    assert requests_mock.call_count == 1
    assert requests_mock.last_request.method == "PUT"
    assert requests_mock.last_request.url == URL
    assert requests_mock.last_request.json() == {"name": "analytics-2026", "description": "Q4 data"}


@pytest.mark.parametrize("description", [None, "Q4 data", ""])
def test_use_patch_sends_the_same_body_by_patch(
    hook: GcoreHook, requests_mock: rm.Mocker, description: str | None
) -> None:
    requests_mock.patch(URL, json={**PROJECT, "name": "analytics-2026", "description": description})

    hook.replace_project(PID, name="analytics-2026", description=description, use_patch=True)

    assert [r.method for r in requests_mock.request_history] == ["PATCH"]
    sent = requests_mock.last_request
    assert sent.url == URL
    assert sent.headers["Authorization"] == f"APIKey {KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json() == {"name": "analytics-2026", "description": description}


def test_get_project_and_get_task(hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, json=PROJECT)
    requests_mock.get(TASK_URL, json={**TASK, "state": "ERROR", "error": "disk full"})

    project = hook.get_project(PID)
    task = hook.get_task(TASK_ID.upper())  # normalised to the canonical lower-case form

    assert project.to_xcom() == PROJECT
    assert (task.id, task.state, task.error, task.finished, task.failed) == (TASK_ID, "ERROR", "disk full", True, True)
    assert [(r.method, r.url) for r in requests_mock.request_history] == [("GET", URL), ("GET", TASK_URL)]
    assert all(r.body is None for r in requests_mock.request_history)
    assert all(r.headers["Authorization"] == f"APIKey {KEY}" for r in requests_mock.request_history)


def test_task_states_before_the_end_are_not_finished(hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(TASK_URL, [{"json": {**TASK, "state": s}} for s in ("NEW", "RUNNING", "FINISHED")])
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
@pytest.mark.parametrize("use_patch", [False, True], ids=["put", "patch"])
def test_replace_refuses_bad_input_before_any_request(
    hook: GcoreHook, requests_mock: rm.Mocker, change: dict[str, Any], field: str, use_patch: bool
) -> None:
    args: dict[str, Any] = {"project_id": PID, "name": "analytics", "description": None, **change}
    with pytest.raises(InvalidInputError) as caught:
        hook.replace_project(
            args["project_id"], name=args["name"], description=args["description"], use_patch=use_patch
        )
    assert requests_mock.call_count == 0
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
    hook: GcoreHook, requests_mock: rm.Mocker, name: str, description: str | None
) -> None:
    requests_mock.put(URL, json={**PROJECT, "name": name, "description": description})
    hook.replace_project(PID, name=name, description=description)
    assert requests_mock.last_request.json() == {"name": name, "description": description}


@pytest.mark.parametrize("project_id", [0, "x", -1, True])
def test_get_project_refuses_a_bad_id_before_any_request(
    hook: GcoreHook, requests_mock: rm.Mocker, project_id: Any
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        hook.get_project(project_id)
    assert caught.value.field == "project_id"
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("task_id", ["not-a-uuid", "", "../projects/1", 42])
def test_get_task_refuses_a_bad_task_id_before_any_request(
    hook: GcoreHook, requests_mock: rm.Mocker, task_id: Any
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        hook.get_task(task_id)
    assert caught.value.field == "gcore_task_id"
    assert requests_mock.call_count == 0


# -- failures -----------------------------------------------------------------------------------


def test_404_fails_at_once_without_retries(hook: GcoreHook, requests_mock: rm.Mocker, sleeps: list[float]) -> None:
    requests_mock.get(URL, status_code=404, json=gcore_error(404, "NotFoundError", f"Project {PID} not found"))
    with pytest.raises(NotFoundError) as caught:
        hook.get_project(PID)
    assert requests_mock.call_count == 1
    assert sleeps == []
    assert caught.value.status == 404
    assert f"Project {PID} not found" in str(caught.value)
    assert caught.value.request_id == "req-404"


@pytest.mark.parametrize("use_patch", [False, True])
def test_401_fails_at_once_without_retries_and_without_the_key(
    hook: GcoreHook, requests_mock: rm.Mocker, sleeps: list[float], use_patch: bool
) -> None:
    # A server echoing the whole key must not put it into the error text.
    message = f"Invalid <APIKey> authentication token: {KEY}"
    requests_mock.register_uri(rm.ANY, URL, status_code=401, json=gcore_error(401, "NotAuthenticated", message))
    with pytest.raises(AuthenticationError) as caught:
        hook.replace_project(PID, name="analytics-2026", use_patch=use_patch)
    assert requests_mock.call_count == 1
    assert sleeps == []
    assert caught.value.status == 401
    assert "HTTP 401" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)


def test_409_is_a_lock_conflict_naming_the_task(hook: GcoreHook, requests_mock: rm.Mocker, sleeps: list[float]) -> None:
    message = (
        f"Operation on resource `{PID}` currently locked by running task `update_project` with id `{TASK_ID}` "
        "(2026-05-01 12:00:00) to prevent concurrent operations. Repeat request a little later. "
    )
    requests_mock.put(URL, status_code=409, json=gcore_error(409, "ConflictError", message))
    with pytest.raises(LockConflictError) as caught:
        hook.replace_project(PID, name="analytics-2026")
    assert requests_mock.call_count == 1  # the hook does not retry a lock: the operator waits for it
    assert sleeps == []
    assert (caught.value.task_id, caught.value.task_type, caught.value.status) == (TASK_ID, "update_project", 409)


def test_405_on_put_names_the_patch_successor(hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.put(URL, status_code=405, json=gcore_error(405, "HTTPError", "HTTP 405: Method Not Allowed"))
    with pytest.raises(MethodNotAllowedError) as caught:
        hook.replace_project(PID, name="analytics-2026")
    assert requests_mock.call_count == 1
    assert caught.value.status == 405
    text = str(caught.value)
    assert "PATCH /cloud/v1/projects/{project_id}" in text
    assert "use_patch=True" in text


def test_503_on_read_is_retried_with_the_injected_sleep(
    hook: GcoreHook, requests_mock: rm.Mocker, sleeps: list[float]
) -> None:
    requests_mock.get(
        URL,
        [
            {"status_code": 503, "json": gcore_error(503, "HTTPError", "busy"), "headers": {"Retry-After": "2"}},
            {"json": PROJECT},
        ],
    )
    assert hook.get_project(PID).name == "analytics"
    assert requests_mock.call_count == 2
    assert len(sleeps) == 1
    assert 2.0 <= sleeps[0] <= 2.2


# -- test_connection ----------------------------------------------------------------------------


def test_test_connection_succeeds_on_a_read_only_list(hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{BASE}/cloud/v1/projects", json={"count": 3, "results": [PROJECT]})

    ok, message = hook.test_connection()

    assert ok is True
    assert BASE in message
    assert "3 visible" in message
    assert KEY not in message
    assert [r.method for r in requests_mock.request_history] == ["GET"]
    assert requests_mock.last_request.qs == {"limit": ["1"]}
    assert requests_mock.last_request.headers["Authorization"] == f"APIKey {KEY}"


def test_test_connection_reports_a_401(hook: GcoreHook, requests_mock: rm.Mocker, sleeps: list[float]) -> None:
    masked = "Invalid <APIKey> authentication token: gcore*****a8b7e"
    requests_mock.get(f"{BASE}/cloud/v1/projects", status_code=401, json=gcore_error(401, "NotAuthenticated", masked))

    ok, message = hook.test_connection()

    assert ok is False
    assert "401" in message
    assert masked in message
    assert "APIKey <token>" in message  # the hint on how to fix the connection
    assert KEY not in message
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_test_connection_reports_a_missing_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_GCORE_OTHER", raising=False)
    ok, message = GcoreHook("gcore_other").test_connection()
    assert ok is False
    assert "gcore_other" in message


# -- async reads (triggers) ---------------------------------------------------------------------


def run_async(monkeypatch: pytest.MonkeyPatch, call: Any, answers: dict[str, dict[str, Any]]) -> tuple[Any, list[Any]]:
    """Run one async hook call with the shared httpx client swapped for a mock transport."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answers[request.url.path])

    async def main() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            monkeypatch.setattr(aio, "shared_client", lambda: client)
            return await call()

    return asyncio.run(main()), seen


def test_aget_project(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = GcoreHook()
    project, seen = run_async(monkeypatch, lambda: hook.aget_project(PID), {f"/cloud/v1/projects/{PID}": PROJECT})
    assert isinstance(project, GcoreProject)
    assert project.to_xcom() == PROJECT
    assert [(r.method, str(r.url)) for r in seen] == [("GET", URL)]
    assert seen[0].headers["Authorization"] == f"APIKey {KEY}"


def test_aget_task(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = GcoreHook()
    task, seen = run_async(monkeypatch, lambda: hook.aget_task(TASK_ID), {f"/cloud/v1/tasks/{TASK_ID}": TASK})
    assert isinstance(task, GcoreTask)
    assert (task.id, task.state, task.finished) == (TASK_ID, "RUNNING", False)
    assert [(r.method, str(r.url)) for r in seen] == [("GET", TASK_URL)]
    assert seen[0].headers["Authorization"] == f"APIKey {KEY}"


def test_async_reads_refuse_bad_ids_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # No answers are mapped: a request would fail with KeyError, not InvalidInputError.
    hook = GcoreHook()
    with pytest.raises(InvalidInputError):
        run_async(monkeypatch, lambda: hook.aget_project(0), {})
    with pytest.raises(InvalidInputError):
        run_async(monkeypatch, lambda: hook.aget_task("nope"), {})
