"""Reading the Airflow connection (AIRFLOW_CONN_* env vars), and keeping the API key out of every output."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import requests_mock as rm
from samples import GCAI_ID, GCAI_URL, GCORE_PROJECT, GCORE_URL, TASK_ID

from airflow_provider_projects._http.core import DEFAULT_TIMEOUT, RetryPolicy, Timeout
from airflow_provider_projects.errors import ConnectionSetupError, ProjectsApiError
from airflow_provider_projects.hooks.base import ConnectionSettings, ProjectsApiHook
from airflow_provider_projects.hooks.gcai import GcaiHook
from airflow_provider_projects.hooks.gcore import GcoreHook

SECRET = "ZZ-SECRET-7f3a9c"

GCAI_PROJECT: dict[str, Any] = {
    "id": GCAI_ID,
    "name": "Vendor: Acme MSA",
    "description": None,
    "custom_instructions": None,
    "is_access_controlled": False,
    "my_access_level": None,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-02T00:00:00Z",
}


@pytest.fixture(autouse=True)
def airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def settings_of(hook: ProjectsApiHook) -> ConnectionSettings:
    conn = hook.get_connection(hook.conn_id)
    return hook.settings_from(conn, conn.extra_dejson)


def output_of(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    """Everything logged: stdlib records (caplog) and the task-SDK's structlog output (stdout/stderr)."""
    captured = capsys.readouterr()
    return "\n".join([captured.out, captured.err, *(r.getMessage() for r in caplog.records)])


