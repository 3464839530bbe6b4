"""Deferrable waits on Gcore locks: one module for both sensors and the replace operator.

Triggers only read (``GET``); every write stays on the worker. Their kwargs are JSON-safe and
hold a connection id, never a key: the triggerer fetches the connection itself. The deadline is
an absolute wall-clock time, so a trigger rebuilt from ``serialize()`` after a triggerer restart
continues the same wait instead of starting a new one. Waits on one resource in one triggerer
share its poll (``shared_polls.py``); each still has its own deadline, error budget and event.

:class:`GcoreProjectUnlockedEventTrigger` is the event-driven variant for an ``AssetWatcher``
("run this DAG when project X is unlocked"): it has no deadline and fires on each observed
locked -> unlocked transition.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, Final, TypeVar

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_projects import _clock, defaults, validation
from airflow_provider_projects.errors import AuthenticationError, ConnectionSetupError, ProjectsApiError
from airflow_provider_projects.hooks.gcore import GcoreHook, project_path, task_path, task_wait
from airflow_provider_projects.models.base import ApiModel
from airflow_provider_projects.models.gcore import GcoreProject, GcoreProjectLock, GcoreTask
from airflow_provider_projects.shared_polls import wait_shared
from airflow_provider_projects.state_stores import StateStore
from airflow_provider_projects.waiting import (
    PROGRESS_EVERY,
    TRANSIENT_ERRORS,
    PollTolerance,
    Wait,
    WaitOutcome,
)

T = TypeVar("T", bound=ApiModel)


#: How long the triggers of one event loop share a hook (its connection read, settings and HTTP
#: core) per connection id: a triggerer starting ten thousand waits reads each connection once,
#: and a changed connection is picked up by waits that start a minute later at the latest.
HOOK_REUSE_SECONDS: Final = 60.0
_hooks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[float, GcoreHook]]] = (
    weakref.WeakKeyDictionary()
)


def shared_hook(conn_id: str) -> GcoreHook:
    """The running loop's hook for ``conn_id``, shared by the waits that start within a minute."""
    hooks = _hooks.setdefault(asyncio.get_running_loop(), {})
    now = _clock.now()
    made = hooks.get(conn_id)
    if made is None or now - made[0] > HOOK_REUSE_SECONDS:
        made = hooks[conn_id] = (now, GcoreHook(conn_id))
    return made[1]


def forget_hook(conn_id: str) -> None:
    """Read the connection again for the next wait: it was refused (the key may be fixed meanwhile)."""
    _hooks.get(asyncio.get_running_loop(), {}).pop(conn_id, None)


class GcoreWaitTrigger(BaseTrigger):
    """Polls Gcore until a condition holds; subclasses say what to read and when it is done.

    Its event is a :class:`WaitOutcome` (``WaitOutcome.to_event``) plus ``deadline``: the resumed
    task needs the deadline, and ``dag.test()`` (Airflow 3.3) drops the deferral's own kwargs.
    """

    def __init__(
        self,
        *,
        deadline: float,
        gcore_conn_id: str = "gcore_default",
        poll_interval: float = defaults.POLL_INTERVAL,
        max_consecutive_errors: int = defaults.MAX_CONSECUTIVE_ERRORS,
        first_poll_at: float | None = None,
        failed_polls: int = 0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.deadline = float(deadline)
        self.gcore_conn_id = gcore_conn_id
        # Checked here too: a trigger polling back to back would hammer an API for hours.
        self.poll_interval = validation.positive_seconds(poll_interval, "poll_interval")
        self.max_consecutive_errors = validation.error_count(max_consecutive_errors, "max_consecutive_errors")
        #: Failed polls in a row before this trigger started (a sensor's failed poke on the worker).
        self.failed_polls = validation.error_count(failed_polls, "failed_polls")
        #: Wall-clock time of the first poll (``None``: at once). A sensor that has just polled on
        #: the worker sets it one interval ahead: polling again at once would repeat its request,
        #: and an event fired seconds after deferring can meet Airflow's stale "defer-exit success"
        #: executor event, which fails a task resumed into QUEUED (apache/airflow#67287).
        self.first_poll_at = None if first_poll_at is None else float(first_poll_at)

    def _common_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "deadline": self.deadline,
            "gcore_conn_id": self.gcore_conn_id,
            "poll_interval": self.poll_interval,
            "max_consecutive_errors": self.max_consecutive_errors,
        }
        if self.first_poll_at is not None:
            kwargs["first_poll_at"] = self.first_poll_at
        if self.failed_polls:
            kwargs["failed_polls"] = self.failed_polls
        return kwargs

    def _tolerance(self) -> PollTolerance:
        return PollTolerance(self.max_consecutive_errors, failures=self.failed_polls, log=self.log)

    async def _wait(
        self, hook: GcoreHook, path: str, make_read: Callable[[], Callable[[], Awaitable[T]]], wait: Wait[T]
    ) -> WaitOutcome[T]:
        """Join the shared poll of ``path`` (or start it with ``make_read()``) and wait for the outcome."""
        try:
            settings = await hook.asettings()
        except ProjectsApiError as error:  # a missing or malformed connection ends the wait, typed
            return WaitOutcome("error", error=error)
        if self.first_poll_at is not None and (delay := min(self.first_poll_at, self.deadline) - _clock.now()) > 0:
            await _clock.asleep(delay)
        return await wait_shared((settings.fingerprint(), path), make_read(), wait, self.log)

    def _event(self, outcome: WaitOutcome[Any], **extra: Any) -> TriggerEvent:
        if isinstance(outcome.error, AuthenticationError | ConnectionSetupError):
            forget_hook(self.gcore_conn_id)
        return TriggerEvent({**outcome.to_event(), **extra, "deadline": self.deadline})  # type: ignore[no-untyped-call]


