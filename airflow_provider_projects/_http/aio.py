"""The asyncio transport for triggers: drives the core's flows over a shared ``aiohttp`` session.

Triggers only read (GET), so this transport serves the polling side. aiohttp is what Airflow's
own http provider triggers use; its C-accelerated parser costs a fraction of httpx's CPU per
request, which decides how many waits one triggerer holds. One session per event loop is shared
by every trigger in that loop (a session costs a connection pool and a TLS context), made on
first use and closed when the loop shuts down.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncGenerator, Mapping
from functools import lru_cache
from typing import Any, Final, TypeVar

import aiohttp
from pydantic import BaseModel

from airflow_provider_projects._http.core import HttpCore
from airflow_provider_projects._http.flow import Flow, run_async
from airflow_provider_projects._http.wire import (
    DIRECT,
    FailureKind,
    Network,
    Outcome,
    Request,
    Response,
    Timeout,
    TransportFailure,
)
from airflow_provider_projects._loop_local import LoopLocal

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

#: Connections per event loop. Polls of thousands of waits are spread over their interval, so at
#: any instant few are in flight; the cap only keeps a burst (every wait of a restarted triggerer
#: polling at once) from opening thousands of sockets. Requests beyond it queue in the connector.
CONNECTION_LIMIT: Final = 100
#: Idle connections are kept this long: longer than the longest usual poll interval (30 s), so a
#: wait's next poll reuses its connection instead of paying a new handshake.
KEEPALIVE_SECONDS: Final = 75.0


async def _closed_at_loop_shutdown(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Holds ``session`` open; the loop's ``shutdown_asyncgens()`` (run by ``asyncio.run``) closes it.

    An event loop has no "on close" callback, but it does finalise the async generators it has
    started, which makes one a clean, loop-owned place to close the session.
    """
    try:
        yield
    finally:
        await session.close()


class _LoopSession:
    """The session of one event loop, made on first use (and again if something closed it)."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self._closer: AsyncGenerator[None, None] | None = None

    async def get(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT, keepalive_timeout=KEEPALIVE_SECONDS),
                # The proxy is chosen by ``Network`` for both transports alike: no second reading of the environment.
                trust_env=False,
                auto_decompress=True,
            )
            self._closer = _closed_at_loop_shutdown(self.session)
            await anext(self._closer)  # started: the loop now tracks it and closes the session at shutdown
        return self.session


_sessions: Final = LoopLocal(_LoopSession)


async def shared_session() -> aiohttp.ClientSession:
    """The running loop's session, made on first use."""
    return await _sessions.get().get()


#: One TLS context per distinct setting, shared by every request of the process.
_tls_contexts: dict[tuple[bool | str, tuple[str, str | None] | None], ssl.SSLContext] = {}


def _new_tls_context(verify: bool | str, cert: tuple[str, str | None] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if cert is not None:
        context.load_cert_chain(cert[0], cert[1])
    return context


async def _tls(verify: bool | str, cert: tuple[str, str | None] | None) -> ssl.SSLContext | bool:
    """The TLS setting for a request; one context per distinct setting, made once, off the loop.

    Loading a CA store takes tens of milliseconds: made in the loop, it would stall every other
    wait of the triggerer meanwhile. Two first requests racing may both make one; one is kept.
    """
    if verify is False:
        return False
    context = _tls_contexts.get((verify, cert))
    if context is None:
        context = await asyncio.to_thread(_new_tls_context, verify, cert)
        context = _tls_contexts.setdefault((verify, cert), context)
    return context


@lru_cache(maxsize=32)
def _client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    """aiohttp's timeout for ours, made once per distinct value (it is the same on every poll)."""
    return aiohttp.ClientTimeout(total=None, connect=timeout.connect, sock_read=timeout.read)


class AsyncTransport:
    """Sends requests for one API from an event loop."""

    def __init__(self, core: HttpCore, network: Network = DIRECT) -> None:
        self.core = core
        self.network = network
        # Decided once: every request of this transport goes to the core's base URL, and reading the
        # environment's proxy settings on each poll would cost more than the rest of the request.
        self._proxy = network.proxy_for(core.base_url)
        self._tls_needed = core.base_url.startswith("https://")

    def __repr__(self) -> str:
        return f"AsyncTransport({self.core!r})"

    async def call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> M:
        """Send one API call (with the core's retries) and parse its answer into ``model``.

        No body: triggers only read, and every write runs on a worker through ``SyncTransport``.
        """
        return await self.run(self.core.call(method, path, model, params=params, timeout=timeout))

    async def run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` to its end."""
        return await run_async(flow, self.send)

    async def send(self, request: Request) -> Outcome:
        """Send once; an answer of any status is a :class:`Response`, no answer a :class:`TransportFailure`."""
        session = await shared_session()
        # Plain http has no TLS: no context to make (aiohttp ignores the setting for such a URL).
        tls = await _tls(self.network.verify, self.network.cert) if self._tls_needed else True
        proxy = self._proxy
        secrets = (proxy,) if proxy is not None else ()
        timeout = _client_timeout(request.timeout)
        try:
            async with session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                timeout=timeout,
                allow_redirects=False,
                proxy=proxy.reveal() if proxy is not None else None,
                ssl=tls,
            ) as answer:
                return Response(answer.status, answer.headers, await answer.read())
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            return TransportFailure.of(FailureKind.TLS, exc, *secrets)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.ClientHttpProxyError) as exc:
            # Nothing reached the server (a proxy refusing the CONNECT, 407 included, as requests reports it).
            return TransportFailure.of(FailureKind.CONNECT, exc, *secrets)
        except (aiohttp.SocketTimeoutError, TimeoutError) as exc:
            return TransportFailure.of(FailureKind.TIMEOUT, exc, *secrets)
        except aiohttp.ClientError as exc:  # dropped connection, protocol error, body cut short
            kind = FailureKind.TLS if _tls_alert(exc) else FailureKind.DROPPED
            return TransportFailure.of(kind, exc, *secrets)


def _tls_alert(exc: aiohttp.ClientError) -> bool:
    """True when the server refused the TLS session with an alert after the handshake.

    Under TLS 1.3 a server checks the client certificate after the client's side of the handshake
    is done, so "certificate required" or "bad certificate" arrives on the first read, as a
    ``ClientOSError`` caused by an ``ssl.SSLError``. A bare EOF is a dropped connection, not an alert.
    """
    cause = exc.__cause__
    return isinstance(cause, ssl.SSLError) and not isinstance(
        cause, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError
    )
