"""Deferrable waits on Gcore locks, for the sensors and the replace operator.

Triggers only read (``GET``); every write stays on the worker. Their kwargs are JSON-safe and
hold a connection id, never a key: the triggerer fetches the connection itself. The deadline is
an absolute wall-clock time, so a trigger rebuilt from ``serialize()`` after a triggerer restart
continues the same wait instead of starting a new one. Waits on one resource in one triggerer
share its poll (``polling/``); each still has its own deadline, error budget and event.

The event-driven watch for an ``AssetWatcher`` is in ``gcore_events.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, TypeVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_projects import _clock, defaults, validation
from airflow_provider_projects.errors import (
    AuthenticationError,
    ConnectionNotFoundError,
    ConnectionSetupError,
    ProjectsApiError,
)
from airflow_provider_projects.hooks.gcore import GcoreHook, task_path, task_wait
from airflow_provider_projects.models.base import ApiModel
from airflow_provider_projects.models.gcore import GcoreProjectLock
from airflow_provider_projects.polling.driver import Listener, joined
from airflow_provider_projects.polling.listeners import WaitListener
from airflow_provider_projects.triggers._hooks import forget_hook, trigger_hook
from airflow_provider_projects.triggers._project_locks import joined_account
from airflow_provider_projects.triggers._sources import TaskSource, task_or_none
from airflow_provider_projects.waiting import PollTolerance, Wait, WaitOutcome

M = TypeVar("M", bound=ApiModel)
#: How a wait joins the poll that serves it: given the connection's fingerprint and its listener.
Join = Callable[[Hashable, Listener], AbstractAsyncContextManager[None]]


class GcoreWaitTrigger(BaseTrigger):
    """Polls Gcore until a condition holds; subclasses say what to read and when it is done.

    Its event is a :class:`WaitOutcome` (``WaitOutcome.to_event``) plus ``deadline``: the resumed
    task needs the deadline, and ``dag.test()`` (Airflow 3.3) drops the deferral's own kwargs.

    :param deadline: wall-clock time (epoch seconds) when the wait gives up.
    :param gcore_conn_id: the ``gcore`` connection (only its id is serialized).
    :param poll_interval: seconds between polls.
    :param max_consecutive_errors: failed polls in a row (5xx, timeouts) ridden out.
    :param first_poll_at: wall-clock time of the first poll (``None``: at once). A sensor that has
        just polled on the worker sets it one interval ahead: polling again at once would repeat its
        request, and an event fired seconds after deferring can meet Airflow's stale "defer-exit
        success" executor event, which fails a task resumed into QUEUED (apache/airflow#67287).
    :param failed_polls: failed polls in a row before this trigger started (a sensor's failed poke
        on the worker counts against the tolerance too).
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
        self.failed_polls = validation.error_count(failed_polls, "failed_polls")
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

    async def _wait(self, hook: GcoreHook, wait: Wait[M], subject: Hashable, join: Join) -> WaitOutcome[M]:
        """Read the connection, then ``join`` the poll that serves ``subject`` and wait for the outcome."""
        try:
            settings = await hook.asettings()
        except ProjectsApiError as error:  # a missing or malformed connection ends the wait, typed
            return WaitOutcome("error", error=error)
        if self.first_poll_at is not None and (delay := min(self.first_poll_at, self.deadline) - _clock.now()) > 0:
            await _clock.asleep(delay)
        listener = WaitListener(wait, subject, self.log)
        async with join(settings.fingerprint(), listener):
            return await listener.done

    def _event(self, outcome: WaitOutcome[Any], **extra: Any) -> TriggerEvent:
        if isinstance(outcome.error, AuthenticationError | ConnectionSetupError | ConnectionNotFoundError):
            forget_hook(self.gcore_conn_id)
        return TriggerEvent({**outcome.to_event(), **extra, "deadline": self.deadline})  # type: ignore[no-untyped-call]


class GcoreTaskTrigger(GcoreWaitTrigger):
    """Waits until a Gcore task is ``FINISHED`` or ``ERROR`` (``GET /cloud/v1/tasks/{id}``).

    The event carries the final task either way: the waiting side decides what ``ERROR`` means.

    :param gcore_task_id: the task's UUID.
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
        hook = trigger_hook(self.gcore_conn_id)
        task_id = self.gcore_task_id
        wait = task_wait(
            task_id,
            deadline=self.deadline,
            poll_interval=self.poll_interval,
            failed_polls=self.failed_polls,
            max_consecutive_errors=self.max_consecutive_errors,
            log=self.log,
        )
        path = task_path(task_id)

        def join(fingerprint: Hashable, listener: Listener) -> AbstractAsyncContextManager[None]:
            return joined((fingerprint, path), lambda: TaskSource(hook, task_id), listener)

        yield self._event(await self._wait(hook, wait, task_id, join))


class GcoreProjectUnlockedTrigger(GcoreWaitTrigger):
    """Waits until a Gcore project's ``task_id`` is null (no task holds a lock on it).

    The event's value is a :class:`GcoreProjectLock`: the unlocked project and the task that held
    the lock, read once more when the lock cleared so that its ``state`` says whether it ended in
    ``ERROR`` (``None`` if it could not be read, or with ``read_holder=False``). The event also
    names that task (``lock_task_id``), so that a resumed task can read it itself. Waits on
    projects of one account share the account's polls (``_project_locks.py``): a poll per
    project, or pages of the projects list where those cost fewer requests.

    :param project_id: the Gcore project id.
    :param lock_task_id: the lock holder seen before deferring.
    :param read_holder: read the task that held the lock once it clears, here in the triggerer (one
        GET per wait). The sensor and the operator pass ``False`` and read it on the worker if they
        need it: a thousand locks clearing at once would otherwise cost the triggerer a thousand
        reads before their events.
    """

    def __init__(
        self, *, project_id: int, lock_task_id: str | None = None, read_holder: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.project_id = int(project_id)
        self.lock_task_id = lock_task_id
        self.read_holder = bool(read_holder)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {"project_id": self.project_id, "lock_task_id": self.lock_task_id}
        if not self.read_holder:  # only when set: kwargs serialized before it existed stay as they were
            kwargs["read_holder"] = False
        return f"{type(self).__module__}.{type(self).__qualname__}", {**kwargs, **self._common_kwargs()}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = trigger_hook(self.gcore_conn_id)
        project_id = self.project_id
        wait: Wait[GcoreProjectLock] = Wait(
            what=f"the lock on Gcore project {project_id}",
            is_done=lambda lock: lock.project.task_id is None,
            deadline=self.deadline,
            poll_interval=self.poll_interval,
            tolerance=self._tolerance(),
        )

        def join(fingerprint: Hashable, listener: Listener) -> AbstractAsyncContextManager[None]:
            return joined_account(hook, fingerprint, project_id, listener, read_holder=self.read_holder)

        outcome = await self._wait(hook, wait, project_id, join)
        holder_id = self.lock_task_id
        if outcome.last_seen is not None and outcome.last_seen.project.task_id is not None:
            holder_id = outcome.last_seen.project.task_id
        if self.read_holder and outcome.value is not None and outcome.value.holder is None and holder_id is not None:
            # The poll did not read the holder (a page of the list holds projects, not tasks), or never
            # saw one while this wait's sensor did before deferring: read it once, now.
            holder = await task_or_none(hook, holder_id)
            outcome = replace(outcome, value=outcome.value.model_copy(update={"holder": holder}))
        yield self._event(outcome, lock_task_id=holder_id)
