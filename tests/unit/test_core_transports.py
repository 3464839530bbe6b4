"""Both transports (requests and httpx) over the same core: same outcomes, same requests, exact wire format."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import airflow
import httpx
import pytest
import requests
import requests_mock as rm
from airflow.sdk import BaseHook
from samples import GCAI_ID, GCAI_PROJECT, GCAI_URL, GCORE_PROJECT, GCORE_URL, TASK_ID

from airflow_provider_projects import __version__
from airflow_provider_projects._http import aio
from airflow_provider_projects._http.aio import AsyncTransport
from airflow_provider_projects._http.core import HttpCore, RetryPolicy, Timeout
from airflow_provider_projects._http.dialect import GcaiDialect, GcoreDialect
from airflow_provider_projects._http.secret import Secret
from airflow_provider_projects._http.sync import SyncTransport
from airflow_provider_projects.errors import ApiUnreachableError, ProjectsApiError
from airflow_provider_projects.hooks.gcai import GcaiHook
from airflow_provider_projects.hooks.gcore import GcoreHook
from airflow_provider_projects.models.base import ApiModel
from airflow_provider_projects.models.gcai import GcaiProject
from airflow_provider_projects.models.gcore import GcoreProject

BASE = "https://api.example.test"
PATH = "/cloud/v1/projects/42"

OK_BODY = json.dumps(GCORE_PROJECT).encode()
LOCK_BODY = json.dumps(
    {
        "exception_class": "ConflictError",
        "message": f"Operation on resource `42` currently locked by running task `update_project` with id `{TASK_ID}` "
        "(2026-05-01 12:00:00) to prevent concurrent operations. Repeat request a little later. ",
        "request_id": "r-409",
    }
).encode()


@pytest.fixture(autouse=True)
def airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn_type: str, password: str, **more: Any) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": conn_type, "password": password, **more})
    )


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- one scenario table, both transports ----------------------------------------------------------


@dataclass(frozen=True)
class Http:
    status: int
    body: bytes = b"{}"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Fail:
    kind: str  # "connect" | "timeout" | "dropped"


Step = Http | Fail

SYNC_EXCEPTIONS: dict[str, Callable[[], Exception]] = {
    "connect": lambda: requests.exceptions.ConnectTimeout("connect timed out"),
    "timeout": lambda: requests.exceptions.ReadTimeout("read timed out"),
    "dropped": lambda: requests.exceptions.ConnectionError("Connection aborted."),
}
ASYNC_EXCEPTIONS: dict[str, Callable[[httpx.Request], Exception]] = {
    "connect": lambda r: httpx.ConnectError("All connection attempts failed", request=r),
    "timeout": lambda r: httpx.ReadTimeout("timed out", request=r),
    "dropped": lambda r: httpx.RemoteProtocolError("Server disconnected without sending a response.", request=r),
}
KIND_TEXT = {"connection failed", "read timed out", "connection dropped"}


def make_core(dialect: Any = None, max_retries: int = 2, timeout: Timeout | None = None) -> HttpCore:
    kwargs: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    return HttpCore(
        dialect=dialect or GcoreDialect(),
        base_url=BASE,
        api_key=Secret("transport-key"),
        user_agent="tests/1",
        policy=RetryPolicy(max_retries=max_retries),
        rng=lambda: 0.0,
        wall_clock=lambda: 1_700_000_000.0,
        **kwargs,
    )


def outcome_of(call: Callable[[], ApiModel]) -> tuple[Any, ...]:
    try:
        result = call()
    except ProjectsApiError as error:
        kinds = [k for k in KIND_TEXT if k in str(error)]
        return (type(error).__name__, error.status, *kinds)
    return ("ok", json.dumps(result.to_xcom(), sort_keys=True))


def run_sync(method: str, steps: list[Step]) -> tuple[tuple[Any, ...], int, list[float]]:
    sleeps: list[float] = []
    transport = SyncTransport(make_core(), session=requests.Session(), sleep=sleeps.append)
    responses: list[dict[str, Any]] = []
    for step in steps:
        if isinstance(step, Fail):
            responses.append({"exc": SYNC_EXCEPTIONS[step.kind]()})
        else:
            responses.append({"status_code": step.status, "content": step.body, "headers": dict(step.headers)})
    body = None if method == "GET" else {"name": "abc", "description": None}
    with rm.Mocker() as mock:
        mock.register_uri(method, BASE + PATH, responses)
        if body is None:
            outcome = outcome_of(lambda: transport.call(method, PATH, GcoreProject))
        else:
            outcome = outcome_of(lambda: transport.call(method, PATH, GcoreProject, json_body=body))
        return outcome, mock.call_count, sleeps


def run_async(method: str, steps: list[Step]) -> tuple[tuple[Any, ...], int, list[float]]:
    sleeps: list[float] = []
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = steps[min(len(seen), len(steps)) - 1]
        if isinstance(step, Fail):
            raise ASYNC_EXCEPTIONS[step.kind](request)
        return httpx.Response(step.status, content=step.body, headers=list(step.headers))

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    body = None if method == "GET" else {"name": "abc", "description": None}

    async def main() -> GcoreProject:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            transport = AsyncTransport(make_core(), client=client, sleep=fake_sleep)
            if body is None:
                return await transport.call(method, PATH, GcoreProject)
            return await transport.call(method, PATH, GcoreProject, json_body=body)

    outcome = outcome_of(lambda: asyncio.run(main()))
    return outcome, len(seen), sleeps


OK = ("ok", json.dumps(GCORE_PROJECT, sort_keys=True))
#: (id, method, steps, expected outcome, expected request count, expected sleeps); max_retries=2, rng=0.
SCENARIOS = [
    ("200", "GET", [Http(200, OK_BODY)], OK, 1, []),
    ("put-200", "PUT", [Http(200, OK_BODY)], OK, 1, []),
    ("429-retry-after-then-200", "GET", [Http(429, b"{}", (("Retry-After", "2"),)), Http(200, OK_BODY)], OK, 2, [2.0]),
    ("503-503-200", "GET", [Http(503), Http(503), Http(200, OK_BODY)], OK, 3, [0.5, 1.0]),
    ("502-x3", "PATCH", [Http(502)] * 3, ("ServerError", 502), 3, [0.5, 1.0]),
    ("429-x3", "GET", [Http(429)] * 3, ("RateLimitedError", 429), 3, [0.5, 1.0]),
    ("429-over-cap", "GET", [Http(429, b"{}", (("Retry-After", "500"),))], ("RateLimitedError", 429), 1, []),
    ("500-get-retried", "GET", [Http(500), Http(200, OK_BODY)], OK, 2, [0.5]),
    ("500-put-not-retried", "PUT", [Http(500)], ("ServerError", 500), 1, []),
    ("404", "GET", [Http(404)], ("NotFoundError", 404), 1, []),
    ("401", "PUT", [Http(401)], ("AuthenticationError", 401), 1, []),
    ("405", "PUT", [Http(405)], ("MethodNotAllowedError", 405), 1, []),
    ("409-lock", "PUT", [Http(409, LOCK_BODY)], ("LockConflictError", 409), 1, []),
    ("422", "PATCH", [Http(422)], ("InvalidInputError", 422), 1, []),
    (
        "302-not-followed",
        "GET",
        [Http(302, b"", (("Location", "https://elsewhere.test/"),))],
        ("UnexpectedStatusError", 302),
        1,
        [],
    ),
    ("connect-then-200", "GET", [Fail("connect"), Http(200, OK_BODY)], OK, 2, [0.5]),
    ("timeout-x3", "GET", [Fail("timeout")] * 3, ("ApiUnreachableError", None, "read timed out"), 3, [0.5, 1.0]),
    ("connect-x3", "PUT", [Fail("connect")] * 3, ("ApiUnreachableError", None, "connection failed"), 3, [0.5, 1.0]),
    ("dropped-x3", "GET", [Fail("dropped")] * 3, ("ApiUnreachableError", None, "connection dropped"), 3, [0.5, 1.0]),
    ("dropped-then-200", "PATCH", [Fail("dropped"), Http(200, OK_BODY)], OK, 2, [0.5]),
    ("truncated-json", "GET", [Http(200, OK_BODY[:30])], ("InvalidResponseError", 200), 1, []),
    ("missing-field", "GET", [Http(200, b'{"id": 42}')], ("InvalidResponseError", 200), 1, []),
]


@pytest.mark.parametrize("runner", [run_sync, run_async], ids=["requests", "httpx"])
@pytest.mark.parametrize(
    ("method", "steps", "expected", "requests_sent", "sleeps"),
    [pytest.param(*row[1:], id=row[0]) for row in SCENARIOS],
)
def test_scenario_table(
    *,
    runner: Callable[[str, list[Step]], tuple[tuple[Any, ...], int, list[float]]],
    method: str,
    steps: list[Step],
    expected: tuple[Any, ...],
    requests_sent: int,
    sleeps: list[float],
) -> None:
    outcome, count, slept = runner(method, steps)
    assert outcome == expected
    assert count == requests_sent
    assert slept == pytest.approx(sleeps)


@pytest.mark.parametrize(("method", "steps"), [pytest.param(row[1], row[2], id=row[0]) for row in SCENARIOS])
def test_both_transports_agree(method: str, steps: list[Step]) -> None:
    assert run_sync(method, steps) == run_async(method, steps)


# -- the wire format through the hooks ------------------------------------------------------------


@pytest.fixture
def gcore_hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[GcoreHook]:
    set_conn(monkeypatch, "gc_wire", "gcore", "gcore-token-123")
    hook = GcoreHook("gc_wire", sleep=lambda _s: None)
    yield hook
    hook.close()


def run_async_hook(
    monkeypatch: pytest.MonkeyPatch, make_call: Callable[[], Any], body: dict[str, Any]
) -> list[httpx.Request]:
    """Run an async hook call with the shared client swapped for a MockTransport one."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=body)

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            monkeypatch.setattr(aio, "shared_client", lambda: client)
            await make_call()

    asyncio.run(main())
    return seen


