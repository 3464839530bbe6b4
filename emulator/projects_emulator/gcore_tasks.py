"""Gcore tasks: the record ``GET /cloud/v1/tasks/{id}`` serves, and when each one moves on.

A task is NEW, RUNNING from ``running_at``, and ends (FINISHED or ERROR) at ``ends_at``, or when
finished by hand. The ``TaskSchedule`` keeps those moments in time order, so the store's
``advance()`` (run before every request) costs nothing while nothing is due, however many tasks
an account holds.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

from projects_emulator.messages import new_request_id
from projects_emulator.timeline import Timeline, gcore_task_datetime

CLIENT_ID = 1
USER_ID = 1001
TERMINAL_STATES = ("FINISHED", "ERROR")


@dataclass(eq=False)
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


class TaskOptions(TypedDict, total=False):
    """How a lock's task looks and ends (the emulator's ``lock_gcore_project(s)`` take these)."""

    #: The task type the 409 lock message names (default ``update_project``).
    task_type: str
    #: FINISHED (default) or ERROR, reached when the task's ``seconds`` are up.
    outcome: str
    #: The task's error text when it ends in ERROR.
    error: str | None
    #: Seconds until the task is RUNNING (default 0.5, capped at half its length).
    running_after: float


@dataclass(frozen=True)
class TaskPlan:
    """``TaskOptions`` with their defaults, plus whether the task deletes its project."""

    task_type: str = "update_project"
    outcome: str = "FINISHED"
    error: str | None = None
    running_after: float = 0.5
    deletes_project: bool = False


class TaskSchedule:
    """The moments tasks are due to move on (start running, end), earliest first.

    An entry outlives a task finished by hand; whoever takes it checks the task's state, so a
    stale entry does nothing.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, GcoreTask]] = []
        self._order = itertools.count()

    def add(self, at: float, task: GcoreTask) -> None:
        """Note that ``task`` is due at clock reading ``at``."""
        heapq.heappush(self._due, (at, next(self._order), task))

    def due(self, now: float) -> Iterator[GcoreTask]:
        """Take the entries due by ``now``, earliest first (entries added meanwhile included)."""
        while self._due and self._due[0][0] <= now:
            yield heapq.heappop(self._due)[2]

    def clear(self) -> None:
        """Forget every entry."""
        self._due.clear()
