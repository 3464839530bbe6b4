# ruff: noqa: PLR0917 - pytest passes fixtures by name; a test here takes a transport, the parts it needs and its case
"""Proxies and TLS with real parts on 127.0.0.1, the same matrix on both transports.

The hook reads its connection from ``AIRFLOW_CONN_NET_TEST``; the blocking transport (requests) is
driven by ``GcoreHook.get_project`` and the asyncio one (aiohttp) by ``GcoreHook.aget_project``
under ``asyncio.run`` (a new event loop, so a new aiohttp session, for every call). Nothing is
mocked: an HTTP proxy (``Proxy``), a TLS server in front of the emulator (``TlsFront``) and
certificate authorities made here (``Pki``) stand in for an enterprise network.

What the libraries do, as observed and asserted here: for an ``https://`` API both tunnel through
the proxy with ``CONNECT host:port``; for an ``http://`` API neither tunnels, both send the
request to the proxy in absolute form (``GET http://host:port/path``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_projects import _clock
from airflow_provider_projects.errors import ConnectionSetupError, ProjectsApiError
from airflow_provider_projects.hooks.gcore import GcoreHook
from airflow_provider_projects.models.gcore import GcoreProject
from projects_emulator import ProjectsEmulator
from tests.integration.network_support import Authority, Issued, Pki, Proxy, TlsFront, refused_port

pytestmark = pytest.mark.integration

CONN_ID = "net_test"
TRANSPORTS = ("sync", "async")
PROJECT_ID = 2
PATH = f"/cloud/v1/projects/{PROJECT_ID}"
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "no_proxy")

#: A proxy password as a URL carries it: percent-encoded, ``%7E`` included, which aiohttp's URL
#: library renders back as ``~`` (the form an exact-match redaction of the URL once missed).
PROXY_USER = "alice"
PROXY_PASSWORD = "Pr0xyS3cret~pw@x"
PROXY_PASSWORD_IN_URL = "Pr0xyS3cret%7Epw%40x"
#: Every form of the password that must never show: as given, decoded, and as libraries render it.
PASSWORD_FORMS = (PROXY_PASSWORD, PROXY_PASSWORD_IN_URL, "Pr0xyS3cret~pw%40x", "Pr0xyS3cret")


@dataclass(frozen=True)
class Certificates:
    ca: Authority  # the CA the tests trust
    other_ca: Authority  # a CA nobody trusts
    server: Issued  # 127.0.0.1, signed by ca
    untrusted_server: Issued  # 127.0.0.1, signed by other_ca
    client: Issued  # a client certificate signed by ca


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    pki = Pki(tmp_path_factory.mktemp("pki"))
    ca, other_ca = pki.authority("test"), pki.authority("untrusted")
    return Certificates(
        ca=ca,
        other_ca=other_ca,
        server=pki.issue(ca, "server"),
        untrusted_server=pki.issue(other_ca, "untrusted-server"),
        client=pki.issue(ca, "client", client=True),
    )


@pytest.fixture(autouse=True)
def no_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no proxy variables, whatever the machine running it has set."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def emu() -> Iterator[ProjectsEmulator]:
    with ProjectsEmulator() as emulator:
        yield emulator


@pytest.fixture
def tls_front(emu: ProjectsEmulator, certs: Certificates) -> Iterator[Callable[..., TlsFront]]:
    """``tls_front(server=certs.server, client_ca=None)``: a TLS server before the emulator's Gcore port."""
    fronts: list[TlsFront] = []

    def start(server: Issued | None = None, client_ca: Authority | None = None) -> TlsFront:
        front = TlsFront(emu.gcore_port, server or certs.server, client_ca=client_ca)
        fronts.append(front)
        return front

    yield start
    for front in fronts:
        front.close()


