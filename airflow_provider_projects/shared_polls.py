"""One poll per resource per event loop, shared by every wait on that resource.

A triggerer runs every deferred wait of a deployment in one event loop. Waits on the same
resource (same API base URL, same key, same project or task) join one :class:`SharedPoll`: it
reads the resource once per interval and hands the answer to each wait's own :class:`Wait`,
so each keeps its deadline, its error budget and its event. A hundred tasks waiting for one
project's lock cost one request per interval, not a hundred.

Polls run at a fixed rate, the shortest interval among the waits sharing them, with the phase
taken from the first answer: pausing an interval *after* each answer would poll at
1/(interval + latency). A 429 inside a poll is retried by the HTTP core after its
``Retry-After``, once for every wait on the key. Nothing here outlives its event loop: the
registry is per loop, and a poll ends with its last wait (a trigger cancelled, timed out or
moved to another triggerer leaves the others running).
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from airflow_provider_projects import _clock
from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.models.base import ApiModel
from airflow_provider_projects.waiting import Wait, WaitOutcome, retry_pause

T = TypeVar("T", bound=ApiModel)

Read = Callable[[], Awaitable[T]]


@dataclass(eq=False)
class _Waiter(Generic[T]):
    wait: Wait[T]
    log: Any  # the trigger's own logger, so progress lines land in that task's log
    done: asyncio.Future[WaitOutcome[T]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SharedPoll(Generic[T]):
    """Polls one resource for every wait that joined it, until the last one leaves."""

    def __init__(self, key: Hashable, read: Read[T], registry: dict[Hashable, SharedPoll[Any]]) -> None:
        self.key = key
        self._read = read
        self._registry = registry
        self._waiters: list[_Waiter[T]] = []
        #: Set while the poll sleeps between ticks, so a joining wait can cut the sleep short.
        self._sleeping = False
        self._woken = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"shared poll {len(registry)}")
        self.polls = 0

    async def wait(self, wait: Wait[T], log: Any) -> WaitOutcome[T]:
        """Join, and return this wait's outcome; leaving early (cancelled) leaves the others polling."""
        waiter = _Waiter(wait, log)
        self._waiters.append(waiter)
        if self._sleeping and not self._woken:  # its interval or deadline may come before the next tick
            self._woken = True
            self._task.cancel()
        try:
            return await asyncio.shield(waiter.done)
        finally:
            self._leave(waiter)

    def _leave(self, waiter: _Waiter[T]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        if not self._waiters:
            self._close()

    def _close(self) -> None:
        if self._registry.get(self.key) is self:
            del self._registry[self.key]
        self._task.cancel()

    async def _run(self) -> None:
        tick: float | None = None  # the grid point of the last regular poll
        try:
            while self._waiters:
                outcome = await self._poll_once()
                now = _clock.now()
                tick = now if tick is None else tick  # the phase comes from the first answer
                self._hand_out(outcome, now)
                hold = now + retry_pause(outcome)  # a Retry-After the HTTP core did not wait out
                while self._waiters:
                    next_tick = self._grid_after(tick, _clock.now())
                    wake = min(max(next_tick, hold), *(w.wait.deadline for w in self._waiters))
                    if await self._sleep_until(wake):
                        break
                    # A wait joined: its interval or deadline may come sooner, so plan again.
                if _clock.now() >= next_tick:
                    # A regular poll: the grid goes on from it, or starts again after a Retry-After's
                    # hold. A poll at a wait's deadline, between ticks, keeps the grid.
                    tick = max(next_tick, hold)
        except Exception as error:  # a bug, not an API error: every wait on the key hears of it
            for waiter in self._waiters:
                if not waiter.done.done():
                    waiter.done.set_exception(error)
        finally:
            if self._registry.get(self.key) is self:
                del self._registry[self.key]

    async def _poll_once(self) -> T | ProjectsApiError:
        self.polls += 1
        try:
            return await self._read()
        except ProjectsApiError as error:
            return error

    def _hand_out(self, outcome: T | ProjectsApiError, now: float) -> None:
        for waiter in list(self._waiters):
            verdict = waiter.wait.observe(outcome, now)
            if isinstance(verdict, WaitOutcome):
                self._waiters.remove(waiter)
                if not waiter.done.done():
                    waiter.done.set_result(verdict)
                continue
            line = waiter.wait.progress(now)
            if line is not None:
                waiter.log.info("%s", line)

    def _grid_after(self, tick: float, now: float) -> float:
        """The first tick of the fixed-rate grid after ``tick`` that is not past (missed ones are skipped).

        The rate is the shortest interval among the waits now sharing the poll.
        """
        interval = min(w.wait.poll_interval for w in self._waiters)
        return tick + interval * max(1, math.ceil((now - tick) / interval - 1e-9))

    async def _sleep_until(self, moment: float) -> bool:
        """Sleep until ``moment``; ``False`` if a joining wait cut the sleep short.

        The join cancels this poll's own task while (and only while) it sleeps: no helper task or
        event per sleep, which matters when a triggerer holds thousands of polls.
        """
        delay = moment - _clock.now()
        if delay <= 0:
            return True
        self._sleeping = True
        try:
            await _clock.asleep(delay)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._woken or task is None or task.cancelling() > 1:
                raise  # cancelled for real (the last wait left, or the loop is closing)
            task.uncancel()
            return False
        finally:
            self._sleeping = False
            self._woken = False
        return True


_registries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, SharedPoll[Any]]] = (
    weakref.WeakKeyDictionary()
)


async def wait_shared(key: Hashable, read: Read[T], wait: Wait[T], log: Any) -> WaitOutcome[T]:
    """Wait on the resource ``key`` names, joining its poll or starting it with ``read``."""
    registry = _registries.setdefault(asyncio.get_running_loop(), {})
    poll = registry.get(key)
    if poll is None:
        poll = registry[key] = SharedPoll(key, read, registry)
    return await poll.wait(wait, log)


def polls_in_loop() -> int:
    """How many shared polls the running loop holds (for tests and benchmarks)."""
    return len(_registries.get(asyncio.get_running_loop(), {}))
