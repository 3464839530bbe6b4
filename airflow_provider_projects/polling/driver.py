"""The one async wait driver: one poll per source per event loop, heard by every listener on it.

A triggerer runs every deferred wait of a deployment in one event loop. Every trigger's wait
joins a :class:`Poll` through :func:`joined`: waits on the same source (same API base URL, same
key, same resource) share one poll, which reads the source once per interval and hands each
listener its outcome. A listener is a wait with a deadline (:class:`WaitListener`, ending with a
:class:`~airflow_provider_projects.waiting.WaitOutcome`) or a watch that never ends (the asset
watch); each keeps its own deadline, error budget and events. A hundred tasks waiting for one
project's lock cost one request per interval, not a hundred.

A source reads for a set of *subjects* (a task id, a project id) and answers per subject, so one
source may answer many listeners with different subjects at once (a page of a list).

Polls run at a fixed rate, the shortest interval among their listeners, with the phase taken
from the first answer: pausing an interval *after* each answer would poll at
1/(interval + latency). A listener with a deadline gets one extra poll at it. A 429 that reaches
the poll (the HTTP core already waited out what it could) holds every listener until its
``Retry-After`` ends. Nothing here outlives its event loop: the registry is per loop, and a poll
ends with its last listener (a trigger cancelled, timed out or moved to another triggerer leaves
the others running).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Collection, Hashable, Mapping
from typing import Any, Literal, Protocol, TypeVar

from airflow_provider_projects import _clock
from airflow_provider_projects._loop_local import LoopLocal
from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.models.base import ApiModel
from airflow_provider_projects.waiting import retry_pause

M = TypeVar("M", bound=ApiModel)

#: One read: each subject's outcome (a value, or the error that concerns that subject only), or
#: the error of the whole read, which every listener hears.
Heard = Mapping[Hashable, Any] | ProjectsApiError


class Source(Protocol):
    """What a poll reads."""

    async def read(self, subjects: Collection[Hashable]) -> Mapping[Hashable, Any]:
        """Read once for ``subjects``: each subject's value or :class:`ProjectsApiError`.

        Raises :class:`ProjectsApiError` when the whole read failed (a 401, a 429, a timeout).
        """
        ...


class Listener(Protocol):
    """A wait or a watch on one subject of a source."""

    @property
    def subject(self) -> Hashable: ...

    @property
    def poll_interval(self) -> float:
        """How often it wants polls now (a watch backing off after failures asks for fewer)."""
        ...

    @property
    def deadline(self) -> float:
        """When it wants one last poll (``math.inf``: never)."""
        ...

    def hear(self, outcome: Any, now: float) -> bool:
        """Take one poll's outcome for its subject; ``True`` when it is finished and leaves the poll."""
        ...

    def fail(self, error: BaseException) -> None:
        """The poll itself failed (a bug, not an API error): end with ``error``."""
        ...


