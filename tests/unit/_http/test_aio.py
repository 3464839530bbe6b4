"""The aiohttp transport: one session per event loop, what each request carries, failure classes.

aioresponses (0.7.9, the newest) cannot build a response on aiohttp 3.14: ``ClientResponse``
now requires a ``stream_writer`` argument it does not pass. So the wire here is a tiny fake,
:class:`FakeWire`, that replaces ``ClientSession.request`` (the one method the transport calls)
and records the session and the arguments of every request; the session itself stays real.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import certifi
import pytest
from aiohttp.client_reqrep import ConnectionKey
from fakes import VirtualClock, run_virtual
from multidict import CIMultiDict, CIMultiDictProxy
from samples import GCORE_PROJECT

from airflow_provider_projects._http import aio
from airflow_provider_projects._http.aio import AsyncTransport, shared_session
from airflow_provider_projects._http.core import HttpCore, RetryPolicy
from airflow_provider_projects._http.dialect import GcaiDialect, GcoreDialect
from airflow_provider_projects._http.wire import (
    FailureKind,
    Network,
    Outcome,
    Response,
    Secret,
    Timeout,
    TransportFailure,
)
from airflow_provider_projects.errors import ApiUnreachableError
from airflow_provider_projects.models.gcore import GcoreProject

BASE = "https://api.example.test"
PATH = "/cloud/v1/projects/42"
URL = BASE + PATH
KEY = "aio-test-key-123456"
PROXY = "http://alice:s3cr3t-pw@proxy.corp.test:3128"
# Built by field name: aiohttp 3.14 (Airflow 3.3) added server_hostname, which 3.13 (3.2) lacks.
CONN_KEY = ConnectionKey(
    **{
        "host": "api.example.test",
        "port": 443,
        "is_ssl": True,
        "ssl": True,
        **dict.fromkeys(name for name in ConnectionKey._fields if name not in ("host", "port", "is_ssl", "ssl")),
    }
)


def make_core(base_url: str = BASE, max_retries: int = 2, dialect: Any = None) -> HttpCore:
    return HttpCore(
        dialect=dialect or GcoreDialect(),
        base_url=base_url,
        api_key=Secret(KEY),
        user_agent="tests/1",
        timeout=Timeout(connect=4.0, read=8.0),
        policy=RetryPolicy(max_retries=max_retries),
    )


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Sent:
    session: aiohttp.ClientSession
    method: str
    url: str
    kwargs: dict[str, Any]


class _FakeAnswer:
    def __init__(self, answer: Answer) -> None:
        self.status = answer.status
        self.headers = CIMultiDictProxy(CIMultiDict(answer.headers))
        self._body = answer.body

    async def read(self) -> bytes:
        return self._body


class _Context:
    def __init__(self, scripted: Answer | BaseException) -> None:
        self._scripted = scripted

    async def __aenter__(self) -> _FakeAnswer:
        await asyncio.sleep(0)  # a real request yields to the loop
        if isinstance(self._scripted, BaseException):
            raise self._scripted
        return _FakeAnswer(self._scripted)

    async def __aexit__(self, *exc: object) -> None:
        return None


class FakeWire:
    """Scripted answers (or exceptions) for ``ClientSession.request``; the last one repeats."""

    def __init__(self) -> None:
        self.script: deque[Answer | BaseException] = deque([Answer()])
        self.sent: list[Sent] = []

    def answer(self, *scripted: Answer | BaseException) -> None:
        self.script = deque(scripted)

    def request(self, session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> _Context:
        self.sent.append(Sent(session, method, url, kwargs))
        scripted = self.script[0] if len(self.script) == 1 else self.script.popleft()
        return _Context(scripted)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch, no_proxy_env: pytest.MonkeyPatch) -> FakeWire:
    fake = FakeWire()

    def request(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> _Context:
        return fake.request(session, method, url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "request", request)
    return fake


def send(transport: AsyncTransport, method: str = "GET", **kwargs: Any) -> Outcome:
    async def main() -> Outcome:
        return await transport.send(transport.core.request(method, PATH, **kwargs))

    return asyncio.run(main())


# -- one session per event loop -------------------------------------------------------------------


def test_one_session_serves_every_call_and_transport_of_a_loop(wire: FakeWire) -> None:
    gcore = AsyncTransport(make_core())
    gcai = AsyncTransport(make_core(dialect=GcaiDialect()))

    async def main() -> aiohttp.ClientSession:
        await gcore.send(gcore.core.request("GET", PATH))
        await gcai.send(gcai.core.request("GET", PATH))
        await asyncio.gather(*(gcore.send(gcore.core.request("GET", PATH)) for _ in range(3)))
        return await shared_session()

    session = asyncio.run(main())
    assert len(wire.sent) == 5
    assert all(sent.session is session for sent in wire.sent)


def test_each_loop_has_its_own_session(wire: FakeWire) -> None:
    transport = AsyncTransport(make_core())
    send(transport)
    send(transport)
    first, second = (sent.session for sent in wire.sent)
    assert first is not second


def test_the_session_is_closed_when_the_loop_shuts_down() -> None:
    async def main() -> aiohttp.ClientSession:
        session = await shared_session()
        assert not session.closed
        return session

    session = asyncio.run(main())
    assert session.closed
    assert session.connector is None or session.connector.closed


def test_the_session_is_closed_when_a_virtual_loop_shuts_down(clock: VirtualClock) -> None:
    session = run_virtual(clock, shared_session())
    assert session.closed


def test_a_closed_session_is_replaced() -> None:
    async def main() -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        first = await shared_session()
        await first.close()
        return first, await shared_session()

    first, second = asyncio.run(main())
    assert first is not second
    assert second.closed  # and the replacement is closed at shutdown too


def test_the_session_pools_connections_and_ignores_the_environment() -> None:
    async def main() -> tuple[int, float, bool]:
        session = await shared_session()
        connector = session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        return connector.limit, connector._keepalive_timeout, session.trust_env

    limit, keepalive, trust_env = asyncio.run(main())
    assert limit == aio.CONNECTION_LIMIT
    assert keepalive == aio.KEEPALIVE_SECONDS
    assert trust_env is False


# -- what a request carries -----------------------------------------------------------------------


def test_the_request_goes_out_as_built(wire: FakeWire) -> None:
    send(AsyncTransport(make_core()), "PATCH", json_body={"name": "caf\u00e9"})
    (sent,) = wire.sent
    assert (sent.method, sent.url) == ("PATCH", URL)
    kwargs = sent.kwargs
    assert kwargs["headers"]["Authorization"] == f"APIKey {KEY}"
    assert kwargs["headers"]["Content-Type"] == "application/json"
    assert kwargs["data"] == '{"name":"caf\u00e9"}'.encode()
    assert kwargs["allow_redirects"] is False
    assert kwargs["proxy"] is None


def test_timeouts_are_mapped_to_connect_and_each_read(wire: FakeWire) -> None:
    transport = AsyncTransport(make_core())

    async def main() -> None:
        await transport.send(transport.core.request("GET", PATH))
        await transport.send(transport.core.request("GET", PATH, timeout=Timeout(connect=2.0, read=7.0)))

    asyncio.run(main())
    assert [sent.kwargs["timeout"] for sent in wire.sent] == [
        aiohttp.ClientTimeout(total=None, connect=4.0, sock_read=8.0),
        aiohttp.ClientTimeout(total=None, connect=2.0, sock_read=7.0),
    ]


def test_an_answer_keeps_status_headers_and_body(wire: FakeWire) -> None:
    wire.answer(Answer(503, b'{"a": 1}', (("Retry-After", "5"), ("X-Request-Id", "r1"))))
    outcome = send(AsyncTransport(make_core()))
    assert isinstance(outcome, Response)
    assert outcome.status == 503
    assert outcome.body == b'{"a": 1}'
    assert outcome.headers["retry-after"] == "5"


def test_a_call_retries_on_the_virtual_clock_and_parses(wire: FakeWire, clock: VirtualClock) -> None:
    clock.jitter = 0.0
    wire.answer(Answer(503, b"{}", (("Retry-After", "4"),)), Answer(200, json.dumps(GCORE_PROJECT).encode()))
    project = run_virtual(clock, AsyncTransport(make_core()).call("GET", PATH, GcoreProject))
    assert project.to_xcom() == GCORE_PROJECT
    assert len(wire.sent) == 2
    assert clock.sleeps == [4.0]


# -- proxy and TLS --------------------------------------------------------------------------------


def test_an_explicit_proxy_is_passed_per_request(wire: FakeWire) -> None:
    send(AsyncTransport(make_core(), Network(proxy=Secret(PROXY))))
    assert wire.sent[0].kwargs["proxy"] == PROXY


def test_the_environment_proxy_is_passed_per_request(wire: FakeWire, no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://env-proxy.test:3128")
    send(AsyncTransport(make_core()))
    no_proxy_env.setenv("NO_PROXY", "api.example.test")
    send(AsyncTransport(make_core()))
    assert [sent.kwargs["proxy"] for sent in wire.sent] == ["http://env-proxy.test:3128", None]


def test_use_env_proxy_false_sends_directly(wire: FakeWire, no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://env-proxy.test:3128")
    send(AsyncTransport(make_core(), Network(use_env_proxy=False)))
    assert wire.sent[0].kwargs["proxy"] is None


def test_tls_verification_is_on_by_default_with_one_shared_context(wire: FakeWire) -> None:
    transport = AsyncTransport(make_core())
    send(transport)
    send(AsyncTransport(make_core()))
    first, second = (sent.kwargs["ssl"] for sent in wire.sent)
    assert isinstance(first, ssl.SSLContext)
    assert first.verify_mode is ssl.CERT_REQUIRED
    assert first.check_hostname is True
    assert second is first


def test_verify_false_turns_verification_off(wire: FakeWire) -> None:
    send(AsyncTransport(make_core(), Network(verify=False)))
    assert wire.sent[0].kwargs["ssl"] is False


def test_a_ca_bundle_gives_its_own_context(wire: FakeWire) -> None:
    send(AsyncTransport(make_core()))
    send(AsyncTransport(make_core(), Network(verify=certifi.where())))
    default, bundle = (sent.kwargs["ssl"] for sent in wire.sent)
    assert isinstance(bundle, ssl.SSLContext)
    assert bundle is not default
    assert bundle.verify_mode is ssl.CERT_REQUIRED
    assert bundle.cert_store_stats()["x509_ca"] > 0


# -- failures -------------------------------------------------------------------------------------

FAILURES: list[tuple[str, Callable[[], BaseException], FailureKind]] = [
    (
        "certificate",
        lambda: aiohttp.ClientConnectorCertificateError(CONN_KEY, ssl.SSLCertVerificationError("verify failed")),
        FailureKind.TLS,
    ),
    ("ssl", lambda: aiohttp.ClientConnectorSSLError(CONN_KEY, ssl.SSLError("handshake")), FailureKind.TLS),
    (
        "refused",
        lambda: aiohttp.ClientConnectorError(CONN_KEY, ConnectionRefusedError(111, "refused")),
        FailureKind.CONNECT,
    ),
    (
        "proxy-refused",
        lambda: aiohttp.ClientProxyConnectionError(CONN_KEY, ConnectionRefusedError(111, "refused")),
        FailureKind.CONNECT,
    ),
    ("connect-timeout", lambda: aiohttp.ConnectionTimeoutError("Connection timeout"), FailureKind.CONNECT),
    ("read-timeout", lambda: aiohttp.SocketTimeoutError("Timeout on reading data from socket"), FailureKind.TIMEOUT),
    ("asyncio-timeout", TimeoutError, FailureKind.TIMEOUT),
    ("disconnected", aiohttp.ServerDisconnectedError, FailureKind.DROPPED),
    ("reset", lambda: aiohttp.ClientOSError(104, "Connection reset by peer"), FailureKind.DROPPED),
    ("payload", lambda: aiohttp.ClientPayloadError("Response payload is not completed"), FailureKind.DROPPED),
]


@pytest.mark.parametrize(("make_exc", "kind"), [pytest.param(f, k, id=i) for i, f, k in FAILURES])
def test_failures_are_classified(wire: FakeWire, make_exc: Callable[[], BaseException], kind: FailureKind) -> None:
    exc = make_exc()
    wire.answer(exc)
    outcome = send(AsyncTransport(make_core()))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is kind
    assert outcome.detail.startswith(f"{type(exc).__name__}:")


def test_a_failure_through_a_proxy_does_not_show_its_password(wire: FakeWire) -> None:
    wire.answer(aiohttp.ClientProxyConnectionError(CONN_KEY, OSError(111, f"Connect call failed via {PROXY}")))
    outcome = send(AsyncTransport(make_core(), Network(proxy=Secret(PROXY))))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is FailureKind.CONNECT
    assert "s3cr3t-pw" not in outcome.detail
    assert "Connect call failed via ***" in outcome.detail


def test_a_refused_connection_is_a_connect_failure(no_proxy_env: pytest.MonkeyPatch, clock: VirtualClock) -> None:
    # A bound socket that does not listen refuses every connection: no race with another process.
    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{closed_port.getsockname()[1]}"
        # A real event loop (real sockets): the pause between the two tries is made zero, not slept.
        core = HttpCore(
            dialect=GcoreDialect(),
            base_url=base,
            api_key=Secret(KEY),
            user_agent="tests/1",
            policy=RetryPolicy(max_retries=1, backoff_base=0.0),
        )
        transport = AsyncTransport(core)

        async def main() -> None:
            await transport.call("GET", PATH, GcoreProject)

        with pytest.raises(ApiUnreachableError) as caught:
            asyncio.run(main())
    assert "connection failed" in str(caught.value)
    assert "after 2 attempt(s)" in str(caught.value)
    assert caught.value.url == base + PATH
    assert clock.sleeps == [0.0]
