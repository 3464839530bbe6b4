"""The aiohttp transport against a real local server: one session per event loop, what each
request carries, what comes back, proxies, TLS, and how each way of getting no answer is classified.

The server (``local_api.py``: aiohttp.web on 127.0.0.1, port 0, in a thread) records every
request as it arrived and answers from a script, or fails on purpose: closes, resets, cuts the
body short, never answers. TLS uses a certificate made here that no trust store knows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from fakes import VirtualClock, run_virtual
from samples import GCORE_PROJECT

from airflow_provider_projects import _clock
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
from airflow_provider_projects.unset import NOT_SET

from .local_api import Act, LocalApi, SelfSigned, full_backlog, local_api, self_signed

PATH = "/cloud/v1/projects/42"
KEY = "aio-test-key-123456"
PROXY_PASSWORD = "s3cr3t-pw"
#: Short enough that a test waiting for it stays short; nothing here answers that slowly unless told to.
SHORT = Timeout(connect=0.3, read=0.3)


def make_core(base_url: str, max_retries: int = 2, dialect: Any = None, timeout: Timeout | None = None) -> HttpCore:
    return HttpCore(
        dialect=dialect or GcoreDialect(),
        base_url=base_url,
        api_key=Secret(KEY),
        user_agent="tests/1",
        timeout=timeout or Timeout(connect=4.0, read=8.0),
        policy=RetryPolicy(max_retries=max_retries),
    )


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def server(no_proxy_env: pytest.MonkeyPatch) -> Iterator[LocalApi]:
    with local_api() as api:
        yield api


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> SelfSigned:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(certificate: SelfSigned, no_proxy_env: pytest.MonkeyPatch) -> Iterator[LocalApi]:
    with local_api(certificate.server_context()) as api:
        yield api


@pytest.fixture
def sessions_used(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientSession]:
    """The session each request went out on (recorded on its way to the real server)."""
    used: list[aiohttp.ClientSession] = []
    real = aiohttp.ClientSession._request

    def recorded(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> Any:
        used.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", recorded)
    return used


def send(transport: AsyncTransport, method: str = "GET", **kwargs: Any) -> Outcome:
    async def main() -> Outcome:
        return await transport.send(transport.core.request(method, PATH, **kwargs))

    return asyncio.run(main())


def closed_port() -> socket.socket:
    """A bound socket that does not listen: it refuses every connection, with no race with another process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


# -- one session per event loop -------------------------------------------------------------------


def test_one_session_serves_every_call_and_transport_of_a_loop(
    server: LocalApi, sessions_used: list[aiohttp.ClientSession]
) -> None:
    gcore = AsyncTransport(make_core(server.url))
    gcai = AsyncTransport(make_core(server.url, dialect=GcaiDialect()))

    async def main() -> aiohttp.ClientSession:
        await gcore.send(gcore.core.request("GET", PATH))
        await gcai.send(gcai.core.request("GET", PATH))
        await asyncio.gather(*(gcore.send(gcore.core.request("GET", PATH)) for _ in range(3)))
        return await shared_session()

    session = asyncio.run(main())
    assert len(server.seen) == 5
    assert len(sessions_used) == 5
    assert all(used is session for used in sessions_used)
    # The two calls before the burst went one after the other: the second reused the first's connection.
    assert server.seen[0].client_port == server.seen[1].client_port


def test_each_loop_has_its_own_session(server: LocalApi, sessions_used: list[aiohttp.ClientSession]) -> None:
    transport = AsyncTransport(make_core(server.url))
    send(transport)
    send(transport)
    first, second = sessions_used
    assert first is not second
    assert len(server.seen) == 2


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


def test_the_request_goes_out_as_built(server: LocalApi) -> None:
    send(AsyncTransport(make_core(server.url)), "PATCH", json_body={"name": "caf\u00e9"})
    (seen,) = server.seen
    assert (seen.method, seen.target) == ("PATCH", PATH)  # origin form: straight to the server, no proxy
    assert seen.headers["Authorization"] == f"APIKey {KEY}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.body == '{"name":"caf\u00e9"}'.encode()


def test_a_redirect_is_returned_not_followed(server: LocalApi) -> None:
    server.answer(Act(302, b"", (("Location", "/elsewhere"),)))
    outcome = send(AsyncTransport(make_core(server.url)))
    assert isinstance(outcome, Response)
    assert (outcome.status, outcome.headers["Location"]) == (302, "/elsewhere")
    assert [seen.path for seen in server.seen] == [PATH]


