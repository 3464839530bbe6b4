"""Lock waits on Gcore projects, per account: one GET per project, or pages of the projects list.

Every deferred wait for a project's lock (the unlocked sensor, the replace operator, the asset
watch) joins its connection's :class:`Account` (same base URL and key) in the triggerer. The
account serves its waits one of two ways, whichever sends fewer requests:

- a poll per project (``GET /cloud/v1/projects/{id}``), at the shortest interval among that
  project's waits: ``sum(1 / interval)`` requests per second;
- one poll of the projects list (``GET /cloud/v1/projects?limit=1000&offset=...``), whose pages
  carry every project's ``task_id`` lock, at the shortest interval among all the account's waits:
  ``pages / interval`` requests per second, where ``pages`` comes from the list's ``count``.

Three waits in an account of 5,000 projects stay three GETs; a thousand waits in an account of a
thousand projects are one page per interval. The count is learned with a one-project page
(``limit=1``) once two projects are waited on, and again from every page read. A project missing
from the pages read is read with a GET, so a project that is gone ends only its own waits, with
the not-found error naming it. Pages hold projects, not tasks: the task that held a lock is read
by each wait that wants it, once, when its lock clears.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final

from airflow_provider_projects import _clock
from airflow_provider_projects._loop_local import LoopLocal
from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.hooks.gcore import GcoreHook
from airflow_provider_projects.models.gcore import GcoreProject, GcoreProjectLock, GcoreProjectsPage, GcoreTask
from airflow_provider_projects.polling.driver import Listener, Poll
from airflow_provider_projects.triggers._project_sources import PAGE_SIZE, PageSource, ProjectSource
from airflow_provider_projects.triggers._sources import Reader, task_or_none
from airflow_provider_projects.waiting import PROGRESS_EVERY

#: A count older than this is asked for again before it decides anything.
COUNT_FRESH_FOR: Final = 300.0
#: The list must cost less than this share of the per-project GETs to be chosen, and more than
#: their cost to be left: waits that come and go around the break-even do not flip the account.
SWITCH_MARGIN: Final = 0.8
_LIST: Final = "projects list"


@dataclass(eq=False)
class _Project:
    """One project's waits (each with whether it wants the lock holder read) and its lock as seen."""

    listeners: dict[Listener, bool] = field(default_factory=dict)
    holder_id: str | None = None
    holder_since: float = 0.0
    holder: GcoreTask | None = None

    @property
    def wants_holder(self) -> bool:
        return any(self.listeners.values())

    @property
    def poll_interval(self) -> float:
        """The shortest interval its waits asked for when they joined (a project has few waits)."""
        return min(listener.poll_interval for listener in self.listeners)


class _Intervals:
    """How many projects are polled at each interval: what planning needs, kept as waits come and go.

    Thousands of waits joining one by one must not each sum over every project: this keeps the
    counts per interval (a handful of distinct values), so a plan costs as many steps as those.
    """

    def __init__(self) -> None:
        self._counts: Counter[float] = Counter()

    def change(self, before: float | None, after: float | None) -> None:
        if before is not None:
            self._counts[before] -= 1
            if not self._counts[before]:
                del self._counts[before]
        if after is not None:
            self._counts[after] += 1

    def shortest(self) -> float:
        return min(self._counts)

    def requests_per_second(self) -> float:
        """What a GET per project per interval costs."""
        return sum(count / interval for interval, count in self._counts.items())


