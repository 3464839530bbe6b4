"""``ProjectsEmulator``'s Gcore controls: projects, locks and tasks, one at a time or thousands at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Unpack

from projects_emulator.backend import Backend
from projects_emulator.gcore_tasks import TaskOptions, TaskPlan


class GcoreControls:
    """The Gcore half of ``ProjectsEmulator`` (see the package docstring for a tour)."""

    _backend: Backend

    @property
    def gcore_delete_seconds(self) -> float | None:
        """How long the task a Gcore DELETE starts runs (default 16 s); None: until ``finish_task``."""
        return self._backend.gcore_app.delete_seconds

    @gcore_delete_seconds.setter
    def gcore_delete_seconds(self, seconds: float | None) -> None:
        with self._backend.lock:
            self._backend.gcore_app.delete_seconds = seconds

    def gcore_project(self, project_id: int) -> dict[str, Any]:
        """Snapshot of a Gcore project as the API serialises it (deleted ones included)."""
        with self._backend.lock:
            self._backend.gcore.advance()
            return self._backend.gcore.projects[project_id].to_json()

    def gcore_project_revision(self, project_id: int) -> int:
        """How many PUT/PATCH writes succeeded on the project (Gcore's Project has no updated_at)."""
        with self._backend.lock:
            return self._backend.gcore.projects[project_id].revision

    def add_gcore_project(
        self, name: str, *, description: str | None = None, is_default: bool = False, project_id: int | None = None
    ) -> int:
        """Create a Gcore project (not validated) and return its id."""
        with self._backend.lock:
            project = self._backend.gcore.add_project(
                name, description=description, is_default=is_default, project_id=project_id
            )
            return project.id

    def add_gcore_projects(
        self, count: int, *, name_prefix: str = "project", description: str | None = None
    ) -> list[int]:
        """Create ``count`` Gcore projects at once, named ``<name_prefix>-<id>``; returns their ids.

        One call, one lock: 10,000 projects take a few tens of milliseconds. Their ids follow the
        highest id so far; they share one ``created_at``, so the list orders them by id. Nothing is
        created when a name is taken.
        """
        with self._backend.lock:
            projects = self._backend.gcore.add_projects(count, name_prefix=name_prefix, description=description)
            return [project.id for project in projects]

    def delete_gcore_project(self, project_id: int) -> None:
        """Mark a Gcore project deleted: 404 from then on, listed only with ``include_deleted``."""
        with self._backend.lock:
            self._backend.gcore.delete_project(project_id)

    def lock_gcore_project(
        self, project_id: int, *, seconds: float | None = None, **options: Unpack[TaskOptions]
    ) -> str:
        """Lock a project by a new task and return the task id.

        The task is NEW, RUNNING after ``running_after`` seconds (default 0.5, capped at half of
        ``seconds``), and ends in ``outcome`` (FINISHED, the default, or ERROR with ``error`` text)
        after ``seconds``; with ``seconds=None`` it runs until ``finish_task``. Ending releases the
        lock. ``task_type`` (default ``update_project``) is what the 409 lock message names.
        """
        return self.lock_gcore_projects([project_id], seconds=seconds, **options)[0]

    def lock_gcore_projects(
        self,
        project_ids: Iterable[int],
        *,
        seconds: float | Sequence[float | None] | None = None,
        **options: Unpack[TaskOptions],
    ) -> list[str]:
        """Lock many projects at once, each by a task of its own; returns the task ids in order.

        ``seconds`` is one duration for every task, or one per project (``[5, 10, None, ...]``),
        so the tasks end at the given times; the options are ``lock_gcore_project``'s. All or
        nothing: if one project is missing, deleted, locked or listed twice, none is locked.
        """
        ids = list(project_ids)
        each = list(seconds) if isinstance(seconds, Sequence) else [seconds] * len(ids)
        with self._backend.lock:
            tasks = self._backend.gcore.lock(ids, each, TaskPlan(**options))
            return [task.id for task in tasks]

    def finish_task(self, task_id: str, *, state: str = "FINISHED", error: str | None = None) -> None:
        """End a running task now as FINISHED or ERROR (with ``error`` text) and release its lock."""
        with self._backend.lock:
            self._backend.gcore.finish(task_id, state=state, error=error)

    def gcore_task(self, task_id: str) -> dict[str, Any]:
        """Snapshot of a Gcore task as ``GET /cloud/v1/tasks/{id}`` would return it."""
        with self._backend.lock:
            self._backend.gcore.advance()
            return self._backend.gcore.tasks[task_id].to_json(self._backend.timeline)
