"""What the triggers' polls read (see ``polling/driver.py``): a Gcore task; projects are ``_project_locks.py``'s.

Each source answers per subject (a task id, a project id). Reads go through :class:`Reader`,
which builds its request on the first read and sends it again on each: a triggerer repeats the
same request thousands of times, so headers, URL and timeout stay off the hot path.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from typing import Generic, TypeVar

from airflow_provider_projects._http.aio import AsyncTransport
from airflow_provider_projects._http.wire import Request
from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.hooks.gcore import GcoreHook, task_path
from airflow_provider_projects.models.base import ApiModel
from airflow_provider_projects.models.gcore import GcoreTask

M = TypeVar("M", bound=ApiModel)


class Reader(Generic[M]):
    """``GET path`` into ``model``, for a poll: the request is built on the first read, then resent."""

    def __init__(self, hook: GcoreHook, path: str, model: type[M]) -> None:
        self._hook = hook
        self._path = path
        self._model = model
        self._prepared: tuple[AsyncTransport, Request] | None = None

    async def __call__(self) -> M:
        if self._prepared is None:
            transport = await self._hook.atransport()
            self._prepared = (transport, transport.core.request("GET", self._path))
        transport, request = self._prepared
        core = transport.core
        return core.parse(await transport.run(core.exchange(request)), self._model, request)


class TaskSource:
    """A Gcore task (``GET /cloud/v1/tasks/{id}``); its subject is the task id."""

    def __init__(self, hook: GcoreHook, task_id: str) -> None:
        self._task_id = task_id
        self._read = Reader(hook, task_path(task_id), GcoreTask)

    async def read(self, subjects: Collection[Hashable]) -> dict[Hashable, GcoreTask]:
        return {self._task_id: await self._read()}


async def task_or_none(hook: GcoreHook, task_id: str) -> GcoreTask | None:
    """A lock holder's task, or ``None`` if it cannot be read (the wait goes on without its details)."""
    try:
        return await hook.aget_task(task_id)
    except ProjectsApiError:
        return None
