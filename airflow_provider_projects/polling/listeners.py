"""The two kinds of listener on a poll (see ``driver.py``): a wait that ends, and a watch that never does."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Hashable
from typing import Any, Generic, Protocol, TypeVar

from airflow_provider_projects.models.base import ApiModel
from airflow_provider_projects.waiting import Wait, WaitOutcome

M = TypeVar("M", bound=ApiModel)


class WaitListener(Generic[M]):
    """A :class:`~airflow_provider_projects.waiting.Wait` on a poll: ``done`` holds its outcome."""

    def __init__(self, wait: Wait[M], subject: Hashable, log: Any) -> None:
        self.wait = wait
        self.subject = subject
        #: The trigger's own logger, so progress lines land in that task's log.
        self.log = log
        self.done: asyncio.Future[WaitOutcome[M]] = asyncio.get_running_loop().create_future()

    @property
    def poll_interval(self) -> float:
        return self.wait.poll_interval

    @property
    def deadline(self) -> float:
        return self.wait.deadline

    def hear(self, outcome: Any, now: float) -> bool:
        verdict = self.wait.observe(outcome, now)
        if isinstance(verdict, WaitOutcome):
            if not self.done.done():
                self.done.set_result(verdict)
            return True
        line = self.wait.progress(now)
        if line is not None:
            self.log.info("%s", line)
        return False

    def fail(self, error: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(error)


class Watch(Protocol):
    """The sans-I/O judge of a watch that never ends: which outcomes are worth telling its trigger."""

    @property
    def poll_interval(self) -> float: ...

    def observe(self, outcome: Any) -> Any | None:
        """Judge one outcome; a notice for the trigger, or ``None`` when there is nothing to tell."""
        ...


class WatchListener:
    """A :class:`Watch` on a poll: what it has to tell queues up for its trigger's :meth:`next_notice`."""

    deadline = math.inf

    def __init__(self, watch: Watch, subject: Hashable) -> None:
        self.watch = watch
        self.subject = subject
        self._notices: asyncio.Queue[Any] = asyncio.Queue()

    @property
    def poll_interval(self) -> float:
        return self.watch.poll_interval

    def hear(self, outcome: Any, now: float) -> bool:
        notice = self.watch.observe(outcome)
        if notice is not None:
            self._notices.put_nowait(notice)
        return False

    def fail(self, error: BaseException) -> None:
        self._notices.put_nowait(error)

    async def next_notice(self) -> Any:
        """The next notice the watch gave; raises the poll's own failure."""
        notice = await self._notices.get()
        if isinstance(notice, BaseException):
            raise notice
        return notice