class Account:
    """The lock waits of one connection in one event loop, and the polls that serve them."""

    def __init__(self, hook: GcoreHook, key: Hashable, registry: dict[Hashable, Account]) -> None:
        self.hook = hook
        self._key = key
        self._registry = registry
        self.projects: dict[int, _Project] = {}
        self._intervals = _Intervals()
        self._polls: dict[Hashable, Poll] = {}
        #: Whether the list serves every wait (else a poll per project).
        self.listing = False
        self.count: int | None = None
        self._counted_at = -math.inf
        self._counting: asyncio.Task[None] | None = None

    # -- waits joining and leaving ------------------------------------------------------------------

    def attach(self, project_id: int, listener: Listener, *, read_holder: bool) -> None:
        project = self.projects.get(project_id)
        if project is None:
            project = self.projects[project_id] = _Project()
        before = project.poll_interval if project.listeners else None
        project.listeners[listener] = read_holder
        self._intervals.change(before, project.poll_interval)
        self._poll_for(project_id).attach(listener)
        self.plan()

    def detach(self, project_id: int, listener: Listener) -> None:
        project = self.projects[project_id]
        before = project.poll_interval
        del project.listeners[listener]
        self._intervals.change(before, project.poll_interval if project.listeners else None)
        poll = self._polls.get(_LIST if self.listing else project_id)
        if poll is not None:
            poll.detach(listener)
        if not project.listeners:
            del self.projects[project_id]
        if not self.projects:
            self._close()
        else:
            self.plan()

    def _close(self) -> None:
        if self._registry.get(self._key) is self:
            del self._registry[self._key]
        if self._counting is not None:
            self._counting.cancel()

    def _poll_for(self, project_id: int, first_read_at: float | None = None) -> Poll:
        key: Hashable = _LIST if self.listing else project_id
        poll = self._polls.get(key)
        if poll is None:
            source = PageSource(self) if self.listing else ProjectSource(self, project_id)
            poll = self._polls[key] = Poll(key, source, self._polls, first_read_at=first_read_at)
        return poll

    # -- which way serves the waits -----------------------------------------------------------------

    def plan(self) -> None:
        """Serve the waits from the list or by project, whichever costs fewer requests per second."""
        if len(self.projects) < 2:
            self._serve(listing=False)
            return
        if _clock.now() - self._counted_at > COUNT_FRESH_FOR:
            self._count_soon()
        if self.count is None:  # not known yet, or the list could not be read: a GET per project
            return
        pages = max(1, math.ceil(self.count / PAGE_SIZE))
        by_list = pages / self._intervals.shortest()
        by_project = self._intervals.requests_per_second()
        if by_list < SWITCH_MARGIN * by_project:
            self._serve(listing=True)
        elif by_list > by_project:
            self._serve(listing=False)

    def _serve(self, *, listing: bool) -> None:
        if listing == self.listing:
            return
        moving = [(project_id, listener) for project_id, p in self.projects.items() for listener in p.listeners]
        for project_id, listener in moving:
            poll = self._polls.get(_LIST if self.listing else project_id)
            if poll is not None:
                poll.detach(listener)
        self.listing = listing
        for project_id, listener in moving:  # they have just been polled: the new polls wait an interval
            self._poll_for(project_id, _clock.now() + listener.poll_interval).attach(listener)

    def saw_count(self, count: int) -> None:
        """The number of projects in the account, from a page: plan again once the current poll is done."""
        changed = count != self.count
        self.count, self._counted_at = count, _clock.now()
        if changed:
            asyncio.get_running_loop().call_soon(self.plan)

    def _count_soon(self) -> None:
        if self._counting is None or self._counting.done():
            self._counting = asyncio.get_running_loop().create_task(self._count())

    async def _count(self) -> None:
        """One page of one project: its ``count`` is the size of the account."""
        try:
            page = await Reader(self.hook, "/cloud/v1/projects?limit=1", GcoreProjectsPage)()
        except ProjectsApiError:
            # The waits go on by project (their own polls report what is wrong), and the list is
            # not asked again for a while: a key that may read projects but not list them, or a
            # list that fails, must not cost a request per wait that joins.
            self.count, self._counted_at = None, _clock.now()
            self._serve(listing=False)
            return
        self.saw_count(page.count)
        if self.projects:
            self.plan()

    # -- what the polls read ------------------------------------------------------------------------

    async def lock_of(self, project: GcoreProject, *, read_holder: bool) -> GcoreProjectLock:
        """The project and its lock holder as far as known; the holder read here only if allowed and wanted."""
        # Its waits may have left while it was read: then there is nothing to track, nobody to hear it.
        state = self.projects.get(project.id) or _Project()
        now = _clock.now()
        reading = read_holder and state.wants_holder
        held_long = now - state.holder_since >= PROGRESS_EVERY
        if project.task_id is not None and project.task_id != state.holder_id:
            state.holder_id, state.holder, state.holder_since = project.task_id, None, now
        elif project.task_id is not None and reading and state.holder is None and held_long:
            state.holder = await task_or_none(self.hook, project.task_id)
        elif project.task_id is None and state.holder_id is not None:
            # Read once more: its state says whether it ended in ERROR. Unread (by the list, or the
            # read failed), what was seen while it held the lock would be stale: the waits that
            # want the holder read it themselves.
            state.holder = await task_or_none(self.hook, state.holder_id) if reading else None
            state.holder_id = None
        # Both parts were validated as they were read: no second validation per poll.
        return GcoreProjectLock.model_construct(project=project, holder=state.holder)


_accounts: LoopLocal[dict[Hashable, Account]] = LoopLocal(dict)


class joined_account:  # lower case: it reads as a function, ``async with joined_account(...)``
    """``listener`` waiting on ``project_id``'s lock in the account of ``hook`` (same base URL and key)."""

    _account: Account  # the one it joined: set on entering

    def __init__(
        self,
        hook: GcoreHook,
        fingerprint: Hashable,
        project_id: int,
        listener: Listener,
        *,
        read_holder: bool,
    ) -> None:
        self._hook = hook
        self._fingerprint = fingerprint
        self._project_id = project_id
        self._listener = listener
        self._read_holder = read_holder

    async def __aenter__(self) -> None:
        registry = _accounts.get()
        account = registry.get(self._fingerprint)
        if account is None:
            account = registry[self._fingerprint] = Account(self._hook, self._fingerprint, registry)
        account.attach(self._project_id, self._listener, read_holder=self._read_holder)
        self._account = account

    async def __aexit__(self, *exc_info: object) -> None:
        self._account.detach(self._project_id, self._listener)
