"""GcaiHook against a scripted GC AI: the exact PATCH body, the raw key, errors, 429 and test_connection."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fakes import FakeApi, Reply, VirtualClock, body_of, ok
from structlog.testing import capture_logs

from airflow_provider_projects.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from airflow_provider_projects.hooks.gcai import GcaiHook
from airflow_provider_projects.models.gcai import GcaiProject
from airflow_provider_projects.unset import NOT_SET

BASE = "https://gcai.test/api/external/v1"
PID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
PATH = f"/projects/{PID}"
ORG_KEY = "gcai_unit_org_key_123"
USER_KEY = "u:gcai_unit_user_key_456"
FIELDS = ("name", "description", "custom_instructions")

PROJECT: dict[str, Any] = {
    "id": PID,
    "name": "Vendor: Acme MSA",
    "description": None,
    "custom_instructions": "Cite clause numbers.",
    "is_access_controlled": False,
    "my_access_level": None,
    "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-02T00:00:00.000Z",
}
ORG_ME: dict[str, Any] = {
    "token_type": "organization",
    "api_key_id": "key_org_1",
    "organization": {"id": 4242, "name": "Acme Legal"},
    "user": None,
}
USER_ME: dict[str, Any] = {
    "token_type": "user",
    "api_key_id": "key_user_1",
    "organization": {"id": 4242, "name": "Acme Legal"},
    "user": {"id": 7, "email": "jane@acme.test"},
}


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``connect(key)``: point ``gcai_default`` at the scripted API with that key."""

    def set_key(key: str = ORG_KEY) -> None:
        conn = {"conn_type": "gcai", "host": BASE, "password": key}
        monkeypatch.setenv("AIRFLOW_CONN_GCAI_DEFAULT", json.dumps(conn))

    set_key()
    return set_key


@pytest.fixture
def hook(connect: Callable[[str], None], clock: VirtualClock) -> GcaiHook:
    return GcaiHook()


def warnings_in(logs: list[dict[str, Any]]) -> list[str]:
    lines = []
    for entry in logs:
        if entry.get("log_level") != "warning" or "outside of the Task Runner" in entry["event"]:
            continue
        args = entry.get("positional_args", ())
        lines.append(entry["event"] % args if args else entry["event"])
    return lines


# -- the exact body ---------------------------------------------------------------------------------

#: Per field: left out, None (JSON null) or a value.
CHOICES: dict[str, tuple[Any, ...]] = {
    "name": (NOT_SET, None, "  Vendor: Acme MSA (renamed) "),
    "description": (NOT_SET, None, "Master services agreement"),
    "custom_instructions": (NOT_SET, None, "Cite clause numbers; answer in French."),
}
COMBOS = list(itertools.product(*CHOICES.values()))


def _label(value: Any) -> str:
    return "omit" if value is NOT_SET else "null" if value is None else "value"


@pytest.mark.parametrize(
    "combo", COMBOS, ids=["-".join(f"{f[:4]}={_label(v)}" for f, v in zip(FIELDS, c, strict=True)) for c in COMBOS]
)
def test_patch_body_is_exactly_the_fields_given(combo: tuple[Any, ...], hook: GcaiHook, api: FakeApi) -> None:
    api.on("PATCH", PATH, ok(PROJECT))
    kwargs = {field: value for field, value in zip(FIELDS, combo, strict=True) if value is not NOT_SET}
    expected = dict(kwargs)

    if not kwargs:
        with pytest.raises(InvalidInputError) as refused:
            hook.update_project(PID)
        assert all(field in str(refused.value) for field in FIELDS)
        assert api.requests == []
        return
    if "name" in kwargs and kwargs["name"] is None:
        # name is a string in the API, never nullable: refused before sending anything.
        with pytest.raises(InvalidInputError) as refused:
            hook.update_project(PID, **kwargs)
        assert refused.value.field == "name"
        assert api.requests == []
        return

    project = hook.update_project(PID, **kwargs)

    assert isinstance(project, GcaiProject)
    assert project.id == PID
    [sent] = api.requests
    assert (sent.method, sent.url) == ("PATCH", BASE + PATH)
    assert sent.headers["Content-Type"] == "application/json"
    assert body_of(sent) == expected
    # The raw text proves the difference between a missing key and an explicit null.
    assert sent.body is not None
    raw = sent.body.decode()
    for field, value in zip(FIELDS, combo, strict=True):
        present = re.search(rf'"{field}"\s*:', raw)
        if value is NOT_SET:
            assert present is None, f"{field} was sent although it was not given: {raw}"
        elif value is None:
            assert re.search(rf'"{field}"\s*:\s*null\b', raw), f"{field} not sent as null: {raw}"
        else:
            assert re.search(rf'"{field}"\s*:\s*{re.escape(json.dumps(value))}', raw), raw


