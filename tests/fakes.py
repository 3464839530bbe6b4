"""Test doubles for time and for the two APIs: no test sleeps for real or opens a socket.

- :class:`VirtualClock` replaces ``airflow_provider_projects._clock``: ``now()`` reads it,
  ``sleep()`` advances it, ``jitter()`` returns a fixed number. Under :func:`run_virtual`, the
  event loop's own clock is the same virtual clock, so ``asyncio.sleep`` (and every timer of
  every coroutine) advances it in order, instantly, whenever nothing else is ready to run.
- :class:`FakeApi` replaces the one I/O function of both transports (``SyncTransport.send`` and
  ``AsyncTransport.send``) with scripted answers per route, and records every request sent.
"""

from __future__ import annotations

import asyncio
import json
import selectors
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from airflow_provider_projects import _clock
from airflow_provider_projects._http import aio, sync
from airflow_provider_projects._http.wire import FailureKind, Outcome, Request, Response, TransportFailure

T = TypeVar("T")

START = 1_000_000.0


@dataclass
class VirtualClock:
    """Wall-clock seconds that move only when something sleeps."""

    now: float = START
    jitter: float = 0.5
    sleeps: list[float] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: a select that would wait moves the virtual clock forward instead."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("deadlock in virtual time: every coroutine waits and no timer is set")
        self._clock.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is a :class:`VirtualClock`."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(selector=_VirtualSelector(clock))
        self._virtual = clock
        # asyncio adds this resolution to the time when it picks due timers; its 1 ns default is
        # lost in a present-day epoch (1.7e9 s), and a due timer would then never fire.
        self._clock_resolution = 1e-6

    def time(self) -> float:
        return self._virtual.now


def run_virtual(clock: VirtualClock, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end in virtual time, closing the loop as ``asyncio.run`` does."""
    loop = VirtualTimeLoop(clock)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def read_connections_in_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """``AIRFLOW_CONN_*`` read in the event loop, not in a worker thread (``sync_to_async``).

    Airflow's environment-variable backend has no async lookup, so ``BaseHook.aget_connection``
    runs the sync one in a thread. Under :func:`run_virtual` that thread's answer races the loop,
    which sees no timer meanwhile and calls that a deadlock. The rest of ``aget_connection`` runs
    as it does in a triggerer.
    """
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend

    async def aget_connection(self: EnvironmentVariablesBackend, conn_id: str) -> Any:
        return self.get_connection(conn_id)

    monkeypatch.setattr(EnvironmentVariablesBackend, "aget_connection", aget_connection, raising=False)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """The virtual clock, installed as ``_clock``'s source of time and chance."""
    read_connections_in_the_loop(monkeypatch)
    virtual = VirtualClock()
    monkeypatch.setattr(_clock, "now", virtual.time)
    monkeypatch.setattr(_clock, "sleep", virtual.sleep)
    monkeypatch.setattr(_clock, "jitter", lambda: virtual.jitter)

    async def asleep(seconds: float) -> None:
        virtual.sleeps.append(seconds)
        await asyncio.sleep(seconds)  # the virtual loop's timers: ordered, instant

    monkeypatch.setattr(_clock, "asleep", asleep)
    return virtual


# -- the APIs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A scripted answer: a status and a JSON body (or raw bytes), with headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        raw = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        return Response(self.status, {"Content-Type": "application/json", **self.headers}, raw)


def ok(body: Any, **headers: str) -> Reply:
    return Reply(200, body, headers)


def failure(kind: FailureKind = FailureKind.DROPPED, detail: str = "ConnectionResetError: reset") -> TransportFailure:
    return TransportFailure(kind, detail)


Scripted = Reply | TransportFailure | Callable[[Request], "Reply | TransportFailure"]


class FakeApi:
    """Answers requests by ``(method, path)`` from scripted queues; the last answer repeats.

    ``api.on("GET", "/cloud/v1/projects/2", ok(...), ok(...))`` queues answers for a route;
    ``api.requests`` lists every :class:`Request` sent, in order, by either transport.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], deque[Scripted]] = {}
        self.requests: list[Request] = []
        #: When each request was sent (``_clock.now()``: the virtual clock's seconds under ``clock``).
        self.times: list[float] = []
        #: Seconds each answer of the async transport takes (virtual time): a read in flight.
        self.latency = 0.0

    def on(self, method: str, path: str, *answers: Scripted) -> FakeApi:
        self.routes.setdefault((method, path), deque()).extend(answers)
        return self

    def sent(self, method: str | None = None, path: str | None = None) -> list[Request]:
        return [r for r in self.requests if (method in (None, r.method)) and (path in (None, r.path.split("?")[0]))]

    def sent_at(self, method: str | None = None, path: str | None = None) -> list[float]:
        """When the requests :meth:`sent` lists were sent, in seconds after ``START``."""
        return [
            moment - START
            for request, moment in zip(self.requests, self.times, strict=True)
            if (method in (None, request.method)) and (path in (None, request.path.split("?")[0]))
        ]

    def answer(self, request: Request) -> Outcome:
        self.requests.append(request)
        self.times.append(_clock.now())
        queue = self.routes.get((request.method, request.path.split("?")[0]))
        if not queue:
            return Reply(404, {"message": f"no scripted answer for {request.method} {request.path}"}).response()
        scripted = queue[0] if len(queue) == 1 else queue.popleft()
        if callable(scripted):
            scripted = scripted(request)
        return scripted.response() if isinstance(scripted, Reply) else scripted


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    """A :class:`FakeApi` behind both transports."""
    fake = FakeApi()

    def send(self: object, request: Request) -> Outcome:
        return fake.answer(request)

    async def asend(self: object, request: Request) -> Outcome:
        await asyncio.sleep(fake.latency)  # a real send yields to the loop
        return fake.answer(request)

    monkeypatch.setattr(sync.SyncTransport, "send", send)
    monkeypatch.setattr(aio.AsyncTransport, "send", asend)
    return fake


def body_of(request: Request) -> Any:
    """The JSON body a request carried (``None`` without one)."""
    return None if request.body is None else json.loads(request.body)


class FakeStore:
    """Airflow's task state store as the operators use it: get / set / delete of JSON values."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(initial or {})
        self.writes: list[tuple[str, str]] = []
        self.options: list[dict[str, Any]] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **options: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))  # the real store only takes JSON values
        self.writes.append(("set", key))
        self.options.append(options)

    def delete(self, key: str) -> None:
        self.values.pop(key, None)
        self.writes.append(("delete", key))
