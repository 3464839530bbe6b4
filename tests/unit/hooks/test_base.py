"""Reading the Airflow connection (AIRFLOW_CONN_* env vars) once, checking it before any request,
and keeping the API key and the proxy URL out of every output."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import BaseHook
from fakes import FakeApi, Reply, VirtualClock, ok, run_virtual
from samples import GCAI_ID, GCAI_PROJECT, GCORE_PROJECT, TASK_ID

from airflow_provider_projects._http.wire import DEFAULT_TIMEOUT, Timeout
from airflow_provider_projects.errors import (
    ApiUnreachableError,
    ConnectionNotFoundError,
    ConnectionSetupError,
    InvalidInputError,
    ProjectsApiError,
)
from airflow_provider_projects.hooks.base import ProjectsApiHook
from airflow_provider_projects.hooks.gcai import GcaiHook
from airflow_provider_projects.hooks.gcore import GcoreHook
from airflow_provider_projects.hooks.settings import ConnectionSettings

from .support import SECRET, every_text_of, gcore_conn, output_of, set_conn


def test_hook_arguments_override_the_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(
        monkeypatch,
        "conn_over",
        {"conn_type": "gcore", "password": "k-123456", "extra": {"timeout": 5, "max_retries": 7}},
    )
    settings = GcoreHook("conn_over", timeout=12, max_retries=0).settings()
    assert settings.timeout == Timeout(10.0, 12.0)
    assert settings.max_retries == 0


def test_hook_arguments_are_checked_like_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_over_bad", {"conn_type": "gcore", "password": "k-123456"})
    with pytest.raises(ConnectionSetupError, match="'max_retries'"):
        GcoreHook("conn_over_bad", max_retries=99).settings()


def test_the_connection_is_read_once_per_hook(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> None:
    api.on("GET", "/cloud/v1/projects/42", ok(GCORE_PROJECT))
    hook = gcore_conn(monkeypatch, "conn_once")
    reads: list[str] = []
    original = GcoreHook.get_connection

    def counted(conn_id: str) -> Any:
        reads.append(conn_id)
        return original(conn_id)

    monkeypatch.setattr(GcoreHook, "get_connection", staticmethod(counted))
    hook.get_project(42)
    hook.get_project(42)
    assert hook.settings() is hook.settings()
    assert reads == ["conn_once"]
    assert len(api.sent("GET", "/cloud/v1/projects/42")) == 2


@pytest.mark.parametrize("extra", [{"timeout": "abc"}, {"proxy": "proxy.example:3128"}, {"verify": "/no/such/ca.pem"}])
def test_a_setup_error_carries_no_frame_that_holds_the_connection(
    extra: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logger or error tracker that renders frame locals must not find the key (Connection's repr shows it)."""
    set_conn(monkeypatch, "conn_frames", {"conn_type": "gcore", "password": SECRET, "extra": extra})
    with pytest.raises(ConnectionSetupError) as caught:
        GcoreHook("conn_frames").settings()
    frames = []
    tb = caught.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    assert [f.f_code.co_name for f in frames][-1] == "_checked"  # nothing below the hook's own check
    leaks = [(f.f_code.co_name, name) for f in frames for name, v in f.f_locals.items() if SECRET in repr(v)]
    assert leaks == []


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
    assert SECRET not in every_text_of(caught.value)


@pytest.mark.parametrize(("hook_class", "conn_type"), [(GcoreHook, "gcore"), (GcaiHook, "gcai")])
@pytest.mark.parametrize("bad", [f"{SECRET}\nX-Injected: 1", f"{SECRET} tail", f"{SECRET}é"])
def test_a_key_that_cannot_go_in_a_header_is_refused_without_echoing_it(
    hook_class: type[ProjectsApiHook], conn_type: str, bad: str, monkeypatch: pytest.MonkeyPatch, api: FakeApi
) -> None:
    set_conn(monkeypatch, "conn_badkey", {"conn_type": conn_type, "password": bad})
    with pytest.raises(ConnectionSetupError) as caught:
        hook_class("conn_badkey").transport  # noqa: B018
    assert "copy-paste artefact" in str(caught.value)
    assert SECRET not in every_text_of(caught.value)
    assert api.requests == []


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
    assert hook.settings().api_key.reveal() == key
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
    GcaiHook("conn_gcai_key").transport  # noqa: B018
    logged = output_of(capsys, caplog)
    assert ("GC AI keys start with 'gcai_'" in logged) is warned
    assert key not in logged