def test_patch_project_sends_a_prebuilt_body_as_is(hook: GcaiHook, api: FakeApi) -> None:
    api.on("PATCH", PATH, ok(PROJECT))
    hook.patch_project(PID.upper(), {"description": None, "custom_instructions": "x"})
    [sent] = api.requests
    assert (sent.method, sent.url) == ("PATCH", BASE + PATH)
    assert body_of(sent) == {"description": None, "custom_instructions": "x"}


def test_only_the_given_field_is_sent_even_with_falsy_values(hook: GcaiHook, api: FakeApi) -> None:
    """An empty string is a value (clears to ""), not "omitted" and not null."""
    api.on("PATCH", PATH, ok(PROJECT))
    hook.update_project(PID, description="")
    assert body_of(api.requests[-1]) == {"description": ""}


def test_uppercase_uuid_is_sent_in_canonical_form(hook: GcaiHook, api: FakeApi) -> None:
    api.on("PATCH", PATH, ok(PROJECT))
    hook.update_project(PID.upper(), custom_instructions=None)
    assert api.requests[-1].url == BASE + PATH


def test_get_project_parses_the_answer(hook: GcaiHook, api: FakeApi) -> None:
    api.on("GET", PATH, ok(PROJECT))
    project = hook.get_project(PID)
    assert project.to_xcom() == PROJECT
    [sent] = api.requests
    assert (sent.method, sent.url, sent.body) == ("GET", BASE + PATH, None)


def test_the_hook_has_no_ping() -> None:
    """``ping`` was removed: ``test_connection`` (GET /me) is the one cheap check."""
    assert not hasattr(GcaiHook, "ping")


# -- validation before any request ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("project_id", "kwargs", "field"),
    [
        ("not-a-uuid", {"name": "x"}, "project_id"),
        ("", {"name": "x"}, "project_id"),
        (42, {"name": "x"}, "project_id"),
        (PID + "0", {"name": "x"}, "project_id"),
        (PID, {"name": ""}, "name"),
        (PID, {"name": "   \t\n"}, "name"),
        (PID, {"name": 5}, "name"),
        (PID, {"description": 5}, "description"),
        (PID, {"custom_instructions": ["x"]}, "custom_instructions"),
        (PID, {}, "name, description, custom_instructions"),
    ],
)
def test_invalid_input_is_refused_before_any_request(
    project_id: Any, kwargs: dict[str, Any], field: str, hook: GcaiHook, api: FakeApi
) -> None:
    api.on("PATCH", PATH, ok(PROJECT))
    with pytest.raises(InvalidInputError) as refused:
        hook.update_project(project_id, **kwargs)
    assert refused.value.field == field
    assert refused.value.status is None
    assert api.requests == []


def test_empty_update_error_names_every_field(hook: GcaiHook, api: FakeApi) -> None:
    with pytest.raises(InvalidInputError, match="name, description, custom_instructions"):
        hook.update_project(PID, name=NOT_SET, description=NOT_SET, custom_instructions=NOT_SET)
    assert api.requests == []


def test_get_project_refuses_a_bad_id_before_any_request(hook: GcaiHook, api: FakeApi) -> None:
    with pytest.raises(InvalidInputError, match="project_id"):
        hook.get_project("123")
    assert api.requests == []


# -- the key ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [ORG_KEY, USER_KEY], ids=["organisation", "personal"])
def test_key_is_sent_raw_without_a_scheme(key: str, connect: Callable[[str], None], api: FakeApi) -> None:
    connect(key)
    api.on("PATCH", PATH, ok(PROJECT))
    with capture_logs() as logs:
        GcaiHook().update_project(PID, name="n")
    assert api.requests[-1].headers["Authorization"] == key
    # Both forms are valid (a "^gcai_" check would wrongly flag the personal one): no warning at all.
    assert warnings_in(logs) == []


@pytest.mark.parametrize(
    ("stored", "sent"),
    [
        ("Bearer gcai_QZ7", "gcai_QZ7"),
        ("bearer   u:gcai_secret_9", "u:gcai_secret_9"),
        ("  BEARER gcai_padded_key  ", "gcai_padded_key"),
    ],
)
def test_a_stored_bearer_prefix_is_removed_with_a_warning_that_hides_the_key(
    stored: str, sent: str, connect: Callable[[str], None], api: FakeApi
) -> None:
    connect(stored)
    api.on("PATCH", PATH, ok(PROJECT))
    with capture_logs() as logs:
        GcaiHook().update_project(PID, name="n")
    assert api.requests[-1].headers["Authorization"] == sent
    warned = warnings_in(logs)
    assert len(warned) == 1, logs
    assert "bearer" in warned[0].lower()
    assert "gcai_default" in warned[0]
    assert sent not in warned[0]
    assert sent.split("gcai_", 1)[1] not in warned[0]