class GcoreTaskTrigger(GcoreWaitTrigger):
    """Waits until a Gcore task is ``FINISHED`` or ``ERROR`` (``GET /cloud/v1/tasks/{id}``).

    The event carries the final task either way: the waiting side decides what ``ERROR`` means.
    """

    def __init__(self, *, gcore_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gcore_task_id = gcore_task_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "gcore_task_id": self.gcore_task_id,
            **self._common_kwargs(),
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = shared_hook(self.gcore_conn_id)
        wait = task_wait(
            self.gcore_task_id,
            deadline=self.deadline,
            poll_interval=self.poll_interval,
            failed_polls=self.failed_polls,
            max_consecutive_errors=self.max_consecutive_errors,
            log=self.log,
        )

        def make_read() -> Callable[[], Awaitable[GcoreTask]]:
            poll: list[Callable[[], Awaitable[GcoreTask]]] = []

            async def read() -> GcoreTask:
                if not poll:
                    poll.append(await hook.apoller(task_path(self.gcore_task_id), GcoreTask))
                return await poll[0]()

            return read

        outcome = await self._wait(hook, task_path(self.gcore_task_id), make_read, wait)
        yield self._event(outcome)


class GcoreProjectUnlockedTrigger(GcoreWaitTrigger):
    """Waits until a Gcore project's ``task_id`` is null (no task holds a lock on it).

    ``lock_task_id`` is the lock holder seen before deferring. The event's value is a
    :class:`GcoreProjectLock`: the unlocked project and the task that held the lock, read once
    more when the lock cleared so that its ``state`` says whether it ended in ``ERROR``.
    """

    def __init__(self, *, project_id: int, lock_task_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_id = int(project_id)
        self.lock_task_id = lock_task_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "project_id": self.project_id,
            "lock_task_id": self.lock_task_id,
            **self._common_kwargs(),
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = shared_hook(self.gcore_conn_id)
        wait: Wait[GcoreProjectLock] = Wait(
            what=f"the lock on Gcore project {self.project_id}",
            is_done=lambda lock: lock.project.task_id is None,
            deadline=self.deadline,
            poll_interval=self.poll_interval,
            tolerance=self._tolerance(),
        )

        def make_read() -> Callable[[], Awaitable[GcoreProjectLock]]:
            return ProjectLockReader(hook, self.project_id, self.lock_task_id)

        outcome = await self._wait(hook, project_path(self.project_id), make_read, wait)
        if outcome.value is not None and outcome.value.holder is None and self.lock_task_id is not None:
            # The shared poll never saw a holder, but this wait's sensor did before deferring.
            holder = await _task_or_none(hook, self.lock_task_id)
            outcome = replace(outcome, value=outcome.value.model_copy(update={"holder": holder}))
        yield self._event(outcome)


class ProjectLockReader:
    """Reads a project for a shared poll; its lock holder once the lock has lasted a while, and at the end.

    The holder's type and state are read once per holder after it has held the lock for
    :data:`~airflow_provider_projects.waiting.PROGRESS_EVERY` seconds, in time for the first
    progress line that can use them: most locks end sooner, and a read per new lock would double a
    busy triggerer's requests. When the lock clears, the last holder is read once more, so the
    event says whether it ended in ``ERROR``.
    """

    def __init__(self, hook: GcoreHook, project_id: int, holder_id: str | None = None) -> None:
        self._hook = hook
        self._project_id = project_id
        self._poll: Callable[[], Awaitable[GcoreProject]] | None = None
        self._holder_id = holder_id
        self._holder_since = _clock.now()
        self._holder: GcoreTask | None = None

    async def __call__(self) -> GcoreProjectLock:
        if self._poll is None:
            self._poll = await self._hook.apoller(project_path(self._project_id), GcoreProject)
        project = await self._poll()
        now = _clock.now()
        if project.task_id is not None and project.task_id != self._holder_id:
            self._holder_id, self._holder, self._holder_since = project.task_id, None, now
        elif project.task_id is not None and self._holder is None and now - self._holder_since >= PROGRESS_EVERY:
            self._holder = await _task_or_none(self._hook, project.task_id)
        elif project.task_id is None and self._holder_id is not None:
            self._holder = await _task_or_none(self._hook, self._holder_id) or self._holder
            self._holder_id = None
        # Both parts were validated as they were read: no second validation per poll.
        return GcoreProjectLock.model_construct(project=project, holder=self._holder)


async def _task_or_none(hook: GcoreHook, task_id: str) -> GcoreTask | None:
    """A lock holder's task, or ``None`` if it cannot be read (the wait goes on without its details)."""
    try:
        return await hook.aget_task(task_id)
    except ProjectsApiError:
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

    Failed polls never end the watch (ending would just make the triggerer start it again at
    once): up to ``max_consecutive_errors`` transient failures in a row are logged as warnings;
    beyond that, or after a 401/403/404, each failure is logged as an error and the pause doubles
    up to ten minutes. After a 401/403/404 the connection is read again, so a fixed key is picked
    up without a restart.

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
        store = StateStore(getattr(self, "asset_state_store", None), what="asset state store")  # Airflow 3.3+
        recalled = await store.aget(self.state_key)
        holder = recalled if isinstance(recalled, str) and recalled else None
        if holder is not None:
            self.log.info("%s was locked by task %s when this watch last ran", what, holder)
        tolerance = PollTolerance(self.max_consecutive_errors, log=self.log)
        hook = GcoreHook(self.gcore_conn_id)
        while True:
            try:
                found: GcoreProject | ProjectsApiError = await hook.aget_project(self.project_id)
            except ProjectsApiError as error:
                found = error
            ending = tolerance.judge(found, what)
            if isinstance(found, ProjectsApiError):
                if ending is not None:
                    self.log.error(
                        "Polling %s failed (%d in a row); still watching: %s", what, tolerance.failures, found
                    )
                if not isinstance(found, TRANSIENT_ERRORS):
                    hook = GcoreHook(self.gcore_conn_id)  # read the connection again: the key may have been fixed
            elif found.task_id is not None and found.task_id != holder:
                self.log.info("%s is locked by task %s", what, found.task_id)
                holder = found.task_id
                await store.aset(self.state_key, holder)
            elif found.task_id is None and holder is not None:
                lock_task = await _task_or_none(hook, holder)
                self.log.info("%s is unlocked (task %s ended)", what, holder)
                yield TriggerEvent(  # type: ignore[no-untyped-call]
                    {
                        "status": "unlocked",
                        "project_id": self.project_id,
                        "project": found.to_xcom(),
                        "lock_task": lock_task.to_xcom() if lock_task is not None else None,
                    }
                )
                holder = None
                await store.adelete(self.state_key)
            await _clock.asleep(
                tolerance.watch_pause(found if isinstance(found, ProjectsApiError) else None, self.poll_interval)
            )
