"""Flows: sans-I/O generators that say what to send and when to pause, and their two drivers.

A flow yields :class:`Send` (pass back the request's :data:`Outcome`) and :class:`Sleep` (pass
back ``None``) and returns its result. The HTTP core's exchange is a flow; a lock wait is a flow
that ``yield from``-s one exchange per poll. :func:`run_sync` drives any flow on a worker and
:func:`run_async` in an event loop, each given the transport's one I/O function, the way httpx
drives ``Auth.auth_flow`` with ``sync_auth_flow`` and ``async_auth_flow``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

from airflow_provider_projects import _clock
from airflow_provider_projects._http.wire import Outcome, Request

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Send:
    """Step: send this request and pass back its outcome."""

    request: Request


@dataclass(frozen=True, slots=True)
class Sleep:
    """Step: wait this many seconds, then pass back ``None``."""

    seconds: float


Flow = Generator[Send | Sleep, Outcome | None, T]


def run_sync(flow: Flow[T], send: Callable[[Request], Outcome]) -> T:
    """Drive ``flow`` to its end with a blocking ``send``; pauses block the worker."""
    reply: Outcome | None = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(step, Send):
            reply = send(step.request)
        else:
            _clock.sleep(step.seconds)
            reply = None


async def run_async(flow: Flow[T], send: Callable[[Request], Awaitable[Outcome]]) -> T:
    """Drive ``flow`` to its end with an async ``send``; pauses let the event loop run others."""
    reply: Outcome | None = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(step, Send):
            reply = await send(step.request)
        else:
            await _clock.asleep(step.seconds)
            reply = None