def test_a_key_of_another_form_draws_a_warning(connect: Callable[[str], None], api: FakeApi) -> None:
    connect("sk-not-a-gcai-key")
    api.on("GET", PATH, ok(PROJECT))
    with capture_logs() as logs:
        GcaiHook().get_project(PID)
    warned = warnings_in(logs)
    assert len(warned) == 1, warned
    assert "'gcai_'" in warned[0]
    assert "'u:gcai_'" in warned[0]
    assert "sk-not-a-gcai-key" not in warned[0]
    assert api.requests[-1].headers["Authorization"] == "sk-not-a-gcai-key"  # a warning only: still sent


# -- error answers ----------------------------------------------------------------------------------


#: (status, error body, exception type, what the message must say)
CLIENT_ERRORS: dict[int, tuple[dict[str, str], type[Exception], list[str]]] = {
    # 401: missing or malformed key -> the message spells out the raw key format, no Bearer.
    401: ({"error": "Missing or malformed API key"}, AuthenticationError, ["'gcai_...'", "'u:gcai_...'", "Bearer"]),
    # 403: a well-formed key GC AI does not accept -> "not valid", make a new one.
    403: ({"error": "Forbidden"}, AuthenticationError, ["not valid", "Settings -> API"]),
    # 404: GC AI does not tell "no such project" from "no write access" -> the message says both.
    404: ({"error": "Resource missing"}, NotFoundError, ["does not exist", "no write access"]),
}


@pytest.mark.parametrize("status", sorted(CLIENT_ERRORS))
def test_client_errors_explain_themselves_and_are_not_retried(
    status: int, hook: GcaiHook, clock: VirtualClock, api: FakeApi
) -> None:
    body, error_type, must_say = CLIENT_ERRORS[status]
    must_say = [str(status), *must_say]
    api.on("PATCH", PATH, Reply(status, body))
    with pytest.raises(error_type) as failed:
        hook.update_project(PID, description=None)
    message = str(failed.value)
    for words in must_say:
        assert words in message, f"{words!r} missing from {message!r}"
    assert body["error"] in message  # the API's own words are kept
    assert getattr(failed.value, "status", None) == status
    assert len(api.requests) == 1
    assert clock.sleeps == []


def test_a_404_on_read_says_not_found_or_not_visible(hook: GcaiHook, api: FakeApi) -> None:
    api.on("GET", PATH, Reply(404, {"error": "Resource missing"}))
    with pytest.raises(NotFoundError) as failed:
        hook.get_project(PID)
    assert "cannot see it" in str(failed.value)
    assert "no write access" not in str(failed.value)


def test_an_error_message_echoing_the_key_is_redacted(hook: GcaiHook, api: FakeApi) -> None:
    api.on("PATCH", PATH, Reply(403, {"error": f"Invalid API key {ORG_KEY}"}))
    with pytest.raises(AuthenticationError) as failed:
        hook.update_project(PID, name="n")
    assert "Invalid API key ***" in str(failed.value)
    assert ORG_KEY not in str(failed.value)
    assert ORG_KEY not in repr(failed.value)


# -- rate limiting ----------------------------------------------------------------------------------


def test_429_waits_as_retry_after_says_then_succeeds(hook: GcaiHook, clock: VirtualClock, api: FakeApi) -> None:
    limited = Reply(
        429,
        {"error": "Rate limit exceeded", "code": "RATE_LIMITED"},
        {"Retry-After": "7", "RateLimit-Limit": "120", "RateLimit-Remaining": "0"},
    )
    api.on("PATCH", PATH, limited, ok(PROJECT))
    project = hook.update_project(PID, custom_instructions="x")
    assert project.id == PID
    assert clock.sleeps == [7.0 + 0.5 * 0.7]  # Retry-After plus jitter (0.5 of at most 10 %)
    # The retry repeats the very same request.
    first, second = api.requests
    assert first.body == second.body
    assert body_of(first) == {"custom_instructions": "x"}