# -- base URL -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hook_class", "conn_type", "extra_conn", "base_url"),
    [
        (GcoreHook, "gcore", {}, GCORE_URL),
        (GcaiHook, "gcai", {}, GCAI_URL),
        (GcoreHook, "gcore", {"host": "api.example.test"}, "https://api.example.test"),
        (GcoreHook, "gcore", {"host": "  api.example.test/  "}, "https://api.example.test"),
        (GcaiHook, "gcai", {"host": "gcai.example.test/api/external/v1"}, "https://gcai.example.test/api/external/v1"),
        (GcoreHook, "gcore", {"host": "localhost", "schema": "http", "port": 8080}, "http://localhost:8080"),
        (GcoreHook, "gcore", {"host": "localhost", "port": 8443}, "https://localhost:8443"),
        (GcoreHook, "gcore", {"host": "http://127.0.0.1:9000/"}, "http://127.0.0.1:9000"),
        (GcaiHook, "gcai", {"host": "https://proxy.test/gcai/v1/"}, "https://proxy.test/gcai/v1"),
    ],
)
def test_base_url(
    hook_class: type[ProjectsApiHook],
    conn_type: str,
    extra_conn: dict[str, Any],
    base_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_conn(monkeypatch, "conn_url", {"conn_type": conn_type, "password": "gcai_key-123", **extra_conn})
    hook = hook_class("conn_url")
    assert settings_of(hook).base_url == base_url
    assert hook.transport.core.base_url == base_url


# -- extras ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "timeout"),
    [
        ({}, DEFAULT_TIMEOUT),
        ({"timeout": None}, DEFAULT_TIMEOUT),
        ({"timeout": ""}, DEFAULT_TIMEOUT),
        ({"timeout": 5}, Timeout(5.0, 5.0)),
        ({"timeout": 0.5}, Timeout(0.5, 0.5)),
        ({"timeout": "45"}, Timeout(10.0, 45.0)),
        ({"timeout": 3600}, Timeout(10.0, 3600.0)),
        ({"extra__gcore__timeout": 7}, Timeout(7.0, 7.0)),  # the pre-3.2 form's key
        ({"timeout": 20, "extra__gcore__timeout": 7}, Timeout(10.0, 20.0)),
    ],
)
def test_timeout_extra_valid(extra: dict[str, Any], timeout: Timeout, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_t", {"conn_type": "gcore", "password": "k-123456", "extra": extra})
    assert settings_of(GcoreHook("conn_t")).timeout == timeout


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        3601,
        "abc",
        "nan",
        "inf",
        [5],
        {"read": 5},
        pytest.param(
            True,
        ),
    ],
)
def test_timeout_extra_invalid(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_bad_t", {"conn_type": "gcore", "password": "k-123456", "extra": {"timeout": value}})
    with pytest.raises(ConnectionSetupError) as caught:
        settings_of(GcoreHook("conn_bad_t"))
    assert "'timeout'" in str(caught.value)
    assert "'conn_bad_t'" in str(caught.value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "max_retries"),
    [
        ({}, RetryPolicy().max_retries),
        ({"max_retries": None}, 4),
        ({"max_retries": 0}, 0),
        ({"max_retries": 10}, 10),
        ({"max_retries": "3"}, 3),
        ({"max_retries": " 3 "}, 3),
        ({"extra__gcai__max_retries": 2}, 2),
    ],
)
def test_max_retries_extra_valid(extra: dict[str, Any], max_retries: int, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_r", {"conn_type": "gcai", "password": "gcai_k", "extra": extra})
    hook = GcaiHook("conn_r")
    assert settings_of(hook).max_retries == max_retries
    assert hook.transport.core.policy.max_retries == max_retries


@pytest.mark.parametrize("value", [-1, 11, 2.5, "3.5", "three", True, False, [1], "03"])
def test_max_retries_extra_invalid(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_bad_r", {"conn_type": "gcai", "password": "gcai_k", "extra": {"max_retries": value}})
    with pytest.raises(ConnectionSetupError) as caught:
        settings_of(GcaiHook("conn_bad_r"))
    assert "'max_retries'" in str(caught.value)
    assert "0 to 10" in str(caught.value)


def test_hook_arguments_override_the_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(
        monkeypatch,
        "conn_over",
        {"conn_type": "gcore", "password": "k-123456", "extra": {"timeout": 5, "max_retries": 7}},
    )
    settings = settings_of(GcoreHook("conn_over", timeout=12, max_retries=0))
    assert settings.timeout == Timeout(10.0, 12.0)
    assert settings.max_retries == 0


def test_hook_arguments_are_checked_like_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_over_bad", {"conn_type": "gcore", "password": "k-123456"})
    with pytest.raises(ConnectionSetupError, match="'max_retries'"):
        settings_of(GcoreHook("conn_over_bad", max_retries=99))


# -- the key --------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", [None, "", "   "])
def test_missing_key(password: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    conn: dict[str, Any] = {"conn_type": "gcore"}
    if password is not None:
        conn["password"] = password
    set_conn(monkeypatch, "conn_nokey", conn)
    with pytest.raises(ConnectionSetupError) as caught:
        GcoreHook("conn_nokey").transport  # noqa: B018
    text = str(caught.value)
    assert "'conn_nokey'" in text
    assert "has no Gcore Cloud API key" in text
    assert "password field" in text
    assert "Login" not in text


@pytest.mark.parametrize(("hook_class", "conn_type"), [(GcoreHook, "gcore"), (GcaiHook, "gcai")])
def test_key_in_login_field(hook_class: type[ProjectsApiHook], conn_type: str, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_login", {"conn_type": conn_type, "login": f"gcai_{SECRET}"})
    with pytest.raises(ConnectionSetupError) as caught:
        hook_class("conn_login").transport  # noqa: B018
    text = str(caught.value)
    assert "Login field" in text
    assert "move it to the API key field" in text
    assert SECRET not in text


@pytest.mark.parametrize(
    ("hook_class", "conn_type", "password", "key", "word"),
    [
        (GcoreHook, "gcore", f"APIKey {SECRET}", SECRET, "APIKey"),
        (GcoreHook, "gcore", f"apikey   {SECRET}", SECRET, "apikey"),
        (GcoreHook, "gcore", f"Bearer {SECRET}", SECRET, "Bearer"),
        (GcaiHook, "gcai", f"Bearer gcai_{SECRET}", f"gcai_{SECRET}", "Bearer"),
        (GcaiHook, "gcai", f"  bearer u:gcai_{SECRET}  ", f"u:gcai_{SECRET}", "bearer"),
    ],
)
def test_scheme_prefix_is_removed_with_a_warning_without_the_key(
    *,
    hook_class: type[ProjectsApiHook],
    conn_type: str,
    password: str,
    key: str,
    word: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    set_conn(monkeypatch, "conn_prefix", {"conn_type": conn_type, "password": password})
    hook = hook_class("conn_prefix")
    hook.transport  # noqa: B018
    assert hook._settings is not None
    assert hook._settings.api_key.reveal() == key
    expected_header = f"APIKey {key}" if conn_type == "gcore" else key
    assert hook.transport.core.request("GET", "/x").headers["Authorization"] == expected_header
    logged = output_of(capsys, caplog)
    assert f"starts with {word!r}" in logged
    assert "that word was removed" in logged
    assert SECRET not in logged


@pytest.mark.parametrize(("key", "warned"), [("gcai_abc123", False), ("u:gcai_abc123", False), ("sk-abc123", True)])
def test_gcai_key_prefix_check(
    key: str,
    warned: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    set_conn(monkeypatch, "conn_gcai_key", {"conn_type": "gcai", "password": key})
    hook = GcaiHook("conn_gcai_key")
    hook.transport  # noqa: B018
    logged = output_of(capsys, caplog)
    assert ("GC AI keys start with 'gcai_'" in logged) is warned
    assert key not in logged


def test_gcore_key_has_no_gcai_prefix_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    set_conn(monkeypatch, "conn_gcore_key", {"conn_type": "gcore", "password": "plain-token-1"})
    GcoreHook("conn_gcore_key").transport  # noqa: B018
    assert "gcai_" not in output_of(capsys, caplog)


@pytest.mark.parametrize(("hook_class", "conn_type"), [(GcoreHook, "gcore"), (GcaiHook, "gcai")])
def test_missing_connection_says_how_to_create_it(
    hook_class: type[ProjectsApiHook], conn_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_CONN", raising=False)
    hook = hook_class("no_such_conn")
    with pytest.raises(ConnectionSetupError) as caught:
        hook.transport  # noqa: B018
    text = str(caught.value)
    assert "No Airflow connection 'no_such_conn'" in text
    assert f"airflow connections add no_such_conn --conn-type {conn_type}" in text
    assert "AIRFLOW_CONN_NO_SUCH_CONN=" in text
    assert f'"conn_type": "{conn_type}"' in text
    assert caught.value.__cause__ is None

    with pytest.raises(ConnectionSetupError, match="No Airflow connection 'no_such_conn'"):
        asyncio.run(hook.async_transport())


def test_default_connection_ids() -> None:
    assert GcoreHook().conn_id == "gcore_default"
    assert GcaiHook().conn_id == "gcai_default"
    assert GcoreHook("x").gcore_conn_id == "x"
    assert GcaiHook("y").gcai_conn_id == "y"


# -- redaction ------------------------------------------------------------------------------------


@pytest.fixture
def every_log_record(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG on the root and on every logger that does not propagate to it."""
    caplog.set_level(logging.DEBUG)
    patched: list[tuple[logging.Logger, int]] = []
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and not logger.propagate:
            patched.append((logger, logger.level))
            logger.addHandler(caplog.handler)
            logger.setLevel(logging.DEBUG)
    yield caplog
    for logger, level in patched:
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)


def record_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        texts.append(str(record.__dict__))
        if record.exc_info and record.exc_info[1] is not None:
            texts.extend(traceback.format_exception(record.exc_info[1]))
    return texts


def error_texts(error: BaseException) -> list[str]:
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args), *traceback.format_exception(current)]
        if isinstance(current, ProjectsApiError):
            texts.append(repr(vars(current)))
        current = current.__cause__ or current.__context__
    return texts


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def echo_body(api: str, status: int) -> dict[str, Any]:
    """An error body whose message echoes the key, as some gateways do."""
    if api == "gcore":
        if status == 409:
            message = (
                f"Operation on resource `{SECRET}` currently locked by running task `update_project` with id "
                f"`{TASK_ID}` (2026-05-01) to prevent concurrent operations. Repeat request a little later. "
            )
        else:
            message = f"Invalid <APIKey> authentication token: {SECRET}"
        return {"exception_class": "SomeError", "message": message, "request_id": "r-1"}
    return {"error": f"Invalid key gcai_{SECRET}", "code": "UNAUTHORIZED", "details": {"key": f"gcai_{SECRET}"}}


#: (api, scenario)
REDACTION_SCENARIOS = [
    ("gcore", "ok"),
    ("gcore", "401-echo"),
    ("gcore", "409-echo"),
    ("gcore", "500"),
    ("gcore", "refused"),
    ("gcai", "ok"),
    ("gcai", "401-echo"),
    ("gcai", "404-echo"),
    ("gcai", "500"),
    ("gcai", "refused"),
]


@pytest.mark.parametrize(("api", "scenario"), REDACTION_SCENARIOS)
@pytest.mark.parametrize("prefix", ["", "APIKey "])
def test_the_key_appears_nowhere(
    *,
    api: str,
    scenario: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    every_log_record: pytest.LogCaptureFixture,
) -> None:
    key = SECRET if api == "gcore" else f"gcai_{SECRET}"
    conn: dict[str, Any] = {"conn_type": api, "password": prefix + key, "extra": {"max_retries": 2}}
    port = unused_port()
    if scenario == "refused":
        conn["host"] = f"http://127.0.0.1:{port}"
    set_conn(monkeypatch, "conn_secret", conn)
    slept: list[float] = []
    hook: ProjectsApiHook = (GcoreHook if api == "gcore" else GcaiHook)("conn_secret", sleep=slept.append)
    if api == "gcore":
        url = f"{GCORE_URL}/cloud/v1/projects/42"
        method, call, ok_body = "PUT", lambda: hook.replace_project(42, name="abc"), GCORE_PROJECT  # type: ignore[attr-defined]
    else:
        url = f"{GCAI_URL}/projects/{GCAI_ID}"
        method, call, ok_body = "GET", lambda: hook.get_project(GCAI_ID), GCAI_PROJECT  # type: ignore[attr-defined]

    error: BaseException | None = None
    with rm.Mocker(real_http=scenario == "refused") as mock:
        if scenario == "ok":
            mock.register_uri(method, url, json=ok_body)
        elif scenario == "500":
            mock.register_uri(method, url, status_code=500, json=echo_body(api, 500))
        elif scenario != "refused":
            status = int(scenario.split("-", maxsplit=1)[0])
            mock.register_uri(method, url, status_code=status, json=echo_body(api, status))
        try:
            result = call()
        except ProjectsApiError as caught:
            error = caught
        else:
            assert result.to_xcom() == ok_body

    assert (error is None) is (scenario == "ok")
    if scenario == "500":
        assert len(slept) == (2 if api == "gcai" else 0)  # a 500 is retried for GET, not for PUT
    if scenario == "refused":
        assert "connection failed" in str(error)

    texts = [output_of(capsys, every_log_record), *record_texts(every_log_record)]
    if error is not None:
        texts += error_texts(error)
    transport = hook.transport
    request = transport.core.request(method, "/x", json_body={"name": "abc"})
    texts += [repr(hook), str(hook), repr(transport), repr(transport.core), repr(request), str(request)]
    settings = settings_of(hook)
    texts += [repr(settings), str(settings), repr(hook._settings)]
    leaks = [text for text in texts if SECRET in text]
    assert leaks == []
    # the key was really used
    assert request.headers["Authorization"] in {f"APIKey {SECRET}", f"gcai_{SECRET}"}


def test_the_leak_detector_sees_a_logged_key(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    every_log_record: pytest.LogCaptureFixture,
) -> None:
    """Control for the test above: a key that is logged is found (nothing masks it before we look)."""
    set_conn(monkeypatch, "conn_canary", {"conn_type": "gcore", "password": SECRET})
    hook = GcoreHook("conn_canary")
    hook.transport  # noqa: B018  (registers the key with Airflow's secrets masker)
    logging.getLogger("airflow_provider_projects._http.core").warning("canary %s", SECRET)
    hook.log.warning("canary2 %s", SECRET)
    logged = output_of(capsys, every_log_record)
    assert f"canary {SECRET}" in logged
    assert f"canary2 {SECRET}" in logged


@pytest.mark.parametrize("host", ["https://api gcore.test", "ftp://api.gcore.test", "http://:8080"])
def test_an_unusable_base_url_is_a_setup_error_before_any_request(
    monkeypatch: pytest.MonkeyPatch, requests_mock: Any, host: str
) -> None:
    set_conn(monkeypatch, "gcore_default", {"conn_type": "gcore", "host": host, "password": "k-1"})
    with pytest.raises(ConnectionSetupError, match="is not an http\\(s\\) URL") as caught:
        GcoreHook().get_project(4)
    assert "gcore_default" in str(caught.value)
    assert requests_mock.call_count == 0
