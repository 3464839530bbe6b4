"""What differs between the two APIs: auth headers, error bodies, the 409 judgement, hints."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from requests.structures import CaseInsensitiveDict
from samples import GCAI_ID, TASK_ID

from airflow_provider_projects._http.core import HttpCore
from airflow_provider_projects._http.dialect import Dialect, ErrorDetails, GcaiDialect, GcoreDialect
from airflow_provider_projects._http.wire import Response, Secret
from airflow_provider_projects.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    LockConflictError,
    MethodNotAllowedError,
    NotFoundError,
    ProjectsApiError,
    ServerError,
)
from airflow_provider_projects.unset import NOT_SET

BASE = "https://api.example.test"
GCORE_PATH = "/cloud/v1/projects/42"
GCAI_PATH = f"/projects/{GCAI_ID}"
#: The exact 409 text from API_NOTES.md (trailing space included).
LOCK_MESSAGE = (
    "Operation on resource `42` currently locked by running task `update_project` with id "
    f"`{TASK_ID}` (2026-05-01 12:00:00.123456) to prevent concurrent operations. Repeat request a little later. "
)
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def make_core(dialect: Dialect, key: str = "dialect-test-key") -> HttpCore:
    return HttpCore(dialect=dialect, base_url=BASE, api_key=Secret(key), user_agent="tests/1")


def response(status: int, body: Any, **headers: str) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, CaseInsensitiveDict(headers), raw)


def gcore_error(status: int, body: Any, method: str = "PUT", **headers: str) -> ProjectsApiError:
    core = make_core(GcoreDialect())
    request = core.request(method, GCORE_PATH, json_body={"name": "abc", "description": None})
    return core.error_for(request, response(status, body, **headers))


def gcai_error(status: int, body: Any, method: str = "PATCH", **headers: str) -> ProjectsApiError:
    core = make_core(GcaiDialect())
    request = core.request(method, GCAI_PATH, json_body={"name": "x"})
    return core.error_for(request, response(status, body, **headers))


def gcore_body(exception_class: str, message: str, request_id: str = "req-gcore-1") -> dict[str, Any]:
    return {"exception_class": exception_class, "message": message, "request_id": request_id}


# -- auth headers ---------------------------------------------------------------------------------


def test_gcore_sends_the_key_with_the_apikey_scheme() -> None:
    assert GcoreDialect().authorization("gcore-token-123") == "APIKey gcore-token-123"
    request = make_core(GcoreDialect(), "gcore-token-123").request("GET", GCORE_PATH)
    assert request.headers["Authorization"] == "APIKey gcore-token-123"


@pytest.mark.parametrize("key", ["gcai_orgkey123", "u:gcai_personal456"])
def test_gcai_sends_the_raw_key(key: str) -> None:
    assert GcaiDialect().authorization(key) == key
    assert make_core(GcaiDialect(), key).request("GET", GCAI_PATH).headers["Authorization"] == key


def test_the_dialects_name_their_api() -> None:
    assert GcoreDialect.name == "Gcore Cloud"
    assert GcaiDialect.name == "GC AI"


# -- Gcore error bodies ---------------------------------------------------------------------------


def test_gcore_error_details_come_from_the_body() -> None:
    details = GcoreDialect().error_details(response(400, gcore_body("ValidationError", "bad", "req-1")))
    assert details == ErrorDetails("ValidationError", "bad", "req-1")


def test_gcore_request_id_from_the_body_wins_over_the_header() -> None:
    error = gcore_error(400, gcore_body("ValidationError", "bad", "from-body"), **{"X-Request-Id": "from-header"})
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
    error = gcore_error(400, body, **{"x-request-id": "from-header"})
    assert error.request_id == "from-header"
    assert "(request id from-header)" in str(error)


def test_gcore_invalid_fields_are_in_the_message() -> None:
    body = gcore_body("ValidationError", "Invalid input.")
    body["invalid_fields"] = {"name": ["String does not match pattern"]}
    error = gcore_error(400, body)
    assert type(error) is InvalidInputError
    assert error.api_message == "Invalid input. name: ['String does not match pattern']"


def test_gcore_detail_is_used_when_message_is_missing() -> None:
    error = gcore_error(400, {"exception_class": "ValidationError", "detail": "the detail"})
    assert error.api_message == "the detail"


def test_gcore_non_string_fields_are_ignored() -> None:
    details = GcoreDialect().error_details(response(400, {"exception_class": 7, "message": ["x"], "request_id": 3}))
    assert details == ErrorDetails(None, "", None)


# -- GC AI error bodies ---------------------------------------------------------------------------


def test_gcai_error_details_join_error_and_message() -> None:
    body = {"error": "Something failed", "code": "SOME_CODE", "message": "more words"}
    details = GcaiDialect().error_details(response(400, body, **{"X-Request-Id": "r-1"}))
    assert details == ErrorDetails("SOME_CODE", "Something failed: more words", "r-1")


def test_gcai_details_are_in_the_message() -> None:
    body = {"error": "Invalid request body", "code": "VALIDATION_ERROR", "details": {"name": "must not be empty"}}
    error = gcai_error(400, body)
    assert error.api_message == 'Invalid request body: {"name": "must not be empty"}'


def test_gcai_request_id_comes_from_the_header_only() -> None:
    assert gcai_error(400, {"error": "Invalid body"}, **{"X-Request-Id": "gcai-req-1"}).request_id == "gcai-req-1"
    assert gcai_error(400, {"error": "Invalid body", "request_id": "in-body"}).request_id is None


# -- foreign and odd bodies, both vendors ---------------------------------------------------------


@pytest.mark.parametrize("make", [gcore_error, gcai_error])
def test_an_html_502_gives_a_readable_snippet(make: Any) -> None:
    error = make(502, NGINX_502, **{"X-Request-Id": "edge-1"})
    assert type(error) is ServerError
    assert error.api_code is None
    assert error.api_message == "502 Bad Gateway 502 Bad Gateway nginx"
    assert error.request_id == "edge-1"
    text = str(error)
    assert "<" not in text
    assert "\r" not in text


@pytest.mark.parametrize("make", [gcore_error, gcai_error])
def test_a_long_non_json_body_is_cut_short(make: Any) -> None:
    body = b"<html><body><p>" + b"Service &amp; gateway unavailable. " * 500 + b"</p></body></html>"
    error = make(503, body)
    assert len(error.api_message) == 200
    assert error.api_message.startswith("Service & gateway unavailable.")


@pytest.mark.parametrize("make", [gcore_error, gcai_error])
@pytest.mark.parametrize("body", [b"", b"   ", b"[1, 2]", b'"just a string"', b"\xff\xfe garbage"])
def test_odd_bodies_never_break_the_mapping(make: Any, body: bytes) -> None:
    error = make(500, body)
    assert type(error) is ServerError
    assert error.status == 500
    assert isinstance(error.api_message, str)


@pytest.mark.parametrize("make", [gcore_error, gcai_error])
def test_an_empty_body_says_so(make: Any) -> None:
    assert make(500, b"").api_message == "(empty body)"


# -- 409: a lock with its holder, or another conflict ---------------------------------------------


def test_a_gcore_409_naming_the_holder_is_a_lock_conflict() -> None:
    error = gcore_error(409, gcore_body("ConflictError", LOCK_MESSAGE, "req-409"))
    assert type(error) is LockConflictError
    assert (error.task_id, error.task_type, error.resource_id) == (TASK_ID, "update_project", "42")
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
        "Project with name 'analytics' already exists",
        # a task id that is not a UUID
        "Operation on resource `42` currently locked by running task `update_project` with id `abc` (x).",
    ],
)
def test_a_gcore_409_naming_no_holder_is_a_plain_conflict(message: str) -> None:
    error = gcore_error(409, gcore_body("ConflictError", message, "req-c"))
    assert type(error) is ConflictError
    assert not isinstance(error, LockConflictError)
    assert not isinstance(error, AirflowFailException)
    assert error.status == 409
    assert error.request_id == "req-c"
    assert (error.method, error.url) == ("PUT", BASE + GCORE_PATH)
    assert "409 Conflict naming no lock holder" in str(error)
    assert "nothing was written" in str(error)


def test_a_gcore_409_with_an_html_body_is_a_plain_conflict() -> None:
    error = gcore_error(409, b"<html><body>Conflict</body></html>")
    assert type(error) is ConflictError
    assert "API said: Conflict" in str(error)


def test_the_gcore_409_is_judged_only_once() -> None:
    # special_error decides every 409 itself: the status table below it never sees one.
    dialect = GcoreDialect()
    core = make_core(dialect)
    request = core.request("PUT", GCORE_PATH, json_body={})
    details = ErrorDetails("ConflictError", "anything", None)
    assert type(dialect.special_error(request, details, {"status": 409})) is ConflictError
    assert dialect.special_error(request, details, {"status": 400}) is None
    assert GcaiDialect().special_error(request, details, {"status": 409}) is None


# -- hints ----------------------------------------------------------------------------------------


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


def test_a_gcore_405_on_put_names_the_patch_successor_and_the_operator_setting() -> None:
    error = gcore_error(405, gcore_body("HTTPError", "HTTP 405: Method Not Allowed"), method="PUT")
    assert type(error) is MethodNotAllowedError
    assert isinstance(error, AirflowFailException)
    text = str(error)
    assert "deprecated" in text
    assert "PATCH /cloud/v1/projects/{project_id}" in text
    assert "method='auto'" in text
    assert "method='PATCH'" in text
    assert "GcoreReplaceProjectOperator" in text


def test_a_gcore_405_on_patch_has_no_put_hint() -> None:
    error = gcore_error(405, gcore_body("HTTPError", "HTTP 405: Method Not Allowed"), method="PATCH")
    assert type(error) is MethodNotAllowedError
    assert "method='auto'" not in str(error)
    assert "deprecated" not in str(error)


def test_a_gcai_404_on_a_write_says_not_found_or_no_write_access() -> None:
    error = gcai_error(404, {"error": "Project not found or insufficient write access"})
    assert type(error) is NotFoundError
    text = str(error).lower()
    assert "does not exist" in text
    assert "no write access" in text


def test_a_gcai_404_hint_does_not_depend_on_the_server_text() -> None:
    text = str(gcai_error(404, b"")).lower()
    assert "does not exist" in text
    assert "no write access" in text


def test_a_gcai_404_on_a_read_says_the_key_may_not_see_it() -> None:
    text = str(gcai_error(404, {"error": "Not found"}, method="GET"))
    assert "cannot see it" in text
    assert "write access" not in text


def test_a_gcore_404_has_no_gcai_write_access_hint() -> None:
    error = gcore_error(404, gcore_body("NotFoundError", "Project 42 not found"), method="GET")
    assert type(error) is NotFoundError
    assert "write access" not in str(error)


@pytest.mark.parametrize("dialect", [GcoreDialect(), GcaiDialect()])
@pytest.mark.parametrize("status", [400, 409, 422, 429, 500, 503])
def test_other_statuses_have_no_hint(dialect: Dialect, status: int) -> None:
    core = make_core(dialect)
    assert dialect.hint(core.request("PUT", GCORE_PATH, json_body={}), status) is None


@pytest.mark.parametrize(
    "task_id",
    [TASK_ID.upper(), TASK_ID[:18] + TASK_ID[18:].upper()],
    ids=["upper-case-hex", "mixed-case-hex"],
)
def test_a_gcore_409_naming_a_holder_in_upper_case_hex_is_a_lock_conflict(task_id: str) -> None:
    # A UUID's hex digits may come in either case (RFC 9562 reads them case-insensitively).
    assert task_id != TASK_ID
    error = gcore_error(409, gcore_body("ConflictError", LOCK_MESSAGE.replace(TASK_ID, task_id), "req-409"))
    assert type(error) is LockConflictError
    assert (error.task_id, error.task_type, error.resource_id) == (task_id, "update_project", "42")
    assert f"locked by task {task_id} (update_project)" in str(error)


# -- the exact hints and messages (issue 19: mutation testing found their texts unpinned) ---------


HINTS = [
    (
        GcoreDialect(),
        "PUT",
        401,
        "Check the Gcore connection: its password field must hold the API token alone "
        "(the provider sends it as 'APIKey <token>')",
    ),
    (GcoreDialect(), "PUT", 403, "The key is valid but may not do this: check its permissions in the Gcore portal"),
    (
        GcoreDialect(),
        "PUT",
        405,
        "Gcore deprecated PUT /cloud/v1/projects/{project_id} (2025-12) and this endpoint no longer "
        "accepts it; its successor is PATCH /cloud/v1/projects/{project_id}. "
        "Use method='PATCH' (the default) or method='auto' on GcoreReplaceProjectOperator",
    ),
    (
        GcaiDialect(),
        "PATCH",
        401,
        "The key is missing or malformed: put the GC AI key alone in the connection's password "
        "field, as 'gcai_...' (organisation key) or 'u:gcai_...' (personal key), without 'Bearer'",
    ),
    (
        GcaiDialect(),
        "PATCH",
        403,
        "The key is not valid (revoked or mistyped): create a new one in GC AI under Settings -> API",
    ),
    (
        GcaiDialect(),
        "GET",
        404,
        "GC AI answers 404 both when the project does not exist and when this key cannot see it "
        "(organisation keys do not see access-controlled projects)",
    ),
    (
        GcaiDialect(),
        "PATCH",
        404,
        "GC AI answers 404 both when the project does not exist and when this key has no write "
        "access to it (organisation keys can only change projects that are not access-controlled)",
    ),
]


@pytest.mark.parametrize(("dialect", "method", "status", "hint"), HINTS, ids=lambda v: str(v)[:12])
def test_each_hint_reads_exactly(dialect: Dialect, method: str, status: int, hint: str) -> None:
    request = make_core(dialect).request(method, GCORE_PATH, json_body={} if method != "GET" else NOT_SET)
    assert dialect.hint(request, status) == hint


def test_a_lock_conflict_says_where_who_and_what_the_api_said() -> None:
    error = gcore_error(409, gcore_body("ConflictError", LOCK_MESSAGE, "req-409"))
    assert str(error).startswith(
        f"Gcore Cloud PUT {GCORE_PATH}: the resource is locked by task {TASK_ID} (update_project); the write "
        f"can be repeated once that task ends. API said: {LOCK_MESSAGE.strip()}"
    )


def test_a_plain_conflict_says_where_and_what_the_api_said() -> None:
    error = gcore_error(409, gcore_body("ConflictError", "Project with name 'x' already exists", "req-c"))
    assert str(error).startswith(
        f"Gcore Cloud PUT {GCORE_PATH} answered 409 Conflict naming no lock holder, so there is no task to wait "
        "for; nothing was written. API said: Project with name 'x' already exists"
    )


def test_gcore_invalid_fields_are_joined_one_by_one() -> None:
    body = {**gcore_body("ValidationError", "Bad input"), "invalid_fields": {"name": "too short", "x": "y"}}
    assert gcore_error(400, body).api_message == "Bad input name: too short; x: y"


@pytest.mark.parametrize("invalid", [["name"], "name", {}])
def test_gcore_invalid_fields_that_are_not_a_mapping_are_ignored(invalid: Any) -> None:
    body = {**gcore_body("ValidationError", "Bad input"), "invalid_fields": invalid}
    assert gcore_error(400, body).api_message == "Bad input"


def test_gcai_details_keep_non_ascii_text_as_it_is() -> None:
    error = gcai_error(400, {"error": "Invalid", "details": {"name": "déjà pris"}})
    assert error.api_message == 'Invalid: {"name": "déjà pris"}'


@pytest.mark.parametrize("details", [["name"], "name", {}])
def test_gcai_details_that_are_not_a_mapping_are_ignored(details: Any) -> None:
    assert gcai_error(400, {"error": "Invalid", "details": details}).api_message == "Invalid"


def test_only_the_start_of_a_foreign_body_is_read_for_its_snippet() -> None:
    # 4000 bytes (20 x the 200 characters shown) are read: markup filling them leaves nothing to show.
    body = b"<br>" * 1000 + b"text beyond the first 4000 bytes"
    assert gcore_error(502, body).api_message == "(empty body)"