def test_429_with_retry_after_beyond_the_cap_fails_without_sleeping(
    hook: GcaiHook, clock: VirtualClock, api: FakeApi
) -> None:
    api.on(
        "PATCH",
        PATH,
        Reply(429, {"error": "Rate limit exceeded", "code": "RATE_LIMITED"}, {"Retry-After": "3600"}),
    )
    with pytest.raises(RateLimitedError) as failed:
        hook.update_project(PID, name="n")
    assert failed.value.retry_after == 3600
    assert "3600" in str(failed.value)
    assert failed.value.api_code == "RATE_LIMITED"
    assert clock.sleeps == []
    assert len(api.requests) == 1


def test_429_again_and_again_gives_up_after_the_retries(
    connect: Callable[[str], None], clock: VirtualClock, api: FakeApi
) -> None:
    api.on("PATCH", PATH, Reply(429, {"error": "Rate limit exceeded"}, {"Retry-After": "2"}))
    with pytest.raises(RateLimitedError):
        GcaiHook(max_retries=2).update_project(PID, name="n")
    assert len(api.requests) == 3
    assert clock.sleeps == [2.1, 2.1]


# -- test_connection --------------------------------------------------------------------------------


def test_test_connection_names_an_organisation_key(hook: GcaiHook, api: FakeApi) -> None:
    api.on("GET", "/me", ok(ORG_ME))
    success, message = hook.test_connection()
    assert success is True
    assert "organisation key" in message
    assert "personal" not in message
    assert "Acme Legal" in message
    assert "4242" in message
    assert BASE in message
    assert ORG_KEY not in message
    assert [(r.method, r.url) for r in api.requests] == [("GET", f"{BASE}/me")]
    assert api.requests[0].headers["Authorization"] == ORG_KEY


def test_test_connection_names_a_personal_key_and_its_user(connect: Callable[[str], None], api: FakeApi) -> None:
    connect(USER_KEY)
    api.on("GET", "/me", ok(USER_ME))
    success, message = GcaiHook().test_connection()
    assert success is True
    assert "personal key" in message
    assert "jane@acme.test" in message
    assert "Acme Legal" in message
    assert USER_KEY not in message
    assert api.requests[0].headers["Authorization"] == USER_KEY


def test_test_connection_is_false_on_403(hook: GcaiHook, api: FakeApi) -> None:
    api.on("GET", "/me", Reply(403, {"error": "Invalid API key"}))
    success, message = hook.test_connection()
    assert success is False
    assert "403" in message
    assert "not valid" in message
    assert len(api.requests) == 1


def test_test_connection_is_false_without_a_connection(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_GCAI_MISSING", raising=False)
    success, message = GcaiHook("gcai_missing").test_connection()
    assert success is False
    assert "AIRFLOW_CONN_GCAI_MISSING" in message
    assert api.requests == []


# -- what mutation testing found unpinned (issue 19) ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("GET", lambda hook: hook.get_project(PID, timeout=5)),
        ("PATCH", lambda hook: hook.update_project(PID, name="n", timeout=5)),
        ("PATCH", lambda hook: hook.patch_project(PID, {"name": "n"}, timeout=5)),
    ],
    ids=["get_project", "update_project", "patch_project"],
)
def test_a_call_timeout_bounds_connect_and_read_of_that_call(
    hook: GcaiHook, api: FakeApi, method: str, call: Any
) -> None:
    from airflow_provider_projects._http.wire import Timeout

    api.on(method, PATH, ok(PROJECT))
    call(hook)
    assert [request.timeout for request in api.requests] == [Timeout(connect=5.0, read=5.0)]


def test_a_key_of_another_shape_is_warned_about_exactly(connect: Callable[[str], None], api: FakeApi) -> None:
    connect("sk-not-a-gcai-key")
    api.on("PATCH", PATH, ok(PROJECT))
    with capture_logs() as logs:
        GcaiHook().update_project(PID, name="n")
    assert warnings_in(logs) == [
        "Connection 'gcai_default': GC AI keys start with 'gcai_' (organisation) or 'u:gcai_' "
        "(personal); this one does not, so GC AI will probably refuse it."
    ]


def test_the_hook_keeps_its_connection_id() -> None:
    assert GcaiHook("my_gcai").gcai_conn_id == "my_gcai"


def test_a_successful_connection_test_logs_its_message(hook: GcaiHook, api: FakeApi) -> None:
    api.on("GET", "/me", ok(ORG_ME))
    with capture_logs() as logs:
        _, message = hook.test_connection()
    assert message == f"Connected to GC AI at {BASE} with an organisation key of organisation 'Acme Legal' (id 4242)."
    infos = [e["event"] % e.get("positional_args", ()) for e in logs if e.get("log_level") == "info"]
    assert message in infos
