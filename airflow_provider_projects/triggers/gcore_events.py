"""The event-driven watch on a Gcore project's lock, for an ``AssetWatcher``.

"Run this DAG each time project X is unlocked": :class:`GcoreProjectUnlockedEventTrigger` joins
the same poll of the project as any wait on it (``polling/``) and fires on each observed
locked -> unlocked transition. :class:`LockWatch` judges the polls, free of I/O; the trigger does
what needs I/O: the asset state store, reading the connection again, the events.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_projects import _clock, defaults, validation
from airflow_provider_projects.errors import NotFoundError, ProjectsApiError
from airflow_provider_projects.models.gcore import GcoreProject, GcoreProjectLock, GcoreTask
from airflow_provider_projects.polling.listeners import WatchListener
from airflow_provider_projects.state_stores import StateStore
from airflow_provider_projects.triggers._hooks import forget_hook, trigger_hook
from airflow_provider_projects.triggers._project_locks import joined_account
from airflow_provider_projects.waiting import MAX_WATCH_PAUSE, TRANSIENT_ERRORS, PollTolerance


@dataclass(frozen=True)
class Locked:
    """A poll found the project locked by a task the watch had not seen holding it."""

    holder: str


@dataclass(frozen=True)
class Unlocked:
    """A poll found the project unlocked after one found it locked by ``holder``."""

    holder: str
    project: GcoreProject


@dataclass(frozen=True)
class Refused:
    """A poll was refused (401, 403, 404) or the connection could not be read: read it again."""


Notice = Locked | Unlocked | Refused


class LockWatch:
    """Judges a watched project's polls: edges, failures, and the pause the watch wants next.

    Failed polls never end the watch (ending would just make the triggerer start it again at
    once): up to ``max_consecutive_errors`` transient failures in a row are logged as warnings;
    beyond that, or after a 401/403/404, each failure is logged as an error with the time of the
    next poll, and the pause doubles up to ten minutes.
    """

    def __init__(self, what: str, poll_interval: float, tolerance: PollTolerance, holder: str | None) -> None:
        self.what = what
        self.base_interval = poll_interval
        self.poll_interval = poll_interval
        self.tolerance = tolerance
        #: The task last seen holding the lock (``None``: unlocked as last seen).
        self.holder = holder

    def observe(self, outcome: GcoreProjectLock | ProjectsApiError) -> Notice | None:
        if isinstance(outcome, ProjectsApiError):
            return self._failed(outcome)
        self.tolerance.failures = 0  # a healthy poll ends a run of failures
        self.poll_interval = self.base_interval
        task_id = outcome.project.task_id
        if task_id is not None and task_id != self.holder:
            self.holder = task_id
            return Locked(task_id)
        if task_id is None and self.holder is not None:
            ended, self.holder = self.holder, None
            return Unlocked(ended, outcome.project)
        return None

    def _failed(self, error: ProjectsApiError) -> Notice | None:
        ending = self.tolerance.judge(error, self.what)  # counts transient failures, ``None`` within the tolerance
        # After judge (which counts transient failures): counts the others, so the lines below are right.
        self.poll_interval = self.tolerance.watch_pause(error, self.base_interval)
        if not isinstance(error, TRANSIENT_ERRORS):
            # 401, 403, 404 or an unreadable connection: say the pause and why, or the watch looks stuck.
            self.tolerance.log.error(
                "Polling %s failed (%d in a row) and polling again cannot fix it: %s. Still watching: the "
                "connection is read again, and the next poll is in %.0f s (the pause doubles with each such "
                "failure in a row, up to %.0f s)",
                self.what,
                self.tolerance.failures,
                error,
                self.poll_interval,
                MAX_WATCH_PAUSE,
            )
            return Refused()
        if ending is not None:
            self.tolerance.log.error(
                "Polling %s failed (%d in a row, more than the %d tolerated): %s. Still watching: the next poll "
                "is in %.0f s (the pause doubles with each failure past the tolerance, up to %.0f s)",
                self.what,
                self.tolerance.failures,
                self.tolerance.max_consecutive_errors,
                error,
                self.poll_interval,
                MAX_WATCH_PAUSE,
            )
        return None


class GcoreProjectUnlockedEventTrigger(BaseEventTrigger):
    """Fires once each time a Gcore project goes from locked to unlocked; for an ``AssetWatcher``.

    Airflow keeps an asset watcher's trigger in its database while the asset is watched, and the
    triggerer starts ``run()`` again whenever it returns or raises. A trigger that fired because
    the project *is* unlocked would therefore fire again after every restart, starting a DAG run
    every few seconds while nothing is happening. This one is edge-triggered instead: ``run()``
    never returns; it remembers the task holding the lock and yields one event when a poll finds
    the project unlocked after a poll found it locked. A project that is unlocked when the watch
    starts fires nothing; a lock that starts and ends between two polls goes unseen.

    The lock holder is also written to the asset's state store (Airflow 3.3+, when the trigger
    watches exactly one asset), so a lock that clears while the triggerer restarts still fires
    once. Without a store the memory lives in the running trigger only.

    The event payload is ``{"status": "unlocked", "project_id", "project", "lock_task"}``:
    ``project`` is the unlocked project, ``lock_task`` the task that held the lock as a dict (its
    ``state`` says whether it ended in ``ERROR``), or ``None`` if it could not be read.

    Failed polls never end the watch: see :class:`LockWatch`. After a 401/403/404 the connection
    is read again, so a fixed key is picked up without a restart.

    :param project_id: the Gcore project id.
    :param gcore_conn_id: the ``gcore`` connection (only its id is serialized).
    :param poll_interval: seconds between polls (default 10; Gcore recommends 5-30).
    :param max_consecutive_errors: failed polls in a row logged as warnings before backing off.
    """

    def __init__(
        self,
        *,
        project_id: int | str,
        gcore_conn_id: str = "gcore_default",
        poll_interval: float = defaults.POLL_INTERVAL,
        max_consecutive_errors: int = defaults.MAX_CONSECUTIVE_ERRORS,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.project_id = validation.gcore_project_id(project_id)
        self.gcore_conn_id = gcore_conn_id
        self.poll_interval = validation.positive_seconds(poll_interval, "poll_interval")
        self.max_consecutive_errors = validation.error_count(max_consecutive_errors, "max_consecutive_errors")

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "project_id": self.project_id,
            "gcore_conn_id": self.gcore_conn_id,
            "poll_interval": self.poll_interval,
            "max_consecutive_errors": self.max_consecutive_errors,
        }

    @property
    def state_key(self) -> str:
        """The asset state store key holding the lock holder this watch last saw."""
        return f"gcore_lock_task:{self.gcore_conn_id}:{self.project_id}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        what = f"Gcore project {self.project_id}"
        store = StateStore.of_watched_asset(self)
        recalled = await store.aget(self.state_key)
        holder = recalled if isinstance(recalled, str) and recalled else None
        if holder is not None:
            self.log.info("%s was locked by task %s when this watch last ran", what, holder)
        watch = LockWatch(what, self.poll_interval, PollTolerance(self.max_consecutive_errors, log=self.log), holder)
        while True:
            # aclosing: a watch cancelled while it hands out an event leaves the poll at once.
            async with aclosing(self._notices(watch)) as notices:
                async for notice in notices:
                    if isinstance(notice, Locked):
                        self.log.info("%s is locked by task %s", what, notice.holder)
                        await store.aset(self.state_key, notice.holder)
                    else:
                        yield await self._unlocked_event(notice)
                        await store.adelete(self.state_key)
            # The key was refused: read the connection again after the watch's pause.
            forget_hook(self.gcore_conn_id)
            await _clock.asleep(watch.poll_interval)

    async def _notices(self, watch: LockWatch) -> AsyncGenerator[Locked | Unlocked, None]:
        """The watch's notices from the shared polls of the project, until the connection is refused."""
        hook = trigger_hook(self.gcore_conn_id)
        try:
            settings = await hook.asettings()
        except ProjectsApiError as error:  # a missing or malformed connection: as a refused poll
            watch.observe(error)
            return
        listener = WatchListener(watch, self.project_id)
        # The holder is read here, at the unlock (not by the polls): the event says how it ended.
        async with joined_account(hook, settings.fingerprint(), self.project_id, listener, read_holder=False):
            while not isinstance(notice := await listener.next_notice(), Refused):
                yield notice

    async def _unlocked_event(self, notice: Unlocked) -> TriggerEvent:
        what, holder = f"Gcore project {self.project_id}", notice.holder
        lock_task: GcoreTask | None = None
        try:
            lock_task = await trigger_hook(self.gcore_conn_id).aget_task(holder)
            self.log.info("%s is unlocked: task %s, which held the lock, is %s", what, holder, lock_task.state)
        except NotFoundError:
            # Said apart from a failed read: a task Gcore no longer knows tells nothing of its end.
            self.log.info("%s is unlocked; task %s, which held the lock, could not be found (HTTP 404)", what, holder)
        except ProjectsApiError as error:
            self.log.warning("%s is unlocked; task %s, which held the lock, could not be read: %s", what, holder, error)
        return TriggerEvent(  # type: ignore[no-untyped-call]
            {
                "status": "unlocked",
                "project_id": self.project_id,
                "project": notice.project.to_xcom(),
                "lock_task": lock_task.to_xcom() if lock_task is not None else None,
            }
        )
