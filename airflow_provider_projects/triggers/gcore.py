"""Deferrable waits on Gcore locks: one module for both sensors and the replace operator.

Triggers only read (``GET``); every write stays on the worker. Their kwargs are JSON-safe and
hold a connection id, never a key: the triggerer fetches the connection itself. The deadline is
an absolute wall-clock time, so a trigger rebuilt from ``serialize()`` after a triggerer restart
continues the same wait instead of starting a new one.

:class:`GcoreProjectUnlockedEventTrigger` is the event-driven variant for an ``AssetWatcher``
("run this DAG when project X is unlocked"): it has no deadline and fires on each observed
locked -> unlocked transition.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_projects import validation
from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.waiting import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_POLL_INTERVAL,
    TRANSIENT_ERRORS,
    Poll,
    WaitResult,
    WaitSteps,
    wait_until,
    watch_pause,
)

T = TypeVar("T")


async def run_async(
    steps: WaitSteps[T], poll: Callable[[], Awaitable[T]], sleep: Callable[[float], Awaitable[None]]
) -> WaitResult[T]:
    """Drive a wait in the event loop (the async twin of ``waiting.run_blocking``, I/O only)."""
    step = next(steps)
    while True:
        try:
            if isinstance(step, Poll):
                try:
                    result: T | ProjectsApiError = await poll()
                except ProjectsApiError as error:
                    result = error
                step = steps.send(result)
            else:
                await sleep(step.seconds)
                step = steps.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def error_event(error: ProjectsApiError) -> dict[str, Any]:
    """A JSON-safe event describing a typed error (its text is already free of keys)."""
    attributes = {
        name: value
        for name, value in vars(error).items()
        if name != "message" and (value is None or isinstance(value, str | int | float | bool))
    }
    return {
        "status": "error",
        "error_type": type(error).__name__,
        "message": str(error),
        "http_status": error.status,
        "attributes": attributes,
    }


def error_from_event(event: dict[str, Any]) -> ProjectsApiError:
    """Rebuild the typed error an ``error`` event describes (unknown names give the base class)."""
    from airflow_provider_projects import errors

    error_type = getattr(errors, str(event.get("error_type")), None)
    if not (isinstance(error_type, type) and issubclass(error_type, ProjectsApiError)):
        error_type = ProjectsApiError
    error = error_type.__new__(error_type)
    ProjectsApiError.__init__(error, str(event.get("message", "the wait failed")), status=event.get("http_status"))
    attributes = event.get("attributes")
    if isinstance(attributes, dict):  # api_code, request_id, retry_after, task_id... as the trigger saw them
        vars(error).update({k: v for k, v in attributes.items() if isinstance(k, str) and k != "message"})
    # The subclass's own fields (``retry_after``, ``task_id``...) are not in the event: None, not missing.
    for name, parameter in inspect.signature(error_type.__init__).parameters.items():
        if parameter.kind is parameter.KEYWORD_ONLY and not hasattr(error, name):
            setattr(error, name, None)
    return error


class GcoreWaitTrigger(BaseTrigger):
    """Polls Gcore until a condition holds; subclasses say what to read and when it is done.

    ``clock`` and ``sleep`` are attributes, not kwargs, so tests can replace them without putting
    anything unserializable into ``serialize()``.
    """

    clock: Callable[[], float] = staticmethod(time.time)
    sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)

    def __init__(
        self,
        *,
        deadline: float,
        gcore_conn_id: str = "gcore_default",
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
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

    def _hook(self) -> Any:
        from airflow_provider_projects.hooks.gcore import GcoreHook

        return GcoreHook(self.gcore_conn_id, async_sleep=self.sleep)

    async def _wait(self, poll: Callable[[], Awaitable[T]], is_done: Callable[[T], bool], what: str) -> WaitResult[T]:
        steps = wait_until(
            is_done,
            deadline=self.deadline,
            poll_interval=self.poll_interval,
            clock=self.clock,
            max_consecutive_errors=self.max_consecutive_errors,
            what=what,
            failed_polls=self.failed_polls,
        )
        if self.first_poll_at is not None:
            delay = min(self.first_poll_at, self.deadline) - self.clock()
            if delay > 0:
                await self.sleep(delay)
        return await run_async(steps, poll, self.sleep)

    def _ending(self, result: WaitResult[Any], what: str) -> dict[str, Any] | None:
        """The event for a wait that did not end in ``done`` (``None`` when it did)."""
        if result.status == "timeout":
            return {
                "status": "timeout",
                "message": f"{what} still not clear at the deadline after {result.polls} polls",
            }
        if result.status == "error":
            assert result.error is not None
            return error_event(result.error)
        return None


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
        hook = self._hook()
        what = f"Gcore task {self.gcore_task_id}"
        result = await self._wait(lambda: hook.aget_task(self.gcore_task_id), lambda task: task.finished, what)
        ending = self._ending(result, what)
        if ending is None:
            assert result.value is not None
            ending = {"status": "success", "task": result.value.to_xcom(), "message": f"{what} ended"}
        # The deadline travels with the event: the resumed task needs it, and dag.test() (3.3) drops
        # the deferral's own kwargs.
        ending["deadline"] = self.deadline
        yield TriggerEvent(ending)  # type: ignore[no-untyped-call]


class GcoreProjectUnlockedTrigger(GcoreWaitTrigger):
    """Waits until a Gcore project's ``task_id`` is null (no task holds a lock on it).

    ``lock_task_id`` is the lock holder seen before deferring; when the wait ends, that task is
    read once so the event can say whether it ended in ``ERROR``.
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
        hook = self._hook()
        what = f"the lock on Gcore project {self.project_id}"
        holders: list[str] = [self.lock_task_id] if self.lock_task_id else []

        def unlocked(project: Any) -> bool:
            if project.task_id and project.task_id not in holders:
                holders.append(project.task_id)
            return project.task_id is None

        result = await self._wait(lambda: hook.aget_project(self.project_id), unlocked, what)
        ending = self._ending(result, what)
        if ending is None:
            assert result.value is not None
            ending = {
                "status": "success",
                "project": result.value.to_xcom(),
                "lock_task": None,
                "message": f"{what} cleared",
            }
            if holders:
                ending["lock_task"] = await _final_task(hook, holders[-1])
        # The deadline travels with the event: the resumed task needs it, and dag.test() (3.3) drops
        # the deferral's own kwargs.
        ending["deadline"] = self.deadline
        yield TriggerEvent(ending)  # type: ignore[no-untyped-call]