def test_gcore_key_has_no_gcai_prefix_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    set_conn(monkeypatch, "conn_gcore_key", {"conn_type": "gcore", "password": "plain-token-1"})
    GcoreHook("conn_gcore_key").transport  # noqa: B018
    assert "gcai_" not in output_of(capsys, caplog)


@pytest.mark.parametrize(("hook_class", "conn_type"), [(GcoreHook, "gcore"), (GcaiHook, "gcai")])
def test_missing_connection_says_how_to_create_it(
    hook_class: type[ProjectsApiHook], conn_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_CONN", raising=False)
    hook = hook_class("no_such_conn")
    with pytest.raises(ConnectionNotFoundError) as caught:
        hook.transport  # noqa: B018
    text = str(caught.value)
    assert "No Airflow connection 'no_such_conn'" in text
    assert f"airflow connections add no_such_conn --conn-type {conn_type}" in text
    assert "AIRFLOW_CONN_NO_SUCH_CONN=" in text
    assert f'"conn_type": "{conn_type}"' in text
    assert caught.value.__cause__ is None

    with pytest.raises(ConnectionNotFoundError, match="No Airflow connection 'no_such_conn'"):
        asyncio.run(hook.atransport())  # a real loop: the async connection read uses a worker thread


@pytest.mark.parametrize(
    ("hook_class", "stored_type", "expected"),
    [(GcoreHook, "http", "gcore"), (GcoreHook, "gcai", "gcore"), (GcaiHook, "gcore", "gcai"), (GcaiHook, None, "gcai")],
)
def test_a_connection_of_another_type_is_refused_before_any_request(
    hook_class: type[ProjectsApiHook],
    stored_type: str | None,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    api: FakeApi,
) -> None:
    """A key made for one vendor must never reach the other's host, nor go out under a generic type."""
    proxy = f"http://user:{SECRET}-proxy@proxy.example.test:3128"
    conn: dict[str, Any] = {"host": "https://api.gcore.test", "password": SECRET, "extra": {"proxy": proxy}}
    set_conn(monkeypatch, "conn_typed", conn | ({"conn_type": stored_type} if stored_type else {}))
    hook = hook_class("conn_typed")
    with pytest.raises(ConnectionSetupError) as caught:
        hook.transport  # noqa: B018
    assert str(caught.value) == (
        f"Connection 'conn_typed' has type {stored_type!r}, but {hook_class.__name__} ({hook.hook_name}) reads only "
        f"connections of type {expected!r}, so that a key is only sent to the API it was issued for. Recreate it "
        f"with type {expected!r}: in the UI (Admin -> Connections, type {hook.hook_name!r}), or "
        "`airflow connections delete conn_typed` then "
        f"`airflow connections add conn_typed --conn-type {expected} --conn-password <API key>`."
    )
    with pytest.raises(ConnectionSetupError, match="reads only connections of type"):
        asyncio.run(hook_class("conn_typed").asettings())
    text = every_text_of(caught.value)
    assert SECRET not in text and SECRET[:6] not in text and "proxy.example.test" not in text
    assert api.requests == []


def test_asettings_reads_the_same_checked_settings(monkeypatch: pytest.MonkeyPatch, pem: Path) -> None:
    set_conn(
        monkeypatch,
        "conn_async",
        {
            "conn_type": "gcore",
            "password": "APIKey k-123456",
            "extra": {"timeout": 5, "proxy": "direct", "verify": str(pem)},
        },
    )
    settings = asyncio.run(GcoreHook("conn_async").asettings())
    assert settings == GcoreHook("conn_async").settings()
    assert settings.api_key.reveal() == "k-123456"
    assert (settings.timeout, settings.network.verify, settings.network.use_env_proxy) == (
        Timeout(5.0, 5.0),
        str(pem),
        False,
    )
    transport = asyncio.run(GcoreHook("conn_async").atransport())
    assert transport.network == settings.network

    set_conn(monkeypatch, "conn_async_bad", {"conn_type": "gcore", "password": "k", "extra": {"proxy": "p:1"}})
    with pytest.raises(ConnectionSetupError, match="extra 'proxy'"):
        asyncio.run(GcoreHook("conn_async_bad").asettings())


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
        texts.append(every_text_of(current))
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


@pytest.mark.parametrize(("which", "scenario"), REDACTION_SCENARIOS)
@pytest.mark.parametrize("prefix", ["", "APIKey "])
def test_the_key_appears_nowhere(
    *,
    which: str,
    scenario: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    every_log_record: pytest.LogCaptureFixture,
) -> None:
    key = SECRET if which == "gcore" else f"gcai_{SECRET}"
    conn: dict[str, Any] = {"conn_type": which, "password": prefix + key, "extra": {"max_retries": 2}}
    if scenario == "refused":
        # The real transport against a closed local port: the library's own exception text is redacted too.
        conn["host"] = f"http://127.0.0.1:{unused_port()}"
    else:
        api: FakeApi = request.getfixturevalue("api")
    set_conn(monkeypatch, "conn_secret", conn)
    hook: ProjectsApiHook = (GcoreHook if which == "gcore" else GcaiHook)("conn_secret")
    if which == "gcore":
        method, path, ok_body = "PUT", "/cloud/v1/projects/42", GCORE_PROJECT
        call = lambda: hook.replace_project(42, name="abc", method="PUT")  # type: ignore[attr-defined]  # noqa: E731
    else:
        method, path, ok_body = "GET", f"/projects/{GCAI_ID}", GCAI_PROJECT
        call = lambda: hook.get_project(GCAI_ID)  # type: ignore[attr-defined]  # noqa: E731
    if scenario == "ok":
        api.on(method, path, ok(ok_body))
    elif scenario == "500":
        api.on(method, path, Reply(500, echo_body(which, 500)))
    elif scenario != "refused":
        status = int(scenario.split("-", maxsplit=1)[0])
        api.on(method, path, Reply(status, echo_body(which, status)))

    error: BaseException | None = None
    try:
        result = call()
    except ProjectsApiError as caught:
        error = caught
    else:
        assert result.to_xcom() == ok_body

    assert (error is None) is (scenario == "ok")
    if scenario == "500":
        assert len(clock.sleeps) == (2 if which == "gcai" else 0)  # a 500 is retried for GET, not for PUT
    if scenario == "refused":
        assert isinstance(error, ApiUnreachableError)
        assert "connection failed" in str(error)
        assert len(clock.sleeps) == 2

    texts = [output_of(capsys, every_log_record), *record_texts(every_log_record)]
    if error is not None:
        texts += error_texts(error)
    transport = hook.transport
    built = transport.core.request(method, "/x", json_body={"name": "abc"})
    texts += [repr(hook), str(hook), repr(transport), repr(transport.core), repr(built), str(built)]
    settings = hook.settings()
    texts += [repr(settings), str(settings), repr(settings.fingerprint())]
    leaks = [text for text in texts if SECRET in text]
    assert leaks == []
    # the key was really used
    assert built.headers["Authorization"] in {f"APIKey {SECRET}", f"gcai_{SECRET}"}


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


# -- Airflow's secrets masker (issue 19) ----------------------------------------------------------


@pytest.mark.parametrize(("hook_class", "conn_type"), [(GcoreHook, "gcore"), (GcaiHook, "gcai")])
def test_a_library_logging_the_key_or_the_proxy_url_in_a_task_shows_asterisks(
    hook_class: type[ProjectsApiHook], conn_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's transport registers the key and the proxy URL with Airflow's secrets masker.

    Libraries (urllib3, requests) log through the task's logging, whose every line passes
    ``airflow.sdk.log.mask_logs``: what they print there must show ``***``. Fresh values per test:
    the masker is process-wide and keeps what earlier tests registered.
    """
    from airflow.sdk.log import mask_logs

    key, password, host = (os.urandom(8).hex() for _ in range(3))
    key = f"{conn_type}_{key}"
    proxy = f"http://user:{password}@proxy-{host}.example.test:3128"
    extra = {"proxy": proxy}
    set_conn(monkeypatch, "conn_masked", {"conn_type": conn_type, "password": key, "extra": extra})
    line = f"send: Authorization: {key} through {proxy}"

    def logged() -> str:
        return str(mask_logs(None, "debug", {"event": line})["event"])

    assert logged() == line  # control: nothing masks them before the hook builds its transport
    hook_class("conn_masked").transport  # noqa: B018
    assert logged() == "send: Authorization: *** through ***"


# -- the async settings read (issue 19) -----------------------------------------------------------


def test_a_failed_async_settings_read_is_not_kept(monkeypatch: pytest.MonkeyPatch, clock: VirtualClock) -> None:
    """A connection created (or fixed) after a failed read is read by the next call on the same hook."""
    hook = GcoreHook("conn_later")

    async def read_three_times() -> ConnectionSettings:
        with pytest.raises(ConnectionNotFoundError, match="No Airflow connection 'conn_later'"):
            await hook.asettings()
        set_conn(monkeypatch, "conn_later", {"conn_type": "gcore", "password": "k-123456", "extra": {"timeout": "x"}})
        with pytest.raises(ConnectionSetupError, match="extra 'timeout'"):
            await hook.asettings()
        set_conn(monkeypatch, "conn_later", {"conn_type": "gcore", "password": "k-123456"})
        return await hook.asettings()

    settings = run_virtual(clock, read_three_times())
    assert settings.api_key.reveal() == "k-123456"
    assert settings.timeout == DEFAULT_TIMEOUT


def test_a_cancelled_async_settings_read_is_not_kept(monkeypatch: pytest.MonkeyPatch, clock: VirtualClock) -> None:
    set_conn(monkeypatch, "conn_cancelled", {"conn_type": "gcore", "password": "k-123456"})
    real = BaseHook.aget_connection
    calls: list[str] = []

    async def cancelled_once(conn_id: str) -> Any:
        calls.append(conn_id)
        if len(calls) == 1:
            raise asyncio.CancelledError  # the backend's read was cancelled under us
        return await real(conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", staticmethod(cancelled_once))
    hook = GcoreHook("conn_cancelled")

    async def read_twice() -> ConnectionSettings:
        with pytest.raises(asyncio.CancelledError):
            await hook.asettings()
        return await hook.asettings()

    assert run_virtual(clock, read_twice()).api_key.reveal() == "k-123456"
    assert calls == ["conn_cancelled", "conn_cancelled"]


def test_waits_asking_at_once_share_one_async_settings_read(
    monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    """A triggerer starting many waits on one hook reads the connection once, not once per wait."""
    set_conn(monkeypatch, "conn_shared", {"conn_type": "gcore", "password": "k-123456"})
    real = BaseHook.aget_connection
    calls: list[str] = []

    async def slow_read(conn_id: str) -> Any:
        calls.append(conn_id)
        await asyncio.sleep(1)  # virtual: every other wait asks meanwhile
        return await real(conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", staticmethod(slow_read))
    hook = GcoreHook("conn_shared")

    async def hundred_waits() -> list[ConnectionSettings]:
        return await asyncio.gather(*(hook.asettings() for _ in range(100)))

    results = run_virtual(clock, hundred_waits())
    assert calls == ["conn_shared"]
    assert all(settings is results[0] for settings in results)
    assert run_virtual(clock, hook.asettings()) is results[0]
    assert calls == ["conn_shared"]


@pytest.mark.parametrize(("hook_class", "conn_type"), [(GcoreHook, "gcore"), (GcaiHook, "gcai")])
def test_the_key_and_proxy_url_as_sent_are_masked_not_only_as_stored(
    hook_class: type[ProjectsApiHook], conn_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow masks the password and extras as stored; the hook sends them cleaned up.

    A key pasted as ``Bearer <key>`` is sent without the word, and a proxy URL with spaces around
    it is used without them: only the hook can register those forms, the ones libraries log.
    """
    from airflow.sdk.log import mask_logs

    key, password, host = (os.urandom(8).hex() for _ in range(3))
    key = f"{conn_type}_{key}"
    proxy = f"http://user:{password}@proxy-{host}.example.test:3128"
    stored = {"conn_type": conn_type, "password": f"Bearer {key}", "extra": {"proxy": f"  {proxy} "}}
    set_conn(monkeypatch, "conn_cleaned", stored)
    line = f"send: Authorization: {key} through {proxy}"
    hook_class("conn_cleaned").transport  # noqa: B018
    assert mask_logs(None, "debug", {"event": line})["event"] == "send: Authorization: *** through ***"


# -- what the second mutation run of hooks/base.py found unpinned (issue 19) -------------------------


def test_the_setup_messages_read_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_msg", {"conn_type": "gcore", "login": "k-123456"})
    with pytest.raises(ConnectionSetupError) as in_login:
        GcoreHook("conn_msg").settings()
    assert str(in_login.value) == (
        "Connection 'conn_msg' has no Gcore Cloud API key (it is in the Login field: move it to the API key "
        "field). Put the key in the connection's password field, labelled 'API key' in the UI."
    )
    set_conn(monkeypatch, "conn_msg", {"conn_type": "gcore", "password": "k-1234\u00e9"})
    with pytest.raises(ConnectionSetupError) as non_ascii:
        GcoreHook("conn_msg").settings()
    assert str(non_ascii.value) == (
        "Connection 'conn_msg': the Gcore Cloud API key contains a space, a line break, a control or a "
        "non-ASCII character (often a copy-paste artefact); store the key alone, exactly as issued."
    )
    set_conn(monkeypatch, "conn_msg", {"conn_type": "gcore", "password": "k", "extra": {"proxy": "proxy:1"}})
    with pytest.raises(ConnectionSetupError) as bad_proxy:
        GcoreHook("conn_msg").settings()
    assert str(bad_proxy.value) == (
        "Connection 'conn_msg': extra 'proxy' must be a URL with its scheme, like "
        "'http://proxy.example:3128' (credentials as 'http://user:password@host:port'), or 'direct' "
        "to ignore HTTPS_PROXY/NO_PROXY; the value given is not (not shown: it may hold a password)"
    )
    set_conn(monkeypatch, "conn_msg", {"conn_type": "gcore", "password": "k", "extra": {"max_retries": "x"}})
    with pytest.raises(ConnectionSetupError, match=r"^Connection 'conn_msg': extra 'max_retries' must be"):
        GcoreHook("conn_msg").settings()


def test_the_scheme_prefix_warning_reads_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    from structlog.testing import capture_logs

    set_conn(monkeypatch, "conn_prefix", {"conn_type": "gcore", "password": "Bearer k-123456"})
    with capture_logs() as logs:
        GcoreHook("conn_prefix").settings()
    warnings = [e["event"] % e.get("positional_args", ()) for e in logs if e.get("log_level") == "warning"]
    assert warnings == [
        "Connection 'conn_prefix': the API key starts with 'Bearer'; the provider sends the key the way "
        "Gcore Cloud expects it, so that word was removed. Store the key alone."
    ]


def test_the_printable_ascii_bounds_of_a_key_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_bounds", {"conn_type": "gcore", "password": "!k-123456~"})  # 0x21 and 0x7E
    assert GcoreHook("conn_bounds").settings().api_key.reveal() == "!k-123456~"
    set_conn(monkeypatch, "conn_bounds", {"conn_type": "gcore", "password": "k-123456\x7f"})
    with pytest.raises(ConnectionSetupError):
        GcoreHook("conn_bounds").settings()


def test_a_call_timeout_is_the_same_for_connect_and_read() -> None:
    from airflow_provider_projects.hooks.base import call_timeout

    assert call_timeout(None) is None
    assert call_timeout(7) == Timeout(connect=7.0, read=7.0)
    with pytest.raises(InvalidInputError, match=r"^timeout must be a finite number of seconds"):
        call_timeout(0)


def test_requests_name_the_provider_and_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_projects.hooks.base import user_agent

    set_conn(monkeypatch, "conn_ua", {"conn_type": "gcore", "password": "k-123456"})
    request = GcoreHook("conn_ua").transport.core.request("GET", "/x")
    assert request.headers["User-Agent"] == user_agent()
    assert repr(GcoreHook("conn_ua")) == "GcoreHook(conn_id='conn_ua')"


def test_close_closes_the_session_it_opened_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_close", {"conn_type": "gcore", "password": "k-123456"})
    unused = GcoreHook("conn_close")
    unused.close()
    assert "transport" not in unused.__dict__  # closing an unused hook opens nothing
    used = GcoreHook("conn_close")
    session = used.transport.session
    closed: list[bool] = []
    monkeypatch.setattr(session, "close", lambda: closed.append(True))
    used.close()
    assert closed == [True]


def test_a_waiter_cancelled_during_the_shared_read_does_not_spoil_it(
    monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    set_conn(monkeypatch, "conn_slow", {"conn_type": "gcore", "password": "k-123456"})
    real = BaseHook.aget_connection

    async def slow_read(conn_id: str) -> Any:
        await asyncio.sleep(1)
        return await real(conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", staticmethod(slow_read))
    hook = GcoreHook("conn_slow")

    async def one_gives_up() -> ConnectionSettings:
        impatient = asyncio.ensure_future(hook.asettings())
        patient = asyncio.ensure_future(hook.asettings())
        await asyncio.sleep(0.5)
        impatient.cancel()
        with pytest.raises(asyncio.CancelledError):
            await impatient
        return await patient

    assert run_virtual(clock, one_gives_up()).api_key.reveal() == "k-123456"


# -- every field of the connection reaches the settings, through the hook ------------------------


def test_each_field_of_the_connection_reaches_the_settings(monkeypatch: pytest.MonkeyPatch, pem: Path) -> None:
    key = pem.with_name("client.key")
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    set_conn(
        monkeypatch,
        "conn_full",
        {
            "conn_type": "gcore",
            "host": "10.0.0.5",
            "schema": "http",
            "port": 8081,
            "password": "k-123456",
            "extra": {"allow_insecure_http": True, "cert": str(pem), "cert_key": str(key), "timeout": 7},
        },
    )
    hook = GcoreHook("conn_full")
    settings = hook.settings()
    assert settings.base_url == "http://10.0.0.5:8081"
    assert (settings.network.cert, settings.timeout) == ((str(pem), str(key)), Timeout(7.0, 7.0))
    assert hook.transport.core.timeout == Timeout(7.0, 7.0)


def test_the_older_forms_prefixed_extras_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(
        monkeypatch,
        "conn_prefixed",
        {"conn_type": "gcore", "password": "k-123456", "extra": {"extra__gcore__timeout": 9}},
    )
    assert GcoreHook("conn_prefixed").settings().timeout == Timeout(9.0, 9.0)


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        ({"host": "http://10.0.0.5"}, "plain http"),
        ({"host": "ftp://api.example"}, "is not an http(s) URL"),
        ({"extra": {"timeout": "soon"}}, "'timeout'"),
        ({"extra": {"cert_key": "/nonexistent/client.key", "cert": __file__}}, "cert_key"),
    ],
    ids=["plain-http", "not-a-url", "timeout", "cert-key"],
)
def test_each_refused_field_names_the_connection(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], message: str
) -> None:
    set_conn(monkeypatch, "conn_refused", {"conn_type": "gcore", "password": "k-123456", **conn})
    with pytest.raises(ConnectionSetupError) as caught:
        GcoreHook("conn_refused").settings()
    assert str(caught.value).startswith("Connection 'conn_refused'")
    assert message in str(caught.value)


def test_no_login_means_no_login_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_bare", {"conn_type": "gcore"})
    with pytest.raises(ConnectionSetupError) as caught:
        GcoreHook("conn_bare").settings()
    assert str(caught.value) == (
        "Connection 'conn_bare' has no Gcore Cloud API key. Put the key in the connection's password field, "
        "labelled 'API key' in the UI."
    )
