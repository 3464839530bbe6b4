"""The asyncio transport for triggers: the core's exchange over a shared ``httpx.AsyncClient``.

Triggers only read (GET), so this transport serves the polling side. One client per event loop
is shared by every trigger in that loop: a client costs an SSL context and a pool, and a
triggerer may run a thousand waits at once.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel

from airflow_provider_projects._http.core import (
    NO_BODY,
    FailureKind,
    HttpCore,
    Outcome,
    Request,
    Response,
    Send,
    Timeout,
    TransportFailure,
)

M = TypeVar("M", bound=BaseModel)

#: Connections per event loop, and requests in flight at once. Keep-alive equals the maximum on
#: purpose: httpcore closes a finished connection whenever the pool holds more connections than
#: ``max_keepalive_connections``, so a smaller figure made a busy triggerer reconnect per request.
POOL_SIZE: Final = 32

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
_in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def shared_client() -> httpx.AsyncClient:
    """The running loop's client, made on first use (keep-alive pool shared by all waits)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
        )
        _clients[loop] = client
    return client


def _slot() -> asyncio.Semaphore:
    """The running loop's limit on requests in flight.

    Waits queue here, where waiting costs nothing, rather than inside httpx's pool, which rescans
    its whole queue on every request and would fail a request queued past the pool timeout.
    """
    loop = asyncio.get_running_loop()
    slot = _in_flight.get(loop)
    if slot is None:
        slot = _in_flight[loop] = asyncio.Semaphore(POOL_SIZE)
    return slot


class AsyncTransport:
    """Sends requests for one API from an event loop; ``sleep`` is injectable so tests never wait."""

    def __init__(
        self,
        core: HttpCore,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.core = core
        self._client = client
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"AsyncTransport({self.core!r})"

    async def call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        json_body: Any = NO_BODY,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> M:
        """Send one API call (with the core's retries) and parse its answer into ``model``."""
        request = self.core.request(method, path, json_body=json_body, params=params, timeout=timeout)
        return self.core.parse(await self.run(request), model, request)

    async def run(self, request: Request) -> Response:
        """Drive the core's exchange for ``request`` to its end."""
        steps = self.core.exchange(request)
        step = next(steps)
        while True:
            try:
                if isinstance(step, Send):
                    step = steps.send(await self._send(step.request))
                else:
                    await self._sleep(step.seconds)
                    step = steps.send(None)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    async def _send(self, request: Request) -> Outcome:
        client = self._client or shared_client()
        timeout = httpx.Timeout(request.timeout.read, connect=request.timeout.connect)
        try:
            async with _slot():
                answer = await client.request(
                    request.method, request.url, headers=request.headers, content=request.body, timeout=timeout
                )
            return Response(answer.status_code, answer.headers, answer.content)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return TransportFailure.of(FailureKind.CONNECT, exc)
        except httpx.TimeoutException as exc:
            return TransportFailure.of(FailureKind.TIMEOUT, exc)
        except httpx.TransportError as exc:  # dropped connection, protocol error, body cut short
            return TransportFailure.of(FailureKind.DROPPED, exc)