async def _final_task(hook: Any, task_id: str) -> dict[str, Any] | None:
    """The last lock holder as a dict, or ``None`` if it cannot be read (the wait succeeded anyway)."""
    try:
        return (await hook.aget_task(task_id)).to_xcom()  # type: ignore[no-any-return]
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

    sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)

    def __init__(
        self,
        *,
        project_id: int | str,
        gcore_conn_id: str = "gcore_default",
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.project_id = validation.gcore_project_id(project_id)
        self.gcore_conn_id = gcore_conn_id
        self.poll_interval = validation.positive_seconds(poll_interval, "poll_interval")
        self.max_consecutive_errors = int(max_consecutive_errors)

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

    def _hook(self) -> Any:
        from airflow_provider_projects.hooks.gcore import GcoreHook

        return GcoreHook(self.gcore_conn_id, async_sleep=self.sleep)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        what = f"Gcore project {self.project_id}"
        holder = await self._recall()
        if holder is not None:
            self.log.info("%s was locked by task %s when this watch last ran", what, holder)
        hook: Any = None
        failures = 0
        while True:
            error: ProjectsApiError | None = None
            if hook is None:
                hook = self._hook()
            try:
                project = await hook.aget_project(self.project_id)
            except ProjectsApiError as exc:
                error = exc
                failures += 1
                fatal = not isinstance(exc, TRANSIENT_ERRORS)
                if fatal:
                    hook = None  # read the connection again next time: the key may have been fixed
                if fatal or failures > self.max_consecutive_errors:
                    self.log.error("Polling %s failed (%d in a row); still watching: %s", what, failures, exc)
                else:
                    self.log.warning("Polling %s failed (%d in a row): %s", what, failures, exc)
            else:
                failures = 0
                if project.task_id is not None:
                    if project.task_id != holder:
                        self.log.info("%s is locked by task %s", what, project.task_id)
                        holder = project.task_id
                        await self._remember(holder)
                elif holder is not None:
                    lock_task = await _final_task(hook, holder)
                    self.log.info("%s is unlocked (task %s ended)", what, holder)
                    yield TriggerEvent(  # type: ignore[no-untyped-call]
                        {
                            "status": "unlocked",
                            "project_id": self.project_id,
                            "project": project.to_xcom(),
                            "lock_task": lock_task,
                        }
                    )
                    holder = None
                    await self._forget()
            await self.sleep(
                watch_pause(
                    error,
                    failures,
                    poll_interval=self.poll_interval,
                    max_consecutive_errors=self.max_consecutive_errors,
                )
            )

    # -- the lock holder in the asset state store (best effort: memory is the fallback) ------------

    async def _recall(self) -> str | None:
        store = getattr(self, "asset_state_store", None)  # Airflow 3.3+
        if store is None:
            return None
        try:
            value = await store.aget(self.state_key)
        except Exception as exc:  # no store for this trigger (e.g. it watches several assets)
            self.log.warning("Cannot read the asset state store (%s); the lock holder is kept in memory", exc)
            self.asset_state_store = None
            return None
        return value if isinstance(value, str) and value else None

    async def _remember(self, task_id: str) -> None:
        store = getattr(self, "asset_state_store", None)  # Airflow 3.3+
        if store is not None:
            try:
                await store.aset(self.state_key, task_id)
            except Exception as exc:
                self.log.warning("Cannot write the asset state store (%s); the lock holder is kept in memory", exc)
                self.asset_state_store = None

    async def _forget(self) -> None:
        store = getattr(self, "asset_state_store", None)  # Airflow 3.3+
        if store is not None:
            try:
                await store.adelete(self.state_key)
            except Exception as exc:
                self.log.warning("Cannot write the asset state store (%s); the lock holder is kept in memory", exc)
                self.asset_state_store = None