def test_gcore_auth_header_is_apikey_scheme(gcore_hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{GCORE_URL}/cloud/v1/projects/42", json=GCORE_PROJECT)
    gcore_hook.get_project(42)
    assert requests_mock.last_request.headers["Authorization"] == "APIKey gcore-token-123"
    assert requests_mock.last_request.headers["Accept"] == "application/json"


def test_gcore_auth_header_async(gcore_hook: GcoreHook, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = run_async_hook(monkeypatch, lambda: gcore_hook.aget_project(42), GCORE_PROJECT)
    assert [str(r.url) for r in seen] == [f"{GCORE_URL}/cloud/v1/projects/42"]
    assert seen[0].headers["Authorization"] == "APIKey gcore-token-123"


@pytest.mark.parametrize("key", ["gcai_orgkey123", "u:gcai_personal456"])
def test_gcai_auth_header_is_the_raw_key(key: str, monkeypatch: pytest.MonkeyPatch, requests_mock: rm.Mocker) -> None:
    set_conn(monkeypatch, "gcai_wire", "gcai", key)
    requests_mock.get(f"{GCAI_URL}/projects/{GCAI_ID}", json=GCAI_PROJECT)
    hook = GcaiHook("gcai_wire")
    hook.get_project(GCAI_ID)
    assert requests_mock.last_request.headers["Authorization"] == key

    async def call() -> None:
        transport = await hook.async_transport()
        await transport.call("GET", f"/projects/{GCAI_ID}", GcaiProject)

    seen = run_async_hook(monkeypatch, call, GCAI_PROJECT)
    assert seen[0].headers["Authorization"] == key


USER_AGENT = re.compile(
    rf"^airflow-provider-projects/{re.escape(__version__)} apache-airflow/{re.escape(airflow.__version__)}$"
)


def test_user_agent_names_both_versions(
    gcore_hook: GcoreHook, requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests_mock.get(f"{GCORE_URL}/cloud/v1/projects/42", json=GCORE_PROJECT)
    gcore_hook.get_project(42)
    assert USER_AGENT.match(requests_mock.last_request.headers["User-Agent"])
    seen = run_async_hook(monkeypatch, lambda: gcore_hook.aget_project(42), GCORE_PROJECT)
    assert USER_AGENT.match(seen[0].headers["User-Agent"])


def test_put_sends_the_exact_json_body(gcore_hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.put(f"{GCORE_URL}/cloud/v1/projects/42", json=GCORE_PROJECT)
    gcore_hook.replace_project("42", name="new name")
    sent = requests_mock.last_request
    assert sent.method == "PUT"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body == b'{"name":"new name","description":null}'


def test_patch_sends_the_same_replacement(gcore_hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.patch(f"{GCORE_URL}/cloud/v1/projects/42", json=GCORE_PROJECT)
    gcore_hook.replace_project(42, name="new name", description="caf\u00e9", use_patch=True)
    sent = requests_mock.last_request
    assert sent.method == "PATCH"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body == '{"name":"new name","description":"caf\u00e9"}'.encode()


def test_gcai_patch_body_has_only_the_given_fields(monkeypatch: pytest.MonkeyPatch, requests_mock: rm.Mocker) -> None:
    set_conn(monkeypatch, "gcai_body", "gcai", "gcai_k")
    requests_mock.patch(f"{GCAI_URL}/projects/{GCAI_ID}", json=GCAI_PROJECT)
    GcaiHook("gcai_body").update_project(GCAI_ID.upper(), description=None)
    sent = requests_mock.last_request
    assert sent.url == f"{GCAI_URL}/projects/{GCAI_ID}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body == b'{"description":null}'


def test_get_sends_no_body(gcore_hook: GcoreHook, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{GCORE_URL}/cloud/v1/projects/42", json=GCORE_PROJECT)
    gcore_hook.get_project(42)
    assert requests_mock.last_request.body is None
    assert "Content-Type" not in requests_mock.last_request.headers


# -- timeouts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "hook_kwargs", "call_timeout", "expected"),
    [
        pytest.param({}, {}, None, (10.0, 30.0), id="default"),
        pytest.param({"timeout": 5}, {}, None, (5.0, 5.0), id="extra-below-connect-default"),
        pytest.param({"timeout": 20}, {}, None, (10.0, 20.0), id="extra"),
        pytest.param({"timeout": "45"}, {}, None, (10.0, 45.0), id="extra-as-text"),
        pytest.param({"timeout": 20}, {}, 3, (3.0, 3.0), id="per-call-wins-over-extra"),
        pytest.param({}, {}, 60, (60.0, 60.0), id="per-call"),
        pytest.param({"timeout": 5}, {"timeout": 12}, None, (10.0, 12.0), id="hook-arg-wins-over-extra"),
    ],
)
def test_timeout_reaches_requests(
    *,
    extra: dict[str, Any],
    hook_kwargs: dict[str, Any],
    call_timeout: float | None,
    expected: tuple[float, float],
    monkeypatch: pytest.MonkeyPatch,
    requests_mock: rm.Mocker,
) -> None:
    set_conn(monkeypatch, "gc_timeout", "gcore", "k-123456", extra=extra)
    requests_mock.get(f"{GCORE_URL}/cloud/v1/projects/42", json=GCORE_PROJECT)
    requests_mock.get(
        f"{GCORE_URL}/cloud/v1/tasks/{TASK_ID}",
        json={"id": TASK_ID, "user_id": 1, "task_type": "t", "state": "NEW", "created_on": None},
    )
    hook = GcoreHook("gc_timeout", **hook_kwargs)
    hook.get_project(42, timeout=call_timeout)
    hook.get_task(TASK_ID, timeout=call_timeout)
    assert [r.timeout for r in requests_mock.request_history] == [expected, expected]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, {"connect": 10.0, "read": 30.0}),
        ({"timeout": 5}, {"connect": 5.0, "read": 5.0}),
        ({"timeout": 20}, {"connect": 10.0, "read": 20.0}),
    ],
)
def test_timeout_reaches_httpx(
    extra: dict[str, Any], expected: dict[str, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, "gc_atimeout", "gcore", "k-123456", extra=extra)
    hook = GcoreHook("gc_atimeout")
    seen = run_async_hook(monkeypatch, lambda: hook.aget_project(42), GCORE_PROJECT)
    timeout = seen[0].extensions["timeout"]
    assert {"connect": timeout["connect"], "read": timeout["read"]} == expected


def test_per_call_timeout_reaches_httpx() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=GCORE_PROJECT)

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            transport = AsyncTransport(make_core(timeout=Timeout(connect=4.0, read=8.0)), client=client)
            await transport.call("GET", PATH, GcoreProject)
            await transport.call("GET", PATH, GcoreProject, timeout=Timeout(connect=2.0, read=7.0))

    asyncio.run(main())
    assert [(r.extensions["timeout"]["connect"], r.extensions["timeout"]["read"]) for r in seen] == [
        (4.0, 8.0),
        (2.0, 7.0),
    ]


# -- sleeping and failing for real ----------------------------------------------------------------


def test_injected_sleep_receives_the_retry_after_delay(
    monkeypatch: pytest.MonkeyPatch, requests_mock: rm.Mocker
) -> None:
    set_conn(monkeypatch, "gc_sleep", "gcore", "k-123456")
    slept: list[float] = []
    requests_mock.get(
        f"{GCORE_URL}/cloud/v1/projects/42",
        [
            {"status_code": 429, "headers": {"Retry-After": "3"}, "json": {}},
            {"status_code": 200, "json": GCORE_PROJECT},
        ],
    )
    GcoreHook("gc_sleep", sleep=slept.append).get_project(42)
    assert len(slept) == 1
    assert 3.0 <= slept[0] <= 3.3  # the server's figure plus at most 10 % jitter


def test_injected_async_sleep_receives_the_retry_after_delay() -> None:
    slept: list[float] = []
    answers = iter([httpx.Response(503, headers={"Retry-After": "4"}), httpx.Response(200, json=GCORE_PROJECT)])

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> GcoreProject:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: next(answers))) as client:
            return await AsyncTransport(make_core(), client=client, sleep=fake_sleep).call("GET", PATH, GcoreProject)

    assert asyncio.run(main()).id == 42
    assert slept == [4.0]


