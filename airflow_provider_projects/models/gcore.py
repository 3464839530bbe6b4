"""Gcore Cloud answers: ``Project`` and ``Task`` (see the OpenAPI extract's serializers)."""

from __future__ import annotations

from typing import Final

from airflow_provider_projects.models.base import ApiModel

#: A task in one of these states will not change again.
TERMINAL_TASK_STATES: Final = frozenset({"FINISHED", "ERROR"})


class GcoreProject(ApiModel):
    """``ProjectSerializer``: all nine keys are always present, three of them nullable.

    Timestamps stay text so XCom carries exactly what the API said. ``task_id`` is the running
    task that holds a lock on the project, ``None`` when unlocked.
    """

    id: int
    client_id: int
    name: str
    description: str | None
    created_at: str
    deleted_at: str | None
    is_default: bool
    state: str
    task_id: str | None


class GcoreTask(ApiModel):
    """``TaskSerializer``: the spec requires id, user_id, task_type, state and created_on.

    ``state`` stays a string (NEW, RUNNING, FINISHED, ERROR today) so a new state does not break
    parsing; only FINISHED and ERROR count as the end.
    """

    id: str
    user_id: int | None
    task_type: str
    state: str
    created_on: str | None
    error: str | None = None
    finished_on: str | None = None
    project_id: int | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_TASK_STATES

    @property
    def failed(self) -> bool:
        return self.state == "ERROR"

    def summary(self) -> str:
        """``task <id> (<type>) is <STATE>``, for logs and errors."""
        return f"task {self.id} ({self.task_type}) is {self.state}"


class GcoreProjectLock(ApiModel):
    """A project as a lock wait sees it: the project, and the task holding (or last holding) its lock.

    ``holder`` is read when a new holder shows up and once more when the lock clears, so its
    ``state`` says whether the task that held the lock ended in ``ERROR``; ``None`` if it could
    not be read or no lock was seen.
    """

    project: GcoreProject
    holder: GcoreTask | None = None

    def summary(self) -> str:
        """``locked by task <id> (<type>) is <STATE>``, for logs and errors."""
        if self.project.task_id is None:
            return "unlocked"
        if self.holder is not None and self.holder.id == self.project.task_id:
            return f"locked by {self.holder.summary()}"
        return f"locked by task {self.project.task_id}"


class GcoreProjectsPage(ApiModel):
    """``ListProjectsSerializer``: one page of ``GET /cloud/v1/projects`` and the count of all of them."""

    count: int
    results: list[GcoreProject]
