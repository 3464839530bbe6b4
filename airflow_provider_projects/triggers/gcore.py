"""Deferrable waits on Gcore locks: one module for both sensors and the replace operator.

Triggers only read (``GET``); every write stays on the worker. Their kwargs are JSON-safe and
hold a connection id, never a key: the triggerer fetches the connection itself. The deadline is
an absolute wall-clock time, so a trigger rebuilt from ``serialize()`` after a triggerer restart
continues the same wait instead of starting a new one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.waiting import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_POLL_INTERVAL,
    Poll,
    WaitResult,
    WaitSteps,
    wait_until,
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
    return {"status": "error", "error_type": type(error).__name__, "message": str(error), "http_status": error.status}


def error_from_event(event: dict[str, Any]) -> ProjectsApiError:
    """Rebuild the typed error an ``error`` event describes (unknown names give the base class)."""
    from airflow_provider_projects import errors

    error_type = getattr(errors, str(event.get("error_type")), None)
    if not (isinstance(error_type, type) and issubclass(error_type, ProjectsApiError)):
        error_type = ProjectsApiError
    error = error_type.__new__(error_type)
    ProjectsApiError.__init__(error, str(event.get("message", "the wait failed")), status=event.get("http_status"))
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
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.deadline = float(deadline)
        self.gcore_conn_id = gcore_conn_id
        self.poll_interval = float(poll_interval)
        self.max_consecutive_errors = int(max_consecutive_errors)

    def _common_kwargs(self) -> dict[str, Any]:
        return {
            "deadline": self.deadline,
            "gcore_conn_id": self.gcore_conn_id,
            "poll_interval": self.poll_interval,
            "max_consecutive_errors": self.max_consecutive_errors,
        }

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
        )
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
        yield TriggerEvent(ending)  # type: ignore[no-untyped-call]


async def _final_task(hook: Any, task_id: str) -> dict[str, Any] | None:
    """The last lock holder as a dict, or ``None`` if it cannot be read (the wait succeeded anyway)."""
    try:
        return (await hook.aget_task(task_id)).to_xcom()  # type: ignore[no-any-return]
    except ProjectsApiError:
        return None
