"""Gcore Cloud answers: ``Project`` and ``Task`` (see the OpenAPI extract's serializers)."""

from __future__ import annotations

from typing import Final

from airflow_provider_projects.models.base import ApiModel

#: A task in one of these states will not change again.
TERMINAL_TASK_STATES: Final = frozenset({"FINISHED", "ERROR"})


class GcoreProject(ApiModel):
    """``ProjectSerializer``: all nine keys are always present, three of them nullable.

    Timestamps stay text so XCom carries exactly what the API said.
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

    @property
    def locked(self) -> bool:
        """True while a running task holds a lock on the project."""
        return self.task_id is not None


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
