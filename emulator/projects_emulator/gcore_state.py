"""Gcore Cloud state: projects, the tasks that lock them, and the ordered views the list pages from.

Tasks progress on the injected clock, evaluated lazily: every request (and every snapshot) first
calls ``advance()``, which moves the tasks that are due NEW -> RUNNING -> FINISHED/ERROR and
releases the project lock when a task ends. No background thread is needed.

A ``DELETE`` starts a ``delete_project`` task: the project shows ``state: DELETING`` and is locked
while it runs; when it finishes the project is DELETED (404 from then on), and when it fails the
project is ACTIVE again.

Accounts may hold 10,000 projects that clients page through every second, so the store keeps
each sort order of the list until a project is added, deleted or renamed, and an index of names
for the "names are unique" check: a list page or a write costs no sort and no scan.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from projects_emulator.gcore_input import ListQuery, OrderField
from projects_emulator.gcore_tasks import CLIENT_ID, TERMINAL_STATES, GcoreTask, TaskPlan, TaskSchedule
from projects_emulator.timeline import Timeline, gcore_datetime

#: Seeded projects: (id, name, description, is_default). Id 1 is the client's default project.
SEED_PROJECTS: tuple[tuple[int, str, str | None, bool], ...] = (
    (1, "default", "Default project", True),
    (2, "analytics", "Dashboards and reports", False),
    (3, "staging-eu", None, False),
)
_DAY = 86_400.0


@dataclass(eq=False)
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
    #: ``created_at`` as served, formatted once: formatting is most of what a list page costs.
    _created_text: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._created_text = gcore_datetime(self.created_at)

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
            "created_at": self._created_text,
            "deleted_at": None if self.deleted_at is None else gcore_datetime(self.deleted_at),
            "is_default": self.is_default,
            "state": self.state,
            "task_id": self.task_id,
        }


def _created_order(project: GcoreProject) -> tuple[float, int]:
    return (project.created_at, project.id)


def _name_order(project: GcoreProject) -> tuple[str, int]:
    return (project.name, project.id)


class GcoreStore:
    """Projects and tasks of the one emulated Gcore client (callers hold the emulator's lock)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.projects: dict[int, GcoreProject] = {}
        self.tasks: dict[str, GcoreTask] = {}
        self._schedule = TaskSchedule()
        #: The list's orders, ascending, per (field, deleted ones included); dropped on any change.
        self._orders: dict[tuple[OrderField, bool], list[GcoreProject]] = {}
        #: Live projects by name (names are unique per client among live projects).
        self._names: dict[str, set[int]] = {}
        self._last_id = 0
        self.seed()

    def seed(self) -> None:
        """Forget everything and load the seeded projects."""
        self.projects.clear()
        self.tasks.clear()
        self._schedule.clear()
        self._orders.clear()
        self._names.clear()
        self._last_id = 0
        start = self.timeline.epoch()
        for age, (pid, name, description, is_default) in enumerate(reversed(SEED_PROJECTS)):
            self._insert(GcoreProject(pid, name, description, start - (age + 1) * _DAY, is_default))

    # -- projects -------------------------------------------------------------------------------
    def active(self, project_id: int) -> GcoreProject | None:
        """Return a project the API can see (not deleted), else None."""
        project = self.projects.get(project_id)
        return None if project is None or project.deleted else project

    def add_project(
        self, name: str, *, description: str | None = None, is_default: bool = False, project_id: int | None = None
    ) -> GcoreProject:
        """Create a project (no validation: tests may seed anything) and return it."""
        pid = project_id if project_id is not None else self._next_id()
        if pid in self.projects:
            raise ValueError(f"Gcore project {pid} already exists")
        return self._insert(GcoreProject(pid, name, description, self.timeline.epoch(), is_default))

    def add_projects(self, count: int, *, name_prefix: str, description: str | None) -> list[GcoreProject]:
        """Create ``count`` projects named ``<name_prefix>-<id>``, all at once; none if a name is taken."""
        if count < 0:
            raise ValueError(f"count must be >= 0, not {count}")
        first = self._next_id()
        names = [f"{name_prefix}-{pid}" for pid in range(first, first + count)]
        taken = [name for name in names if name in self._names]
        if taken:
            raise ValueError(f"Gcore project name {taken[0]!r} is taken: choose another name_prefix")
        now = self.timeline.epoch()
        return [self._insert(GcoreProject(first + i, name, description, now)) for i, name in enumerate(names)]

    def delete_project(self, project_id: int, at: float | None = None) -> None:
        """Mark a project deleted (at epoch ``at``, default now): 404 from then on, listed only with deleted ones."""
        project = self.projects[project_id]
        self._unname(project)
        project.state = "DELETED"
        project.deleted_at = self.timeline.epoch() if at is None else at
        project.task_id = None
        self._orders.clear()

    def name_taken(self, name: str, by_other_than: int | None) -> bool:
        """Tell whether another live project of the client already has ``name``."""
        return bool(self._names.get(name, set()) - {by_other_than})

    def write(self, project: GcoreProject, name: str, description: str | None) -> None:
        """Store a successful PUT/PATCH and advance the project's internal revision."""
        if name != project.name:
            self._unname(project)
            project.name = name
            self._names.setdefault(name, set()).add(project.id)
            self._orders.clear()
        project.description = description
        project.revision += 1

    def page(self, query: ListQuery) -> tuple[int, list[GcoreProject]]:
        """The projects a list request matches: how many in all, and those of the requested page."""
        matching = self._ordered(query.order_field, query.include_deleted)
        if query.name is not None:
            matching = [self.projects[pid] for pid in sorted(self._names.get(query.name, ()))]
            if query.include_deleted:  # deleted projects leave the name index: this rare request scans
                matching += [p for p in self.projects.values() if p.deleted and p.name == query.name]
            matching.sort(key=_name_order if query.order_field == "name" else _created_order)
        count = len(matching)
        if query.offset >= count:
            return count, []
        if not query.descending:
            return count, matching[query.offset : query.offset + query.limit]
        stop = count - query.offset
        return count, matching[max(0, stop - query.limit) : stop][::-1]

    def _ordered(self, order_field: OrderField, include_deleted: bool) -> list[GcoreProject]:
        key = (order_field, include_deleted)
        ordered = self._orders.get(key)
        if ordered is None:
            chosen = (p for p in self.projects.values() if include_deleted or not p.deleted)
            ordered = sorted(chosen, key=_name_order if order_field == "name" else _created_order)
            self._orders[key] = ordered
        return ordered

    def _next_id(self) -> int:
        return self._last_id + 1

    def _insert(self, project: GcoreProject) -> GcoreProject:
        self.projects[project.id] = project
        self._last_id = max(self._last_id, project.id)
        self._names.setdefault(project.name, set()).add(project.id)
        self._orders.clear()
        return project

    def _unname(self, project: GcoreProject) -> None:
        ids = self._names.get(project.name)
        if ids is not None:
            ids.discard(project.id)
            if not ids:
                del self._names[project.name]

    # -- tasks and locks ------------------------------------------------------------------------
    def lock(self, project_ids: Sequence[int], seconds: Sequence[float | None], plan: TaskPlan) -> list[GcoreTask]:
        """Start one task per project, each ending after its ``seconds`` (None: when finished).

        All or nothing: every project must be live, unlocked and named once, or none is locked.
        """
        self.advance()
        if plan.outcome not in TERMINAL_STATES:
            raise ValueError(f"outcome must be one of {TERMINAL_STATES}, not {plan.outcome!r}")
        if len(seconds) != len(project_ids):
            raise ValueError(f"{len(project_ids)} projects but {len(seconds)} durations")
        projects = [self._lockable(pid) for pid in project_ids]
        if len(set(project_ids)) != len(project_ids):
            raise ValueError("a project is listed more than once")
        now = self.timeline.now()
        return [self._start(project, wait, plan, now) for project, wait in zip(projects, seconds, strict=True)]

    def _lockable(self, project_id: int) -> GcoreProject:
        project = self.active(project_id)
        if project is None:
            raise KeyError(f"no live Gcore project {project_id}")
        if project.task_id is not None:
            raise RuntimeError(f"Gcore project {project_id} is already locked by task {project.task_id}")
        return project

    def _start(self, project: GcoreProject, seconds: float | None, plan: TaskPlan, now: float) -> GcoreTask:
        running_after = plan.running_after if seconds is None else min(plan.running_after, seconds / 2)
        task = GcoreTask(
            id=str(uuid.uuid4()),
            task_type=plan.task_type,
            project_id=project.id,
            created=now,
            running_at=now + running_after,
            ends_at=None if seconds is None else now + seconds,
            outcome=plan.outcome,
            error=plan.error,
            deletes_project=plan.deletes_project,
        )
        self.tasks[task.id] = task
        self._schedule.add(task.running_at, task)
        project.task_id = task.id
        if plan.deletes_project:
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
        for task in self._schedule.due(now):
            if task.state == "NEW":
                task.state, task.updated = "RUNNING", task.running_at
                if task.ends_at is not None:
                    self._schedule.add(task.ends_at, task)
            elif task.state == "RUNNING" and task.ends_at is not None:
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
