"""``ProjectsEmulator``: both emulated APIs on real local ports, plus the controls tests need."""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import Any

from projects_emulator import editions, gcai_state, gcore_state
from projects_emulator.backend import Backend
from projects_emulator.control import ControlApp
from projects_emulator.editions import CURRENT, Edition
from projects_emulator.faults import Fault, make_fault
from projects_emulator.gcai_api import PREFIX as GCAI_PREFIX
from projects_emulator.gcai_state import AccessLevel
from projects_emulator.gcore_api import DELETE_SECONDS
from projects_emulator.journal import RecordedRequest
from projects_emulator.listeners import Listen, Listeners


class ProjectsEmulator:
    """Offline Gcore Cloud + GC AI servers on 127.0.0.1; see the package docstring for a tour."""

    #: Seeded Gcore project ids (1 is the client's default project).
    gcore_project_ids: tuple[int, ...] = tuple(p[0] for p in gcore_state.SEED_PROJECTS)
    #: Seeded GC AI project ids: two org-wide, then two access-controlled (user admin, user read).
    gcai_project_ids: tuple[str, ...] = tuple(p[0] for p in gcai_state.SEED_PROJECTS)
    gcai_org_key: str = gcai_state.ORG_KEY
    gcai_user_key: str = gcai_state.USER_KEY

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        gcore_port: int = 0,
        gcai_port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        edition: str = CURRENT,
        rate_limit: tuple[int, float] | None = None,
        control_port: int | None = None,
        gcore_put_removed: bool | None = None,
    ) -> None:
        if gcore_put_removed is not None:
            edition = _edition_for_put_removed(gcore_put_removed)
        self.host = host
        self._initial = (editions.edition(edition), rate_limit)
        self._backend = Backend(clock, edition=self._initial[0], rate_limit=rate_limit)
        servers = {
            "gcore": Listen(gcore_port, "", self._backend),
            "gcai": Listen(gcai_port, GCAI_PREFIX, self._backend),
        }
        # The control endpoint is for other processes (the ``projects-emulator`` commands); code in
        # this process calls the methods below directly, so it is only served when asked for.
        if control_port is not None:
            servers["control"] = Listen(control_port, "", ControlApp(self))
        self._listeners = Listeners(host, servers)

    @property
    def gcore_key(self) -> str:
        """The Gcore API key the emulator accepts (``Authorization: APIKey <key>``)."""
        return self._backend.gcore_key

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ProjectsEmulator:
        """Bind both ports and serve on daemon threads; returns self."""
        self._listeners.start()
        return self

    def stop(self) -> None:
        """Stop the servers, cut open connections, wake delayed answers and drop stalled ones."""
        self._backend.stalls.drop()
        self._listeners.stop()

    def __enter__(self) -> ProjectsEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._listeners.running

    @property
    def gcore_port(self) -> int:
        """Bound port of the Gcore Cloud server."""
        return self._listeners.port("gcore")

    @property
    def gcai_port(self) -> int:
        """Bound port of the GC AI server."""
        return self._listeners.port("gcai")

    @property
    def gcore_url(self) -> str:
        """Gcore Cloud base URL (routes start with ``/cloud/v1``)."""
        return self._listeners.base_url("gcore")

    @property
    def gcai_url(self) -> str:
        """GC AI base URL, ending in ``/api/external/v1``."""
        return self._listeners.base_url("gcai") + GCAI_PREFIX

    @property
    def control_url(self) -> str | None:
        """Base URL of the control endpoint (see ``control``), or None when not served."""
        return self._listeners.base_url("control") if self._listeners.serves("control") else None

    # -- configuration --------------------------------------------------------------------------
    @property
    def edition(self) -> Edition:
        """The Gcore spec edition served: ``"2026-08"`` (current, no PUT) or ``"2026-05"`` (PUT accepted)."""
        return self._backend.gcore_app.edition

    @edition.setter
    def edition(self, value: str) -> None:
        checked = editions.edition(value)
        with self._backend.lock:
            self._backend.gcore_app.edition = checked

    @property
    def gcore_put_removed(self) -> bool:
        """Deprecated: True when PUT answers 405, i.e. ``edition != "2026-05"``. Set ``edition`` instead."""
        return not editions.gcore_put_allowed(self.edition)

    @gcore_put_removed.setter
    def gcore_put_removed(self, removed: bool) -> None:
        self.edition = _edition_for_put_removed(removed)

    @property
    def gcore_delete_seconds(self) -> float | None:
        """How long the task a Gcore DELETE starts runs (default 16 s); None: until ``finish_task``."""
        return self._backend.gcore_app.delete_seconds

    @gcore_delete_seconds.setter
    def gcore_delete_seconds(self, seconds: float | None) -> None:
        with self._backend.lock:
            self._backend.gcore_app.delete_seconds = seconds

    def set_gcai_rate_limit(self, limit: int | None, window_seconds: float = 60.0) -> None:
        """Limit GC AI to ``limit`` requests per ``window_seconds`` per organisation; None: no limit."""
        self._backend.set_rate_limit(None if limit is None else (limit, window_seconds))

    def airflow_connection_env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables (JSON form) pointing the default connections here."""
        gcore = {"conn_type": "gcore", "host": self.gcore_url, "password": self.gcore_key}
        gcai = {"conn_type": "gcai", "host": self.gcai_url, "password": self.gcai_org_key}
        return {"AIRFLOW_CONN_GCORE_DEFAULT": json.dumps(gcore), "AIRFLOW_CONN_GCAI_DEFAULT": json.dumps(gcai)}

    def reset(self) -> None:
        """Back to the start: seeded data, no tasks, faults or journal, constructor settings."""
        edition, rate_limit = self._initial
        with self._backend.lock:
            self._backend.gcore.seed()
            self._backend.gcai.seed()
            self._backend.faults.clear()
            self._backend.journal.clear()
            self._backend.gcore_app.edition = edition
            self._backend.gcore_app.delete_seconds = DELETE_SECONDS
            self._backend.set_rate_limit(rate_limit)
        self._backend.stalls.drop()

    # -- Gcore: projects and locks --------------------------------------------------------------
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

    def delete_gcore_project(self, project_id: int) -> None:
        """Mark a Gcore project deleted: 404 from then on, listed only with ``include_deleted``."""
        with self._backend.lock:
            self._backend.gcore.delete_project(project_id)

    def lock_gcore_project(
        self,
        project_id: int,
        *,
        seconds: float | None = None,
        task_type: str = "update_project",
        outcome: str = "FINISHED",
        error: str | None = None,
        running_after: float = 0.5,
    ) -> str:
        """Lock a project by a new task and return the task id.

        The task is NEW, RUNNING after ``running_after`` seconds (capped at half of ``seconds``),
        and ends in ``outcome`` (FINISHED or ERROR, with ``error`` text) after ``seconds``; with
        ``seconds=None`` it runs until ``finish_task``. Ending releases the lock.
        """
        with self._backend.lock:
            task = self._backend.gcore.lock(
                project_id,
                seconds=seconds,
                task_type=task_type,
                outcome=outcome,
                error=error,
                running_after=running_after,
            )
            return task.id

    def finish_task(self, task_id: str, *, state: str = "FINISHED", error: str | None = None) -> None:
        """End a running task now as FINISHED or ERROR (with ``error`` text) and release its lock."""
        with self._backend.lock:
            self._backend.gcore.finish(task_id, state=state, error=error)

    def gcore_task(self, task_id: str) -> dict[str, Any]:
        """Snapshot of a Gcore task as ``GET /cloud/v1/tasks/{id}`` would return it."""
        with self._backend.lock:
            self._backend.gcore.advance()
            return self._backend.gcore.tasks[task_id].to_json(self._backend.timeline)

    # -- GC AI: projects ------------------------------------------------------------------------
    def gcai_project(self, project_id: str) -> dict[str, Any]:
        """Snapshot of a GC AI project as an organisation key sees it (``my_access_level`` null)."""
        with self._backend.lock:
            return self._backend.gcai.projects[project_id.lower()].to_json(None)

    def add_gcai_project(
        self,
        name: str,
        *,
        description: str | None = None,
        custom_instructions: str | None = None,
        access_controlled: bool = False,
        user_access: AccessLevel | None = None,
        project_id: str | None = None,
    ) -> str:
        """Create a GC AI project and return its id; ``user_access`` is the personal key's grant."""
        with self._backend.lock:
            project = self._backend.gcai.add_project(
                name,
                description=description,
                custom_instructions=custom_instructions,
                access_controlled=access_controlled,
                user_access=user_access,
                project_id=project_id,
            )
            return project.id

    def delete_gcai_project(self, project_id: str) -> None:
        """Delete a GC AI project for good (404 afterwards)."""
        with self._backend.lock:
            self._backend.gcai.delete_project(project_id.lower())

    # -- faults and journal ---------------------------------------------------------------------
    def add_fault(
        self,
        api: str,
        method: str,
        path_pattern: str | re.Pattern[str],
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float | None = None,
        drop: bool = False,
        truncate: bool = False,
        times: int | None = 1,
        stall: bool = False,
        stall_timeout: float | None = None,
    ) -> Fault:
        """Make the next ``times`` matching requests misbehave (see ``faults`` module); returns a handle.

        ``stall=True`` holds each matching request before the API sees it until ``release_stalled``
        (then it is handled, with the other settings) or ``drop_stalled``/``stall_timeout``/reset/stop
        (then its connection is closed unanswered and nothing is applied).
        """
        fault = make_fault(
            api,
            method,
            path_pattern,
            status=status,
            headers=headers,
            body=body,
            delay=delay,
            drop=drop,
            truncate=truncate,
            times=times,
            stall=stall,
            stall_timeout=stall_timeout,
        )
        with self._backend.lock:
            return self._backend.faults.add(fault)

    def remove_fault(self, fault: Fault | int) -> None:
        """Withdraw a fault (the handle, or its ``id``) before it is used up."""
        with self._backend.lock:
            found = self._backend.faults.find(fault) if isinstance(fault, int) else fault
            if found is None:
                raise KeyError(f"fault {fault}")
            self._backend.faults.remove(found)

    def faults(self) -> list[Fault]:
        """The faults still waiting for requests, first added first."""
        with self._backend.lock:
            return self._backend.faults.active()

    # -- stalled requests -----------------------------------------------------------------------
    def stalled(self) -> list[dict[str, Any]]:
        """The requests stall faults hold now: ``{"fault_id", "api", "method", "path"}``, oldest first."""
        return [stall.to_json() for stall in self._backend.stalls.held()]

    def wait_for_stalled(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests are held (True) or ``timeout`` seconds pass (False)."""
        return self._backend.stalls.wait_for(count, timeout)

    def release_stalled(self, fault: Fault | int | None = None) -> int:
        """Let held requests (of one fault, or all) reach the API and be answered; returns how many."""
        return self._backend.stalls.release(_fault_id(fault))

    def drop_stalled(self, fault: Fault | int | None = None) -> int:
        """Close held requests' connections unanswered (nothing applied); returns how many."""
        return self._backend.stalls.drop(_fault_id(fault))

    def clear_faults(self) -> None:
        """Withdraw every fault."""
        with self._backend.lock:
            self._backend.faults.clear()

    def requests(
        self, api: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[RecordedRequest]:
        """Journaled requests matching the filters (``path`` without base prefix), oldest first."""
        with self._backend.lock:
            return self._backend.journal.select(api=api, method=method, path=path)

    def clear_journal(self) -> None:
        """Forget every journaled request."""
        with self._backend.lock:
            self._backend.journal.clear()


def _edition_for_put_removed(removed: bool) -> Edition:
    # ``gcore_put_removed`` predates the edition switch; other code still sets it, so it stays as
    # an alias with a warning rather than breaking it.
    warnings.warn(
        'gcore_put_removed is deprecated: use edition="2026-08" (PUT removed) or edition="2026-05"',
        DeprecationWarning,
        stacklevel=3,
    )
    return "2026-08" if removed else "2026-05"


def _fault_id(fault: Fault | int | None) -> int | None:
    return fault.id if isinstance(fault, Fault) else fault
