"""What the triggers' polls read (see ``polling/driver.py``): a Gcore task, or a project and its lock holder.

Each source answers per subject (a task id, a project id). Reads go through :class:`Reader`,
which builds its request on the first read and sends it again on each: a triggerer repeats the
same request thousands of times, so headers, URL and timeout stay off the hot path.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from typing import Generic, TypeVar

from airflow_provider_projects import _clock
from airflow_provider_projects._http.aio import AsyncTransport
from airflow_provider_projects._http.wire import Request
from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.hooks.gcore import GcoreHook, project_path, task_path
from airflow_provider_projects.models.base import ApiModel
from airflow_provider_projects.models.gcore import GcoreProject, GcoreProjectLock, GcoreTask
from airflow_provider_projects.waiting import PROGRESS_EVERY

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


class ProjectLockSource:
    """A Gcore project and its lock holder; its subject is the project id.

    The holder's type and state are read once per holder after it has held the lock for
    :data:`~airflow_provider_projects.waiting.PROGRESS_EVERY` seconds, in time for the first
    progress line that can use them: most locks end sooner, and a read per new lock would double a
    busy triggerer's requests. When the lock clears, the last holder is read once more, so the
    outcome says whether it ended in ``ERROR``.
    """

    def __init__(self, hook: GcoreHook, project_id: int, holder_id: str | None = None) -> None:
        self._hook = hook
        self._project_id = project_id
        self._read = Reader(hook, project_path(project_id), GcoreProject)
        self._holder_id = holder_id
        self._holder_since = _clock.now()
        self._holder: GcoreTask | None = None

    async def read(self, subjects: Collection[Hashable]) -> dict[Hashable, GcoreProjectLock]:
        project = await self._read()
        now = _clock.now()
        if project.task_id is not None and project.task_id != self._holder_id:
            self._holder_id, self._holder, self._holder_since = project.task_id, None, now
        elif project.task_id is not None and self._holder is None and now - self._holder_since >= PROGRESS_EVERY:
            self._holder = await task_or_none(self._hook, project.task_id)
        elif project.task_id is None and self._holder_id is not None:
            self._holder = await task_or_none(self._hook, self._holder_id) or self._holder
            self._holder_id = None
        # Both parts were validated as they were read: no second validation per poll.
        return {self._project_id: GcoreProjectLock.model_construct(project=project, holder=self._holder)}


async def task_or_none(hook: GcoreHook, task_id: str) -> GcoreTask | None:
    """A lock holder's task, or ``None`` if it cannot be read (the wait goes on without its details)."""
    try:
        return await hook.aget_task(task_id)
    except ProjectsApiError:
        return None