@pytest.fixture
def proxy() -> Iterator[Callable[..., Proxy]]:
    """``proxy(user=None, password=None)``: a counting HTTP proxy, closed after the test."""
    proxies: list[Proxy] = []

    def start(user: str | None = None, password: str | None = None) -> Proxy:
        started = Proxy(user, password)
        proxies.append(started)
        return started

    yield start
    for started in proxies:
        started.close()


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, emu: ProjectsEmulator) -> Callable[..., None]:
    """``connect(host, **extra)``: point ``net_test`` at ``host`` with the emulator's key.

    A short timeout and no retries unless the test says otherwise, so a failing test stays short.
    """

    def use(host: str, **extra: Any) -> None:
        extra = {"timeout": 5, "max_retries": 0, **extra}
        conn = {"conn_type": "gcore", "host": host, "password": emu.gcore_key, "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))

    return use


def get_project(transport: str) -> GcoreProject:
    """One ``GET /cloud/v1/projects/2`` through the named transport, with a fresh hook."""
    hook = GcoreHook(CONN_ID)
    try:
        if transport == "sync":
            return hook.get_project(PROJECT_ID)
        return asyncio.run(asyncio.wait_for(hook.aget_project(PROJECT_ID), timeout=30))
    finally:
        hook.close()


def pauses_recorded(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses the provider takes from now on (both transports' sleeps), still really taken."""
    slept: list[float] = []
    sleep, asleep = _clock.sleep, _clock.asleep

    def recorded_sleep(seconds: float) -> None:
        slept.append(seconds)
        sleep(seconds)

    async def recorded_asleep(seconds: float) -> None:
        slept.append(seconds)
        await asleep(seconds)

    monkeypatch.setattr(_clock, "sleep", recorded_sleep)
    monkeypatch.setattr(_clock, "asleep", recorded_asleep)
    return slept


def api_requests(emu: ProjectsEmulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in emu.requests(api="gcore")]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- (1) the connection's proxy -------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_proxy_extra_tunnels_https_with_one_connect(
    transport: str,
    connect: Callable[..., None],
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
    proxy: Callable[..., Proxy],
) -> None:
    front, through = tls_front(), proxy()
    connect(front.url, proxy=through.url, verify=str(certs.ca.pem))

    assert get_project(transport).id == PROJECT_ID
    assert through.tunnels == [front.address]  # one CONNECT, to the API's host:port
    assert through.forwards == []
    assert front.handshakes == 1
    assert api_requests(emu) == [f"GET {PATH}"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_proxy_extra_forwards_plain_http_in_absolute_form(
    transport: str, connect: Callable[..., None], emu: ProjectsEmulator, proxy: Callable[..., Proxy]
) -> None:
    through = proxy()
    connect(emu.gcore_url, proxy=through.url)

    assert get_project(transport).id == PROJECT_ID
    # Neither requests nor aiohttp tunnels an http:// target: the proxy gets the absolute URL.
    assert through.tunnels == []
    assert through.forwards == [f"{emu.gcore_url}{PATH}"]
    assert api_requests(emu) == [f"GET {PATH}"]


# -- (2) proxy credentials ------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_proxy_credentials_in_the_url_are_sent(
    transport: str,
    connect: Callable[..., None],
    scheme: str,
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
    proxy: Callable[..., Proxy],
) -> None:
    through = proxy(PROXY_USER, PROXY_PASSWORD)
    host = tls_front().url if scheme == "https" else emu.gcore_url
    connect(
        host,
        proxy=through.url_with(PROXY_USER, PROXY_PASSWORD_IN_URL),
        verify=str(certs.ca.pem),
    )

    assert get_project(transport).id == PROJECT_ID
    assert [r.authorization for r in through.records] == [basic(PROXY_USER, PROXY_PASSWORD)]
    assert [r.answer for r in through.records] == [200]
    # The proxy's credentials go to the proxy only, never to the API.
    assert all("proxy-authorization" not in r.headers for r in emu.requests(api="gcore"))


def _texts_of(error: BaseException) -> list[str]:
    """The error's str, repr and args, and those of every exception chained to it."""
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", ["407 on CONNECT", "407 on a forwarded request", "proxy down"])
def test_proxy_credentials_never_shown_when_the_proxy_fails(
    transport: str,
    connect: Callable[..., None],
    case: str,
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
    proxy: Callable[..., Proxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The proxy knows another password, so it answers 407 to ours; or no proxy listens at all.
    through = proxy(PROXY_USER, "another-password")
    address = through.address if case != "proxy down" else f"127.0.0.1:{refused_port()}"
    host = emu.gcore_url if case == "407 on a forwarded request" else tls_front().url
    proxy_url = f"http://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@{address}"
    # One retry, so the retry path's warning is logged (and checked) too.
    connect(host, proxy=proxy_url, verify=str(certs.ca.pem), max_retries=1)
    caplog.set_level(logging.DEBUG)

    hook = GcoreHook(CONN_ID)
    with pytest.raises(ProjectsApiError) as raised:
        if transport == "sync":
            hook.get_project(PROJECT_ID)
        else:
            asyncio.run(asyncio.wait_for(hook.aget_project(PROJECT_ID), timeout=30))

    shown = [*_texts_of(raised.value), caplog.text, *(r.getMessage() for r in caplog.records)]
    shown += [repr(hook), repr(hook.settings()), repr(hook.settings().network)]
    if transport == "sync":
        shown.append(repr(hook.transport))
    hook.close()
    secrets = [*PASSWORD_FORMS, basic(PROXY_USER, PROXY_PASSWORD).split()[1]]
    leaks = [(secret, text) for text in shown for secret in secrets if secret in text]
    assert leaks == []
    assert api_requests(emu) == []
    if case == "proxy down":
        assert "connection failed" in str(raised.value)
    else:
        assert through.records and all(r.answer == 407 for r in through.records)
        assert "407" in str(raised.value)
    if case == "407 on a forwarded request":
        # A 407 answer comes from the proxy, never from the API: a setup error naming the extra.
        assert isinstance(raised.value, ConnectionSetupError)
        assert "'proxy' extra" in str(raised.value)
    if case != "407 on a forwarded request":
        # The captured log did see the call: its retry warning (a 407 response is not retried).
        assert any("trying again" in record.getMessage() for record in caplog.records)
    if case == "407 on CONNECT":
        # Both transports say the same: the proxy refused, nothing reached the API.
        assert "connection failed" in str(raised.value)


# -- (3) the environment's proxy ------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_https_proxy_from_the_environment(
    transport: str,
    connect: Callable[..., None],
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
    proxy: Callable[..., Proxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    front, through = tls_front(), proxy()
    monkeypatch.setenv("HTTPS_PROXY", through.url)
    connect(front.url, verify=str(certs.ca.pem))

    assert get_project(transport).id == PROJECT_ID
    assert through.tunnels == [front.address]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_http_proxy_from_the_environment_for_an_http_api(
    transport: str,
    connect: Callable[..., None],
    emu: ProjectsEmulator,
    proxy: Callable[..., Proxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    through = proxy()
    monkeypatch.setenv("HTTP_PROXY", through.url)
    connect(emu.gcore_url)

    assert get_project(transport).id == PROJECT_ID
    assert through.forwards == [f"{emu.gcore_url}{PATH}"]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("bypass", ["NO_PROXY=127.0.0.1", "proxy: direct"])
def test_environment_proxy_bypassed(
    transport: str,
    connect: Callable[..., None],
    bypass: str,
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
    proxy: Callable[..., Proxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    front, through = tls_front(), proxy()
    monkeypatch.setenv("HTTPS_PROXY", through.url)
    extra: dict[str, Any] = {"verify": str(certs.ca.pem)}
    if bypass.startswith("NO_PROXY"):
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    else:
        extra["proxy"] = "direct"
    connect(front.url, **extra)

    assert get_project(transport).id == PROJECT_ID
    assert through.records == []
    assert front.handshakes == 1


# -- (4) server certificates ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_verify_with_the_test_ca_bundle(
    transport: str,
    connect: Callable[..., None],
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
) -> None:
    front = tls_front()
    connect(front.url, verify=str(certs.ca.pem))

    assert get_project(transport).id == PROJECT_ID
    assert (front.attempts, front.handshakes) == (1, 1)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", ["default trust, test CA's server", "test CA bundle, untrusted CA's server"])
def test_unknown_ca_refused_at_once(
    transport: str,
    monkeypatch: pytest.MonkeyPatch,
    connect: Callable[..., None],
    case: str,
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
) -> None:
    if case.startswith("default"):
        front, extra = tls_front(), {}
    else:
        front, extra = tls_front(certs.untrusted_server), {"verify": str(certs.ca.pem)}
    # Retries allowed: a TLS failure must still be tried once only.
    connect(front.url, max_retries=3, **extra)

    slept = pauses_recorded(monkeypatch)
    with pytest.raises(ConnectionSetupError, match="TLS verification failed") as raised:
        get_project(transport)

    assert slept == []  # no retry delay was slept
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert "'verify'" in str(raised.value)  # the hint names the extra to set
    assert front.attempts == 1
    assert front.handshakes == 0
    assert api_requests(emu) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_verify_false_accepts_any_certificate(
    transport: str,
    connect: Callable[..., None],
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
) -> None:
    front = tls_front(certs.untrusted_server)
    connect(front.url, verify=False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning: expected with verify off
        assert get_project(transport).id == PROJECT_ID
    assert front.handshakes == 1


# -- (5) client certificates ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_certificate_accepted(
    transport: str,
    connect: Callable[..., None],
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
) -> None:
    front = tls_front(client_ca=certs.ca)
    connect(
        front.url,
        verify=str(certs.ca.pem),
        cert=str(certs.client.cert),
        cert_key=str(certs.client.key),
    )

    assert get_project(transport).id == PROJECT_ID
    assert front.handshakes == 1
    assert "client" in front.client_subjects[0]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_missing_client_certificate_is_a_setup_error(
    transport: str,
    connect: Callable[..., None],
    emu: ProjectsEmulator,
    certs: Certificates,
    tls_front: Callable[..., TlsFront],
) -> None:
    front = tls_front(client_ca=certs.ca)
    connect(front.url, verify=str(certs.ca.pem), max_retries=3)

    with pytest.raises(ConnectionSetupError, match="TLS verification failed") as raised:
        get_project(transport)

    # Under TLS 1.3 the server checks the client certificate after the client's side of the
    # handshake, so its "certificate required" alert arrives on the first read.
    assert "CERTIFICATE_REQUIRED" in str(raised.value)
    assert "'cert'" in str(raised.value)
    assert front.handshakes == 0
    assert front.failed.wait(timeout=10), "the server never recorded the failed handshake"
    assert all("PEER_DID_NOT_RETURN_A_CERTIFICATE" in failure for failure in front.failures)
    # The provider does not retry (3 allowed). aiohttp itself sends an idempotent request once
    # more on a fresh connection when the first fails after connecting (RFC 9112 9.3.1.1).
    assert front.attempts == (1 if transport == "sync" else 2)
    assert api_requests(emu) == []


# -- (6) bad values, refused before any request ---------------------------------------------------


def _bad_values(tmp: Path, certs: Certificates) -> dict[str, tuple[dict[str, Any], str]]:
    return {
        "proxy without scheme": ({"proxy": f"{PROXY_USER}:{PROXY_PASSWORD}@proxy.example:3128"}, "'proxy'"),
        "proxy with a socks scheme": ({"proxy": "socks5://proxy.example:1080"}, "'proxy'"),
        "verify: missing CA file": ({"verify": str(tmp / "absent-ca.pem")}, "'verify'"),
        "verify: a folder": ({"verify": str(tmp)}, "'verify'"),
        "cert_key without cert": ({"cert_key": str(certs.client.key)}, "'cert_key'"),
        "cert: missing file": ({"cert": str(tmp / "absent.pem"), "cert_key": str(certs.client.key)}, "'cert'"),
    }


BAD_VALUE_CASES = [
    "proxy without scheme",
    "proxy with a socks scheme",
    "verify: missing CA file",
    "verify: a folder",
    "cert_key without cert",
    "cert: missing file",
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", BAD_VALUE_CASES)
def test_bad_values_refused_before_any_request(
    transport: str,
    connect: Callable[..., None],
    case: str,
    emu: ProjectsEmulator,
    certs: Certificates,
    tmp_path: Path,
    proxy: Callable[..., Proxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra, names = _bad_values(tmp_path, certs)[case]
    through = proxy()
    monkeypatch.setenv("HTTPS_PROXY", through.url)
    monkeypatch.setenv("HTTP_PROXY", through.url)
    connect(emu.gcore_url, **extra)

    with pytest.raises(ConnectionSetupError) as raised:
        get_project(transport)

    assert names in str(raised.value)
    assert PROXY_PASSWORD not in str(raised.value)  # a refused proxy value is never echoed
    assert api_requests(emu) == []
    assert through.records == []