def test_connection_refused_is_a_connect_failure_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    port = unused_port()
    set_conn(monkeypatch, "gc_refused", "gcore", "k-123456", host=f"http://127.0.0.1:{port}", extra={"max_retries": 1})
    slept: list[float] = []
    hook = GcoreHook("gc_refused", sleep=slept.append)
    with pytest.raises(ApiUnreachableError) as caught:
        hook.get_project(42)
    text = str(caught.value)
    assert "connection failed" in text
    assert "after 2 attempt(s)" in text
    assert caught.value.url == f"http://127.0.0.1:{port}/cloud/v1/projects/42"
    assert len(slept) == 1


def test_connection_refused_is_a_connect_failure_async() -> None:
    port = unused_port()
    core = HttpCore(
        dialect=GcaiDialect(),
        base_url=f"http://127.0.0.1:{port}",
        api_key=Secret("gcai_k"),
        user_agent="tests/1",
        policy=RetryPolicy(max_retries=1),
        rng=lambda: 0.0,
    )
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> None:
        async with httpx.AsyncClient() as client:
            await AsyncTransport(core, client=client, sleep=fake_sleep).call("GET", "/ping", ApiModel)

    with pytest.raises(ApiUnreachableError) as caught:
        asyncio.run(main())
    assert "connection failed" in str(caught.value)
    assert "after 2 attempt(s)" in str(caught.value)
    assert slept == [0.5]


