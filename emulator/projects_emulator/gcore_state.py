"""Gcore Cloud state: projects, and the tasks that lock them.

Tasks progress on the injected clock, evaluated lazily: every request (and every snapshot) first
calls ``advance()``, which moves tasks NEW -> RUNNING -> FINISHED/ERROR as their times pass and
releases the project lock when a task ends. No background thread is needed.

A ``DELETE`` starts a ``delete_project`` task: the project shows ``state: DELETING`` and is locked
while it runs; when it finishes the project is DELETED (404 from then on), and when it fails the
project is ACTIVE again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from projects_emulator.messages import new_request_id
from projects_emulator.timeline import Timeline, gcore_datetime, gcore_task_datetime

CLIENT_ID = 1
USER_ID = 1001
TERMINAL_STATES = ("FINISHED", "ERROR")
#: Seeded projects: (id, name, description, is_default). Id 1 is the client's default project.
SEED_PROJECTS: tuple[tuple[int, str, str | None, bool], ...] = (
    (1, "default", "Default project", True),
    (2, "analytics", "Dashboards and reports", False),
    (3, "staging-eu", None, False),
)
_DAY = 86_400.0


@dataclass
class GcoreProject:
    """A Gcore project; ``revision`` is internal (the API's Project has no ``updated_at``)."""

    id: int
    name: str
    description: str | None
    created_at: float
    is_default: bool = False
    client_id: int = CLIENT_ID
    state: str = "ACTIVE"
    deleted_at: float | None = None
    task_id: str | None = None
    revision: int = 0

    @property
    def deleted(self) -> bool:
        """True once the project is deleted (the API then answers 404 for it)."""
        return self.state == "DELETED"

    def to_json(self) -> dict[str, Any]:
        """Serialise as the API's ``ProjectSerializer``: all nine keys, always."""
        return {
            "id": self.id,
            "client_id": self.client_id,
            "name": self.name,
            "description": self.description,
            "created_at": gcore_datetime(self.created_at),
            "deleted_at": None if self.deleted_at is None else gcore_datetime(self.deleted_at),
            "is_default": self.is_default,
            "state": self.state,
            "task_id": self.task_id,
        }


@dataclass
class GcoreTask:
    """A task holding a lock on a project; times are readings of the injected clock."""

    id: str
    task_type: str
    project_id: int
    created: float
    running_at: float
    ends_at: float | None
    outcome: str
    error: str | None
    #: True for the task a DELETE started: its end decides whether the project is gone.
    deletes_project: bool = False
    state: str = "NEW"
    updated: float | None = None
    finished: float | None = None
    request_id: str = field(default_factory=new_request_id)

    def to_json(self, timeline: Timeline) -> dict[str, Any]:
        """Serialise as the API's ``TaskSerializer`` (every documented key present)."""

        def stamp(at: float | None) -> str | None:
            return None if at is None else gcore_task_datetime(timeline.epoch(at))

        return {
            "id": self.id,
            "user_id": USER_ID,
            "task_type": self.task_type,
            "state": self.state,
            "created_on": stamp(self.created),
            "updated_on": stamp(self.updated),
            "finished_on": stamp(self.finished),
            "error": self.error if self.state == "ERROR" else None,
            "project_id": self.project_id,
            "region_id": None,
            "client_id": CLIENT_ID,
            "user_client_id": CLIENT_ID,
            "request_id": self.request_id,
            "created_resources": None,
            "data": None,
            "detailed_state": None,
            "job_id": None,
            "schedule_id": None,
            "lifecycle_policy_id": None,
            "acknowledged_at": None,
            "acknowledged_by": None,
        }


class GcoreStore:
    """Projects and tasks of the one emulated Gcore client (callers hold the emulator's lock)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.projects: dict[int, GcoreProject] = {}
        self.tasks: dict[str, GcoreTask] = {}
        self.seed()

    def seed(self) -> None:
        """Forget everything and load the seeded projects."""
        self.projects.clear()
        self.tasks.clear()
        start = self.timeline.epoch()
        for age, (pid, name, description, is_default) in enumerate(reversed(SEED_PROJECTS)):
            self.projects[pid] = GcoreProject(
                id=pid,
                name=name,
                description=description,
                created_at=start - (age + 1) * _DAY,
                is_default=is_default,
            )

    # -- projects -------------------------------------------------------------------------------
    def active(self, project_id: int) -> GcoreProject | None:
        """Return a project the API can see (not deleted), else None."""
        project = self.projects.get(project_id)
        return None if project is None or project.deleted else project

    def add_project(
        self,
        name: str,
        *,
        description: str | None = None,
        is_default: bool = False,
        project_id: int | None = None,
    ) -> GcoreProject:
        """Create a project (no validation: tests may seed anything) and return it."""
        pid = project_id if project_id is not None else max(self.projects, default=0) + 1
        if pid in self.projects:
            raise ValueError(f"Gcore project {pid} already exists")
        project = GcoreProject(
            id=pid,
            name=name,
            description=description,
            created_at=self.timeline.epoch(),
            is_default=is_default,
        )
        self.projects[pid] = project
        return project

    def delete_project(self, project_id: int, at: float | None = None) -> None:
        """Mark a project deleted (at epoch ``at``, default now): 404 from then on, listed only with deleted ones."""
        project = self.projects[project_id]
        project.state = "DELETED"
        project.deleted_at = self.timeline.epoch() if at is None else at
        project.task_id = None

    def name_taken(self, name: str, by_other_than: int | None) -> bool:
        """Tell whether another live project of the client already has ``name``."""
        return any(p.name == name and p.id != by_other_than and not p.deleted for p in self.projects.values())

    def write(self, project: GcoreProject, name: str, description: str | None) -> None:
        """Store a successful PUT/PATCH and advance the project's internal revision."""
        project.name = name
        project.description = description
        project.revision += 1

    # -- tasks and locks ------------------------------------------------------------------------
    def lock(
        self,
        project_id: int,
        *,
        seconds: float | None,
        task_type: str,
        outcome: str,
        error: str | None,
        running_after: float,
        deletes_project: bool = False,
    ) -> GcoreTask:
        """Start a task that locks the project; it ends after ``seconds`` (None: when finished)."""
        self.advance()
        project = self.active(project_id)
        if project is None:
            raise KeyError(f"no live Gcore project {project_id}")
        if project.task_id is not None:
            raise RuntimeError(f"Gcore project {project_id} is already locked by task {project.task_id}")
        if outcome not in TERMINAL_STATES:
            raise ValueError(f"outcome must be one of {TERMINAL_STATES}, not {outcome!r}")
        now = self.timeline.now()
        if seconds is not None:
            running_after = min(running_after, seconds / 2)
        task = GcoreTask(
            id=str(uuid.uuid4()),
            task_type=task_type,
            project_id=project_id,
            created=now,
            running_at=now + running_after,
            ends_at=None if seconds is None else now + seconds,
            outcome=outcome,
            error=error,
            deletes_project=deletes_project,
        )
        self.tasks[task.id] = task
        project.task_id = task.id
        if deletes_project:
            project.state = "DELETING"
        return task

    def finish(self, task_id: str, *, state: str, error: str | None) -> GcoreTask:
        """End a task now with ``state`` (FINISHED or ERROR) and release its lock."""
        self.advance()
        task = self.tasks[task_id]
        if task.state in TERMINAL_STATES:
            raise RuntimeError(f"task {task_id} already ended in state {task.state}")
        if state not in TERMINAL_STATES:
            raise ValueError(f"state must be one of {TERMINAL_STATES}, not {state!r}")
        self._end(task, state, error, self.timeline.now())
        return task

    def advance(self) -> None:
        """Apply every task transition that is due at the clock's current reading."""
        now = self.timeline.now()
        for task in self.tasks.values():
            if task.state == "NEW" and now >= task.running_at:
                task.state, task.updated = "RUNNING", task.running_at
            if task.state == "RUNNING" and task.ends_at is not None and now >= task.ends_at:
                self._end(task, task.outcome, task.error, task.ends_at)

    def _end(self, task: GcoreTask, state: str, error: str | None, at: float) -> None:
        task.state, task.updated, task.finished = state, at, at
        if state == "ERROR":
            task.error = error or f"Task {task.task_type} failed (emulated error)"
        project = self.projects.get(task.project_id)
        if project is None or project.task_id != task.id:
            return
        project.task_id = None
        if task.deletes_project and state == "FINISHED":
            self.delete_project(project.id, at=self.timeline.epoch(at))
        elif task.deletes_project:
            project.state = "ACTIVE"