class Poll:
    """Reads one source for every listener attached to it, until the last one leaves."""

    def __init__(
        self, key: Hashable, source: Source, registry: dict[Hashable, Poll], *, first_read_at: float | None = None
    ) -> None:
        self.key = key
        self._source = source
        self._registry = registry
        #: When to read first (``None``: at once). Listeners moved here from another poll have just
        #: heard an answer, so their new poll waits an interval before asking again.
        self._first_read_at = first_read_at
        #: Listeners in the order they joined (a dict: removing one of thousands is O(1)).
        self._listeners: dict[Listener, None] = {}
        #: "sleeping" between ticks, "woken" once a joining listener cut that sleep short (the
        #: poll's own task is cancelled then), else "awake" (reading, handing out, planning).
        self._state: Literal["awake", "sleeping", "woken"] = "awake"
        #: When the poll wakes next, and the shortest interval it planned that with: a joining
        #: listener wakes it early only if it may need a sooner poll (thousands of listeners joining
        #: one poll must not each make it plan again over all of them).
        self._wake_at = math.inf
        self._shortest = -math.inf
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"poll {key!r:.60}")

    def attach(self, listener: Listener) -> None:
        self._listeners.setdefault(listener)
        sooner = listener.deadline < self._wake_at or listener.poll_interval < self._shortest
        if self._state == "sleeping" and sooner:
            self._state = "woken"
            self._task.cancel()

    def detach(self, listener: Listener) -> None:
        self._listeners.pop(listener, None)
        if not self._listeners:
            self._unregister()
            self._task.cancel()

    def _woken(self) -> bool:
        """Whether a joining listener cut the current sleep short (``attach`` sets it meanwhile)."""
        return self._state == "woken"

    def _unregister(self) -> None:
        if self._registry.get(self.key) is self:
            del self._registry[self.key]

    async def _run(self) -> None:
        tick: float | None = None  # the grid point of the last regular poll
        try:
            if self._first_read_at is not None:
                await self._sleep_until_due(lambda now: self._first_read_at or now)
            while self._listeners:
                asked = list(self._listeners)
                heard = await self._read({listener.subject for listener in asked})
                now = _clock.now()
                tick = now if tick is None else tick  # the phase comes from the first answer
                self._hand_out(asked, heard, now)
                tick = await self._sleep_to_next_poll(tick, hold=now + retry_pause(heard))
        except Exception as error:  # a bug, not an API error: every listener hears of it
            for listener in list(self._listeners):
                listener.fail(error)
        finally:
            self._unregister()

    async def _read(self, subjects: set[Hashable]) -> Heard:
        try:
            return await self._source.read(subjects)
        except ProjectsApiError as error:
            return error

    def _hand_out(self, asked: list[Listener], heard: Heard, now: float) -> None:
        """Each listener the read was for hears its subject's outcome (one that joined meanwhile, the next)."""
        for listener in asked:
            if listener not in self._listeners:  # it left while the read was in flight
                continue
            if listener.hear(heard if isinstance(heard, ProjectsApiError) else heard[listener.subject], now):
                del self._listeners[listener]

    async def _sleep_to_next_poll(self, tick: float, hold: float) -> float:
        """Sleep until the next poll is due; the grid's tick from then on.

        ``hold`` is when a ``Retry-After`` that reached the poll ends: no poll before it.
        """
        next_tick = await self._sleep_until_due(lambda now: max(self._grid_after(tick, now), hold))
        # A regular poll: the grid goes on from it, or starts again after a Retry-After's hold.
        # A poll at a listener's deadline, between ticks, keeps the grid.
        return next_tick if _clock.now() >= next_tick else tick

    async def _sleep_until_due(self, planned: Callable[[float], float]) -> float:
        """Sleep until ``planned(now)`` or the first listener's deadline, whichever is sooner.

        A listener that joins meanwhile may bring either forward, so the plan is made again after
        each join. Returns the last planned moment.
        """
        while True:
            due = planned(_clock.now())
            if not self._listeners or await self._sleep_until(min(due, *(w.deadline for w in self._listeners))):
                return due

    def _grid_after(self, tick: float, now: float) -> float:
        """The first tick of the fixed-rate grid after ``tick`` that is not past (missed ones are skipped).

        The rate is the shortest interval among the listeners now on the poll.
        """
        interval = self._shortest = min(listener.poll_interval for listener in self._listeners)
        return tick + interval * max(1, math.ceil((now - tick) / interval - 1e-9))

    async def _sleep_until(self, moment: float) -> bool:
        """Sleep until ``moment``; ``False`` if a joining listener cut the sleep short.

        The join cancels this poll's own task while (and only while) it sleeps: no helper task or
        event per sleep, which matters when a triggerer holds thousands of polls.
        """
        delay = moment - _clock.now()
        if delay <= 0:
            return True
        self._wake_at = moment
        self._state = "sleeping"
        try:
            await _clock.asleep(delay)
        except asyncio.CancelledError:
            if not self._woken() or self._task.cancelling() > 1:
                raise  # cancelled for real (the last listener left, or the loop is closing)
            self._task.uncancel()
            return False
        finally:
            self._state = "awake"
        return True


_registries: LoopLocal[dict[Hashable, Poll]] = LoopLocal(dict)


class joined:  # lower case: it reads as a function, ``async with joined(...)``
    """``listener`` on the poll of ``key`` (started with ``make_source()`` if there is none) while inside.

    A class, not an ``asynccontextmanager``: a wait still pending when its loop closes is finalised
    after the loop's async generators, and a generator-based manager would complain then.
    """

    _poll: Poll  # the one it joined: set on entering

    def __init__(self, key: Hashable, make_source: Callable[[], Source], listener: Listener) -> None:
        self._key = key
        self._make_source = make_source
        self._listener = listener

    async def __aenter__(self) -> None:
        registry = _registries.get()
        poll = registry.get(self._key)
        if poll is None:
            poll = registry[self._key] = Poll(self._key, self._make_source(), registry)
        poll.attach(self._listener)
        self._poll = poll

    async def __aexit__(self, *exc_info: object) -> None:
        self._poll.detach(self._listener)