def test_timeouts_are_mapped_to_connect_and_each_read() -> None:
    assert aio._client_timeout(Timeout(connect=4.0, read=8.0)) == aiohttp.ClientTimeout(
        total=None, connect=4.0, sock_read=8.0
    )
    assert aio._client_timeout(Timeout(connect=2.0, read=7.0)) == aiohttp.ClientTimeout(
        total=None, connect=2.0, sock_read=7.0
    )


def test_the_request_timeout_wins_over_the_cores(server: LocalApi) -> None:
    server.answer(Act(fail="hold"))
    transport = AsyncTransport(make_core(server.url))  # 8 s to read
    outcome = send(transport, timeout=SHORT)  # this call: 0.3 s
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is FailureKind.TIMEOUT


def test_an_answer_keeps_status_headers_and_body(server: LocalApi) -> None:
    server.answer(Act(503, b'{"a": 1}', (("Retry-After", "5"), ("X-Request-Id", "r1"))))
    outcome = send(AsyncTransport(make_core(server.url)))
    assert isinstance(outcome, Response)
    assert outcome.status == 503
    assert outcome.body == b'{"a": 1}'
    assert outcome.headers["retry-after"] == "5"


def test_a_call_retries_after_the_servers_pause_and_parses(
    server: LocalApi, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.jitter = 0.0

    async def recorded_pause(seconds: float) -> None:  # a real loop, real sockets: the pause is recorded, not slept
        clock.sleeps.append(seconds)

    monkeypatch.setattr(_clock, "asleep", recorded_pause)
    server.answer(Act(503, b"{}", (("Retry-After", "4"),)), Act(200, json.dumps(GCORE_PROJECT).encode()))
    project = asyncio.run(AsyncTransport(make_core(server.url)).call("GET", PATH, GcoreProject))
    assert project.to_xcom() == GCORE_PROJECT
    assert len(server.seen) == 2
    assert clock.sleeps == [4.0]


@pytest.mark.parametrize("method", ["PATCH", "GET"])
def test_a_call_sends_its_body_query_and_timeout(server: LocalApi, method: str) -> None:
    server.answer(Act(fail="hold"))
    transport = AsyncTransport(make_core(server.url, max_retries=0))
    body = {"name": "x"} if method == "PATCH" else NOT_SET
    core = transport.core

    async def main() -> None:
        # Triggers only read (``call`` takes no body); the flow of a write drives alike, for the proof.
        await transport.run(core.call(method, PATH, GcoreProject, json_body=body, params={"q": "1"}, timeout=SHORT))

    with pytest.raises(ApiUnreachableError, match="read timed out"):
        asyncio.run(main())
    (seen,) = server.seen
    assert seen.target == f"{PATH}?q=1"
    assert seen.body == (b'{"name":"x"}' if method == "PATCH" else b"")


def test_a_call_sends_its_query(server: LocalApi) -> None:
    server.answer(Act(200, json.dumps(GCORE_PROJECT).encode()))
    transport = AsyncTransport(make_core(server.url))
    asyncio.run(transport.call("GET", PATH, GcoreProject, params={"limit": 1000, "offset": 0}))
    (seen,) = server.seen
    assert seen.target == f"{PATH}?limit=1000&offset=0"


def test_plain_http_makes_no_tls_context(server: LocalApi, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []

    async def recorded_tls(*setting: object) -> bool:
        asked.append(setting)
        return True

    monkeypatch.setattr(aio, "_tls", recorded_tls)
    outcome = send(AsyncTransport(make_core(server.url)))
    assert isinstance(outcome, Response)
    assert asked == []


def test_each_tls_setting_makes_its_context_once(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    real = aio._new_tls_context

    def counted(verify: bool | str, cert: tuple[str, str | None] | None) -> ssl.SSLContext:
        made.append((verify, cert))
        return real(verify, cert)

    monkeypatch.setattr(aio, "_tls_contexts", {})
    monkeypatch.setattr(aio, "_new_tls_context", counted)

    async def twice() -> tuple[ssl.SSLContext | bool, ssl.SSLContext | bool]:
        return await aio._tls(True, None), await aio._tls(True, None)

    first, second = asyncio.run(twice())
    assert made == [(True, None)]
    assert second is first


# -- proxy ----------------------------------------------------------------------------------------


def proxy_url(server: LocalApi, password: str = PROXY_PASSWORD) -> str:
    return server.url.replace("http://", f"http://alice:{password}@")


def test_an_explicit_proxy_is_used_with_its_credentials(server: LocalApi) -> None:
    target = "http://api.example.test"  # never resolved: the proxy (the local server) is asked for it
    outcome = send(AsyncTransport(make_core(target), Network(proxy=Secret(proxy_url(server)))))
    assert isinstance(outcome, Response)
    (seen,) = server.seen
    assert seen.target == target + PATH  # absolute form: a request to a proxy
    assert (
        seen.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"alice:" + PROXY_PASSWORD.encode()).decode()
    )


def test_the_environment_proxy_is_used_unless_no_proxy_says_otherwise(
    server: LocalApi, no_proxy_env: pytest.MonkeyPatch
) -> None:
    port = server.url.rsplit(":", 1)[1]
    target = f"http://localhost:{port}"
    no_proxy_env.setenv("HTTP_PROXY", server.url)
    send(AsyncTransport(make_core(target)))
    no_proxy_env.setenv("NO_PROXY", "localhost")
    send(AsyncTransport(make_core(target)))
    assert [seen.target for seen in server.seen] == [target + PATH, PATH]


def test_use_env_proxy_false_sends_directly(server: LocalApi, no_proxy_env: pytest.MonkeyPatch) -> None:
    port = server.url.rsplit(":", 1)[1]
    no_proxy_env.setenv("HTTP_PROXY", server.url)
    send(AsyncTransport(make_core(f"http://localhost:{port}"), Network(use_env_proxy=False)))
    assert [seen.target for seen in server.seen] == [PATH]


def test_a_failure_through_a_proxy_does_not_show_its_password(server: LocalApi) -> None:
    # An https target through a proxy that refuses the tunnel: aiohttp's error names the proxy URL.
    outcome = send(AsyncTransport(make_core("https://api.example.test"), Network(proxy=Secret(proxy_url(server)))))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is FailureKind.CONNECT
    assert PROXY_PASSWORD not in outcome.detail
    assert outcome.detail == "ClientHttpProxyError: 404, message='Not Found', ***"  # was url='http://alice:...'


# -- TLS ------------------------------------------------------------------------------------------


def test_tls_verification_is_on_by_default_with_one_shared_context(tls_server: LocalApi) -> None:
    outcome = send(AsyncTransport(make_core(tls_server.url)))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is FailureKind.TLS
    assert outcome.detail.startswith("ClientConnectorCertificateError:")
    assert tls_server.seen == []
    first, second = asyncio.run(aio._tls(True, None)), asyncio.run(aio._tls(True, None))
    assert isinstance(first, ssl.SSLContext)
    assert first.verify_mode is ssl.CERT_REQUIRED
    assert first.check_hostname is True
    assert second is first


def test_verify_false_turns_verification_off(tls_server: LocalApi) -> None:
    outcome = send(AsyncTransport(make_core(tls_server.url), Network(verify=False)))
    assert isinstance(outcome, Response)
    assert outcome.status == 200
    assert asyncio.run(aio._tls(False, None)) is False


def test_a_ca_bundle_gives_its_own_context(tls_server: LocalApi, certificate: SelfSigned) -> None:
    outcome = send(AsyncTransport(make_core(tls_server.url), Network(verify=str(certificate.pem))))
    assert isinstance(outcome, Response)
    assert outcome.status == 200
    default, bundle = asyncio.run(aio._tls(True, None)), asyncio.run(aio._tls(str(certificate.pem), None))
    assert isinstance(bundle, ssl.SSLContext)
    assert bundle is not default
    assert bundle.verify_mode is ssl.CERT_REQUIRED
    assert bundle.cert_store_stats()["x509_ca"] > 0


def test_a_client_certificate_is_presented(certificate: SelfSigned, no_proxy_env: pytest.MonkeyPatch) -> None:
    with local_api(certificate.server_context(client_certificate=True)) as server:
        verify = str(certificate.pem)
        refused = send(AsyncTransport(make_core(server.url), Network(verify=verify)))
        accepted = send(
            AsyncTransport(make_core(server.url), Network(verify=verify, cert=(verify, str(certificate.key))))
        )
    # Without it the server ends the session (tests/integration checks the alert's classification).
    assert isinstance(refused, TransportFailure)
    assert isinstance(accepted, Response)
    assert accepted.status == 200
    assert len(server.seen) == 1


# -- failures -------------------------------------------------------------------------------------


def plain_server(act: Act) -> Callable[[pytest.MonkeyPatch, SelfSigned], Iterator[tuple[str, Network]]]:
    def use(monkeypatch: pytest.MonkeyPatch, certificate: SelfSigned) -> Iterator[tuple[str, Network]]:
        with local_api() as server:
            server.answer(act)
            yield server.url, Network()

    return use


def https_to_plain(monkeypatch: pytest.MonkeyPatch, certificate: SelfSigned) -> Iterator[tuple[str, Network]]:
    with local_api() as server:
        yield server.url.replace("http://", "https://"), Network()  # TLS to a server that speaks HTTP


def untrusted(monkeypatch: pytest.MonkeyPatch, certificate: SelfSigned) -> Iterator[tuple[str, Network]]:
    with local_api(certificate.server_context()) as server:
        yield server.url, Network()


def refused(monkeypatch: pytest.MonkeyPatch, certificate: SelfSigned) -> Iterator[tuple[str, Network]]:
    with closed_port() as sock:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", Network()


def proxy_refused(monkeypatch: pytest.MonkeyPatch, certificate: SelfSigned) -> Iterator[tuple[str, Network]]:
    with closed_port() as sock:
        yield "http://api.example.test", Network(proxy=Secret(f"http://127.0.0.1:{sock.getsockname()[1]}"))


def backlog(monkeypatch: pytest.MonkeyPatch, certificate: SelfSigned) -> Iterator[tuple[str, Network]]:
    with full_backlog() as port:
        yield f"http://127.0.0.1:{port}", Network()


def bare_timeout(monkeypatch: pytest.MonkeyPatch, certificate: SelfSigned) -> Iterator[tuple[str, Network]]:
    # No server produces a bare asyncio TimeoutError on demand: the answer's read raises one.
    async def read(self: aiohttp.ClientResponse) -> bytes:
        raise TimeoutError

    monkeypatch.setattr(aiohttp.ClientResponse, "read", read)
    with local_api() as server:
        yield server.url, Network()


FAILURES: list[tuple[str, Any, str, FailureKind]] = [
    ("certificate", untrusted, "ClientConnectorCertificateError", FailureKind.TLS),
    ("ssl", https_to_plain, "ClientConnectorSSLError", FailureKind.TLS),
    ("refused", refused, "ClientConnectorError", FailureKind.CONNECT),
    ("proxy-refused", proxy_refused, "ClientProxyConnectionError", FailureKind.CONNECT),
    ("connect-timeout", backlog, "ConnectionTimeoutError", FailureKind.CONNECT),
    ("read-timeout", plain_server(Act(fail="hold")), "SocketTimeoutError", FailureKind.TIMEOUT),
    ("asyncio-timeout", bare_timeout, "TimeoutError", FailureKind.TIMEOUT),
    ("disconnected", plain_server(Act(fail="drop")), "ServerDisconnectedError", FailureKind.DROPPED),
    ("reset", plain_server(Act(fail="reset")), "ClientOSError", FailureKind.DROPPED),
    ("payload", plain_server(Act(body=b"{}", fail="short-body")), "ClientPayloadError", FailureKind.DROPPED),
]


@pytest.mark.parametrize(("failing", "exception", "kind"), [pytest.param(f, e, k, id=i) for i, f, e, k in FAILURES])
def test_failures_are_classified(
    *,
    failing: Any,
    exception: str,
    kind: FailureKind,
    monkeypatch: pytest.MonkeyPatch,
    no_proxy_env: pytest.MonkeyPatch,
    certificate: SelfSigned,
) -> None:
    with contextlib.contextmanager(failing)(monkeypatch, certificate) as (base_url, network):
        outcome = send(AsyncTransport(make_core(base_url, timeout=SHORT), network))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is kind
    assert outcome.detail.startswith(f"{exception}:")


def test_a_refused_connection_is_a_connect_failure(no_proxy_env: pytest.MonkeyPatch, clock: VirtualClock) -> None:
    # A bound socket that does not listen refuses every connection: no race with another process.
    with closed_port() as sock:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
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


# -- the proxy URL hidden whatever the failure (issue 19: mutation testing found three kinds unchecked)


def _connection_key() -> Any:
    from aiohttp.client_reqrep import ConnectionKey

    # By field name: aiohttp 3.14 (Airflow 3.3) added server_hostname, which 3.13 (3.2) lacks.
    known = {"host": "api.example.test", "port": 443, "is_ssl": True, "ssl": True}
    return ConnectionKey(**{name: known.get(name) for name in ConnectionKey._fields})


@pytest.mark.parametrize(
    ("make_exc", "kind"),
    [
        (lambda text: aiohttp.ClientSSLError(_connection_key(), ssl.SSLError(1, text)), FailureKind.TLS),
        (aiohttp.SocketTimeoutError, FailureKind.TIMEOUT),
        (aiohttp.ClientPayloadError, FailureKind.DROPPED),
    ],
    ids=["tls", "timeout", "dropped"],
)
def test_no_failure_shows_the_proxy_url(
    server: LocalApi, monkeypatch: pytest.MonkeyPatch, make_exc: Callable[[str], BaseException], kind: FailureKind
) -> None:
    # Through the local server as proxy; the answer's read fails with a text naming the proxy.
    proxy = server.url.replace("http://", "http://proxy-user@")

    async def read(self: aiohttp.ClientResponse) -> bytes:
        raise make_exc(f"failed via {proxy}")

    monkeypatch.setattr(aiohttp.ClientResponse, "read", read)
    outcome = send(AsyncTransport(make_core("http://api.example.test"), Network(proxy=Secret(proxy))))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is kind
    assert "proxy-user" not in outcome.detail
    assert "failed via ***" in outcome.detail


# -- what the second mutation run found (issue 19) ---------------------------------------------------


def test_a_calls_timeout_reaches_its_request(server: LocalApi, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []
    real = AsyncTransport.send

    async def recorded(self: AsyncTransport, request: Any) -> Outcome:
        sent.append(request)
        return await real(self, request)

    monkeypatch.setattr(AsyncTransport, "send", recorded)
    server.answer(Act(200, json.dumps(GCORE_PROJECT).encode()))
    asyncio.run(AsyncTransport(make_core(server.url)).call("GET", PATH, GcoreProject, timeout=Timeout(2.0, 3.0)))
    assert [request.timeout for request in sent] == [Timeout(2.0, 3.0)]


def test_a_compressed_answer_is_read_decompressed(server: LocalApi) -> None:
    import gzip

    body = json.dumps(GCORE_PROJECT).encode()
    server.answer(Act(200, gzip.compress(body), (("Content-Encoding", "gzip"),)))
    outcome = send(AsyncTransport(make_core(server.url)))
    assert isinstance(outcome, Response)
    assert outcome.body == body


@pytest.mark.parametrize(
    ("cause", "kind"),
    [
        (
            ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"),
            FailureKind.TLS,
        ),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), FailureKind.DROPPED),
        (ConnectionResetError(104, "reset"), FailureKind.DROPPED),
    ],
    ids=["tls-alert", "tls-eof", "plain-reset"],
)
def test_a_tls_alert_on_the_first_read_is_a_tls_failure(
    server: LocalApi, monkeypatch: pytest.MonkeyPatch, cause: BaseException, kind: FailureKind
) -> None:
    # TLS 1.3 servers refuse a client certificate after the handshake: aiohttp raises the alert on the
    # first read as a ClientOSError caused by an SSLError. A bare EOF is a dropped connection.
    async def read(self: aiohttp.ClientResponse) -> bytes:
        raise aiohttp.ClientOSError(1, "read failed") from cause

    monkeypatch.setattr(aiohttp.ClientResponse, "read", read)
    outcome = send(AsyncTransport(make_core(server.url)))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is kind


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "proxy"])
@pytest.mark.parametrize("with_ca", [False, True], ids=["default-trust", "ca-bundle"])
def test_a_refused_plain_http_connection_names_no_ssl_context(
    through_proxy: bool, with_ca: bool, no_proxy_env: pytest.MonkeyPatch, certificate: SelfSigned
) -> None:
    """aiohttp names its TLS setting (``ssl:default``, ``ssl:<ssl.SSLContext object at 0x…>``) even on http."""
    with closed_port() as sock:
        port = sock.getsockname()[1]
        address = f"http://127.0.0.1:{port}"
        verify: bool | str = str(certificate.pem) if with_ca else True
        proxy = Secret(address) if through_proxy else None
        base = "http://api.example.test" if through_proxy else address
        outcome = send(AsyncTransport(make_core(base, timeout=SHORT), Network(proxy=proxy, verify=verify)))
    assert isinstance(outcome, TransportFailure)
    error = "ClientProxyConnectionError" if through_proxy else "ClientConnectorError"
    assert (
        outcome.detail
        == f"{error}: Cannot connect to host 127.0.0.1:{port} [Connect call failed ('127.0.0.1', {port})]"
    )