# -- one session, one connection lookup -----------------------------------------------------------


def test_hook_reuses_one_session_and_reads_the_connection_once(
    monkeypatch: pytest.MonkeyPatch, requests_mock: rm.Mocker
) -> None:
    set_conn(monkeypatch, "gc_reuse", "gcore", "k-123456")
    lookups: list[str] = []
    original = BaseHook.__dict__["get_connection"].__func__

    def counting_get_connection(cls: type[BaseHook], conn_id: str) -> Any:
        lookups.append(conn_id)
        return original(cls, conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(counting_get_connection))

    sessions: list[requests.Session] = []
    used: list[int] = []

    class CountingSession(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            sessions.append(self)

        def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            used.append(id(self))
            return super().request(*args, **kwargs)

    monkeypatch.setattr(requests, "Session", CountingSession)
    requests_mock.get(f"{GCORE_URL}/cloud/v1/projects/42", json=GCORE_PROJECT)
    requests_mock.put(f"{GCORE_URL}/cloud/v1/projects/42", json=GCORE_PROJECT)
    requests_mock.get(
        f"{GCORE_URL}/cloud/v1/tasks/{TASK_ID}",
        json={"id": TASK_ID, "user_id": 1, "task_type": "t", "state": "FINISHED", "created_on": None},
    )

    hook = GcoreHook("gc_reuse")
    hook.get_project(42)
    hook.replace_project(42, name="abc")
    hook.get_task(TASK_ID)
    hook.get_project("42")

    assert lookups == ["gc_reuse"]
    assert len(sessions) == 1
    assert used == [id(sessions[0])] * 4
    assert requests_mock.call_count == 4


def test_close_closes_the_session(
    gcore_hook: GcoreHook, requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests_mock.get(f"{GCORE_URL}/cloud/v1/projects/42", json=GCORE_PROJECT)
    gcore_hook.get_project(42)
    closed: list[bool] = []
    monkeypatch.setattr(gcore_hook.transport.session, "close", lambda: closed.append(True))
    gcore_hook.close()
    assert closed == [True]
