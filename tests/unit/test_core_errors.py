"""Mapping error answers to typed errors, and parsing success bodies, in the sans-I/O core."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from requests.structures import CaseInsensitiveDict
from samples import GCAI_ID, GCAI_PROJECT, GCORE_PROJECT, TASK_ID

from airflow_provider_projects._http.core import HttpCore, Request, Response, RetryPolicy
from airflow_provider_projects._http.dialect import Dialect, GcaiDialect, GcoreDialect
from airflow_provider_projects._http.secret import Secret
from airflow_provider_projects.errors import (
    AuthenticationError,
    InvalidInputError,
    InvalidResponseError,
    LockConflictError,
    MethodNotAllowedError,
    NotFoundError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
    UnexpectedStatusError,
)
from airflow_provider_projects.models.gcai import GcaiProject
from airflow_provider_projects.models.gcore import GcoreProject, GcoreTask

NOW = 1_700_000_000.0
BASE = "https://api.example.test"
GCORE_PATH = "/cloud/v1/projects/42"
GCAI_PATH = f"/projects/{GCAI_ID}"
#: The exact 409 text from API_NOTES.md (trailing space included).
LOCK_MESSAGE = (
    "Operation on resource `42` currently locked by running task `update_project` with id "
    f"`{TASK_ID}` (2026-05-01 12:00:00.123456) to prevent concurrent operations. Repeat request a little later. "
)


def make_core(dialect: Dialect) -> HttpCore:
    return HttpCore(
        dialect=dialect,
        base_url=BASE,
        api_key=Secret("errors-test-key"),
        user_agent="tests/1",
        policy=RetryPolicy(max_retries=0),
        rng=lambda: 0.0,
        wall_clock=lambda: NOW,
    )


def gcore_error(status: int, body: Any, method: str = "PUT", headers: dict[str, str] | None = None) -> ProjectsApiError:
    core = make_core(GcoreDialect())
    request = core.request(method, GCORE_PATH, json_body={"name": "abc", "description": None})
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return core.error_for(request, Response(status, CaseInsensitiveDict(headers or {}), raw))


def gcai_error(
    status: int, body: Any, method: str = "PATCH", headers: dict[str, str] | None = None
) -> ProjectsApiError:
    core = make_core(GcaiDialect())
    request = core.request(method, GCAI_PATH, json_body={"name": "x"})
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return core.error_for(request, Response(status, CaseInsensitiveDict(headers or {}), raw))


def gcore_body(exception_class: str, message: str, request_id: str = "req-gcore-1") -> dict[str, Any]:
    return {"exception_class": exception_class, "message": message, "request_id": request_id}


# -- status -> type -------------------------------------------------------------------------------

STATUS_TYPES = [
    (400, InvalidInputError),
    (401, AuthenticationError),
    (403, AuthenticationError),
    (404, NotFoundError),
    (405, MethodNotAllowedError),
    (422, InvalidInputError),
    (429, RateLimitedError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
    (599, ServerError),
    (418, UnexpectedStatusError),
    (302, UnexpectedStatusError),
]


@pytest.mark.parametrize(("status", "error_type"), STATUS_TYPES)
def test_gcore_status_maps_to_type_with_all_fields(status: int, error_type: type[ProjectsApiError]) -> None:
    error = gcore_error(status, gcore_body("SomeError", "something is wrong", "req-7"))
    assert type(error) is error_type
    assert error.status == status
    assert error.api_code == "SomeError"
    assert error.api_message == "something is wrong"
    assert error.request_id == "req-7"
    assert error.method == "PUT"
    assert error.url == BASE + GCORE_PATH
    text = str(error)
    assert f"Gcore Cloud PUT {GCORE_PATH} failed: HTTP {status} SomeError: something is wrong" in text
    assert "(request id req-7)" in text


@pytest.mark.parametrize(("status", "error_type"), STATUS_TYPES)
def test_gcai_status_maps_to_type_with_all_fields(status: int, error_type: type[ProjectsApiError]) -> None:
    body = {"error": "Something failed", "code": "SOME_CODE", "message": "more words"}
    error = gcai_error(status, body, headers={"x-request-id": "hdr-9"})
    assert type(error) is error_type
    assert error.status == status
    assert error.api_code == "SOME_CODE"
    assert error.api_message == "Something failed: more words"
    assert error.request_id == "hdr-9"
    assert error.method == "PATCH"
    assert error.url == BASE + GCAI_PATH
    assert f"GC AI PATCH {GCAI_PATH} failed: HTTP {status} SOME_CODE: Something failed: more words" in str(error)


def test_gcore_409_is_a_lock_conflict_parsed_from_the_documented_message() -> None:
    error = gcore_error(409, gcore_body("ConflictError", LOCK_MESSAGE, "req-409"))
    assert type(error) is LockConflictError
    assert error.task_id == TASK_ID
    assert error.task_type == "update_project"
    assert error.resource_id == "42"
    assert error.status == 409
    assert error.api_code == "ConflictError"
    assert error.api_message == LOCK_MESSAGE.strip()
    assert error.request_id == "req-409"
    assert error.method == "PUT"
    assert error.url == BASE + GCORE_PATH
    assert f"locked by task {TASK_ID} (update_project)" in str(error)
    assert not isinstance(error, AirflowFailException)  # waiting for the task fixes it


@pytest.mark.parametrize(
    "message",
    [
        "Resource is locked",
        "",
        # a task id that is not a UUID
        "Operation on resource `42` currently locked by running task `update_project` with id `abc` (x).",
    ],
)
def test_gcore_409_with_another_message_has_no_task_id(message: str) -> None:
    error = gcore_error(409, gcore_body("ConflictError", message))
    assert type(error) is LockConflictError
    assert error.task_id is None
    assert error.task_type is None
    assert error.resource_id is None
    assert error.status == 409
    assert "409 Conflict naming no lock holder" in str(error)


def test_gcore_409_with_an_html_body_is_still_a_lock_conflict() -> None:
    error = gcore_error(409, b"<html><body>Conflict</body></html>")
    assert type(error) is LockConflictError
    assert error.task_id is None
    assert "Conflict" in str(error)


def test_gcore_405_on_put_names_the_patch_successor() -> None:
    body = gcore_body("HTTPError", "HTTP 405: Method Not Allowed")
    error = gcore_error(405, body, method="PUT")
    assert type(error) is MethodNotAllowedError
    assert isinstance(error, AirflowFailException)
    assert "PATCH /cloud/v1/projects/{project_id}" in str(error)
    assert "use_patch=True" in str(error)
    assert "deprecated" in str(error)


def test_gcore_405_on_patch_has_no_put_hint() -> None:
    error = gcore_error(405, gcore_body("HTTPError", "HTTP 405: Method Not Allowed"), method="PATCH")
    assert type(error) is MethodNotAllowedError
    assert "use_patch" not in str(error)


def test_gcai_404_says_not_found_and_no_write_access() -> None:
    error = gcai_error(404, {"error": "Project not found or insufficient write access"})
    assert type(error) is NotFoundError
    text = str(error).lower()
    assert "not found" in text
    assert "no write access" in text


def test_gcai_404_hint_does_not_depend_on_the_server_text() -> None:
    error = gcai_error(404, b"")
    text = str(error).lower()
    assert "does not exist" in text
    assert "no write access" in text


def test_gcore_404_has_no_gcai_write_access_hint() -> None:
    error = gcore_error(404, gcore_body("NotFoundError", "Project 42 not found"), method="GET")
    assert type(error) is NotFoundError
    assert "write access" not in str(error)


@pytest.mark.parametrize(
    ("status", "make", "fragment"),
    [
        (401, gcore_error, "APIKey <token>"),
        (403, gcore_error, "permissions"),
        (401, gcai_error, "without 'Bearer'"),
        (403, gcai_error, "revoked or mistyped"),
    ],
)
def test_auth_errors_carry_a_hint(status: int, make: Any, fragment: str) -> None:
    error = make(status, {"error": "x", "exception_class": "x", "message": "x"})
    assert type(error) is AuthenticationError
    assert fragment in str(error)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after": "7"}, 7.0), ({}, None), ({"Retry-After": "soon"}, None)],
)
def test_429_keeps_retry_after(headers: dict[str, str], expected: float | None) -> None:
    error = gcai_error(429, {"error": "Too many requests", "code": "RATE_LIMITED"}, headers=headers)
    assert type(error) is RateLimitedError
    assert error.retry_after == expected
    assert error.api_code == "RATE_LIMITED"


def test_429_retry_after_as_http_date_uses_the_wall_clock() -> None:
    error = gcore_error(
        429, gcore_body("TooManyRequests", "slow down"), headers={"Retry-After": "Tue, 14 Nov 2023 22:13:50 GMT"}
    )
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == pytest.approx(30.0)


# -- request id -----------------------------------------------------------------------------------


def test_gcore_request_id_from_body_wins_over_header() -> None:
    error = gcore_error(400, gcore_body("ValidationError", "bad", "from-body"), headers={"X-Request-Id": "from-header"})
    assert error.request_id == "from-body"


@pytest.mark.parametrize(
    "body",
    [
        {"exception_class": "ValidationError", "message": "bad"},
        {"exception_class": "ValidationError", "message": "bad", "request_id": ""},
        {"exception_class": "ValidationError", "message": "bad", "request_id": None},
        b"<html>bad gateway</html>",
    ],
)
def test_gcore_request_id_falls_back_to_the_header(body: Any) -> None:
    error = gcore_error(400, body, headers={"x-request-id": "from-header"})
    assert error.request_id == "from-header"
    assert "(request id from-header)" in str(error)


def test_gcai_request_id_comes_from_the_header() -> None:
    error = gcai_error(400, {"error": "Invalid body"}, headers={"X-Request-Id": "gcai-req-1"})
    assert error.request_id == "gcai-req-1"
    assert gcai_error(400, {"error": "Invalid body"}).request_id is None


# -- error bodies ---------------------------------------------------------------------------------


def test_gcore_invalid_fields_are_in_the_message() -> None:
    body = gcore_body("ValidationError", "Invalid input.")
    body["invalid_fields"] = {"name": ["String does not match pattern"]}
    error = gcore_error(400, body)
    assert type(error) is InvalidInputError
    assert "Invalid input. name: ['String does not match pattern']" in error.api_message  # type: ignore[operator]


def test_gcore_detail_is_used_when_message_is_missing() -> None:
    error = gcore_error(400, {"exception_class": "ValidationError", "detail": "the detail"})
    assert error.api_message == "the detail"


def test_gcai_details_are_in_the_message() -> None:
    body = {"error": "Invalid request body", "code": "VALIDATION_ERROR", "details": {"name": "must not be empty"}}
    error = gcai_error(400, body)
    assert error.api_message == 'Invalid request body: {"name": "must not be empty"}'


NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@pytest.mark.parametrize("make", [gcore_error, gcai_error])
def test_html_502_gives_a_readable_snippet(make: Any) -> None:
    error = make(502, NGINX_502, headers={"X-Request-Id": "edge-1"})
    assert type(error) is ServerError
    assert error.api_code is None
    assert error.api_message == "502 Bad Gateway 502 Bad Gateway nginx"
    assert error.request_id == "edge-1"
    text = str(error)
    assert "<" not in text
    assert "\r" not in text
    assert "502 Bad Gateway" in text


@pytest.mark.parametrize("make", [gcore_error, gcai_error])
def test_long_non_json_body_is_cut_short(make: Any) -> None:
    body = b"<html><body><p>" + b"Service &amp; gateway unavailable. " * 500 + b"</p></body></html>"
    error = make(503, body)
    assert len(error.api_message) <= 200
    assert error.api_message.startswith("Service & gateway unavailable.")


@pytest.mark.parametrize("make", [gcore_error, gcai_error])
@pytest.mark.parametrize("body", [b"", b"   ", b"[1, 2]", b'"just a string"', b"\xff\xfe garbage"])
def test_odd_bodies_never_break_the_mapping(make: Any, body: bytes) -> None:
    error = make(500, body)
    assert type(error) is ServerError
    assert error.status == 500
    assert isinstance(error.api_message, str)


def test_empty_body_says_so() -> None:
    assert gcai_error(500, b"").api_message == "(empty body)"


# -- AirflowFailException and pickling ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fails_at_once"),
    [
        *[(status, True) for status in (400, 401, 403, 404, 405, 422)],
        *[(status, False) for status in (409, 429, 500, 503, 418)],
    ],
)
def test_errors_a_retry_cannot_fix_fail_the_task_at_once(status: int, fails_at_once: bool) -> None:
    error = gcore_error(status, gcore_body("X", "y"))
    assert isinstance(error, AirflowFailException) is fails_at_once


ALL_STATUSES = [400, 401, 403, 404, 405, 409, 422, 429, 500, 503, 418]


@pytest.mark.parametrize("make", [gcore_error, gcai_error])
@pytest.mark.parametrize("status", ALL_STATUSES)
def test_errors_pickle_round_trip(make: Any, status: int) -> None:
    body = {"exception_class": "ConflictError", "error": "e", "code": "C", "message": LOCK_MESSAGE, "request_id": "r"}
    error = make(status, body, headers={"Retry-After": "9", "X-Request-Id": "r"})
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301
    assert type(copy) is type(error)
    assert vars(copy) == vars(error)
    assert str(copy) == str(error)
    assert repr(copy) == repr(error)


def test_pickled_lock_conflict_keeps_the_task_id() -> None:
    error = gcore_error(409, gcore_body("ConflictError", LOCK_MESSAGE))
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301
    assert isinstance(copy, LockConflictError)
    assert (copy.task_id, copy.task_type, copy.resource_id) == (TASK_ID, "update_project", "42")


def test_pickled_error_message_includes_the_over_cap_note() -> None:
    core = make_core(GcoreDialect())
    core.policy = RetryPolicy(max_retries=3)
    request = core.request("GET", GCORE_PATH)
    decision = core.decide(request, 1, Response(429, {"Retry-After": "500"}, b"{}"))
    error = decision.error  # type: ignore[union-attr]
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301
    assert "wait 500 s" in str(copy)
    assert copy.retry_after == 500.0


# -- parsing success bodies -----------------------------------------------------------------------


def parse(model: Any, body: bytes, dialect: Dialect | None = None, path: str = GCORE_PATH) -> Any:
    core = make_core(dialect or GcoreDialect())
    request: Request = core.request("GET", path)
    return core.parse(Response(200, {}, body), model, request)


def test_valid_body_parses() -> None:
    project = parse(GcoreProject, json.dumps(GCORE_PROJECT).encode())
    assert isinstance(project, GcoreProject)
    assert project.id == 42
    assert project.locked is False
    assert project.to_xcom() == GCORE_PROJECT


@pytest.mark.parametrize("missing", ["name", "task_id", "client_id", "is_default"])
def test_missing_required_field_is_named(missing: str) -> None:
    body = {k: v for k, v in GCORE_PROJECT.items() if k != missing}
    with pytest.raises(InvalidResponseError) as caught:
        parse(GcoreProject, json.dumps(body).encode())
    error = caught.value
    assert f"{missing}: field required" in str(error)
    assert error.status == 200
    assert error.method == "GET"
    assert error.url == BASE + GCORE_PATH
    assert f"GET {GCORE_PATH}" in str(error)
    assert error.__cause__ is None  # pydantic's long traceback is not chained


@pytest.mark.parametrize("missing", ["my_access_level", "custom_instructions", "updated_at"])
def test_gcai_missing_required_nullable_field_is_named(missing: str) -> None:
    body = {k: v for k, v in GCAI_PROJECT.items() if k != missing}
    with pytest.raises(InvalidResponseError, match=f"{missing}: field required"):
        parse(GcaiProject, json.dumps(body).encode(), GcaiDialect(), GCAI_PATH)


def test_wrong_type_is_named() -> None:
    body = dict(GCORE_PROJECT, id="forty-two")
    with pytest.raises(InvalidResponseError, match=r"id: input should be a valid integer"):
        parse(GcoreProject, json.dumps(body).encode())


@pytest.mark.parametrize(
    "body",
    [json.dumps(GCORE_PROJECT).encode()[:40], b"", b"<html>OK</html>", b"{'id': 1}"],
    ids=["truncated", "empty", "html", "python-repr"],
)
def test_non_json_body_is_an_invalid_response(body: bytes) -> None:
    with pytest.raises(InvalidResponseError) as caught:
        parse(GcoreProject, body)
    assert "not valid JSON" in str(caught.value)
    assert f"({len(body)} bytes" in str(caught.value)
    assert not isinstance(caught.value, AirflowFailException)


def test_json_that_is_not_an_object_is_an_invalid_response() -> None:
    with pytest.raises(InvalidResponseError, match="HTTP 200 with an unusable body"):
        parse(GcoreProject, b"[]")


def test_unknown_fields_are_kept_in_xcom() -> None:
    body = dict(GCORE_PROJECT, region_id=76, labels={"team": "data"}, future=[1, 2])
    project = parse(GcoreProject, json.dumps(body).encode())
    assert project.to_xcom() == body
    json.dumps(project.to_xcom())  # JSON-safe


def test_unknown_task_fields_and_optional_defaults() -> None:
    body = {
        "id": TASK_ID,
        "user_id": 1,
        "task_type": "update_project",
        "state": "RUNNING",
        "created_on": "2026-01-01T00:00:00",
        "detailed_state": "WAITING",
    }
    task = parse(GcoreTask, json.dumps(body).encode(), path=f"/cloud/v1/tasks/{TASK_ID}")
    xcom = task.to_xcom()
    assert xcom["detailed_state"] == "WAITING"
    assert xcom["error"] is None
    assert task.finished is False


def test_a_key_cut_by_the_snippet_does_not_leak_in_part() -> None:
    key = "ZZ-SECRET-7f3a9c"
    core = HttpCore(dialect=GcoreDialect(), base_url=BASE, api_key=Secret(key), user_agent="tests/1")
    request = core.request("GET", GCORE_PATH)
    error = core.error_for(request, Response(502, {}, ("x" * 190 + " " + key).encode()))
    assert key[:8] not in str(error)
