"""GcoreHook: Gcore Cloud projects and tasks (``Authorization: APIKey <key>``)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Literal

from airflow_provider_projects import validation
from airflow_provider_projects._http.dialect import GcoreDialect
from airflow_provider_projects.errors import MethodNotAllowedError, NotFoundError, ProjectsApiError
from airflow_provider_projects.hooks.base import ProjectsApiHook, call_timeout
from airflow_provider_projects.hooks.settings import shown_url
from airflow_provider_projects.models.gcore import GcoreProject, GcoreTask
from airflow_provider_projects.provider_info import GCORE_BASE_URL
from airflow_provider_projects.waiting import Wait, WaitOutcome, poll_flow

#: How a replace writes: ``"PATCH"`` (the default), ``"PUT"``, or ``"auto"`` (PUT, then PATCH where PUT answers 405).
ReplaceMethod = Literal["auto", "PUT", "PATCH"]

#: (connection id, base URL) pairs whose PUT answered 405 in this process: ``auto`` goes straight
#: to PATCH for them. Per process, like a connection pool: a new worker process asks PUT once.
_put_removed: set[tuple[str, str]] = set()
_put_removed_lock = threading.Lock()


def project_path(project_id: int) -> str:
    return f"/cloud/v1/projects/{project_id}"


def task_path(task_id: str) -> str:
    return f"/cloud/v1/tasks/{task_id}"


class GcoreHook(ProjectsApiHook):
    """Talks to Gcore Cloud with the API key of an Airflow connection of type ``gcore``.

    :param gcore_conn_id: the connection: API key in the password field, base URL in host
        (default ``https://api.gcore.com``), optional extras ``timeout``, ``max_retries``,
        ``proxy``, ``verify``, ``cert``, ``cert_key`` and ``allow_insecure_http``.
    """

    conn_type: ClassVar[str] = "gcore"
    conn_name_attr: ClassVar[str] = "gcore_conn_id"
    default_conn_name: ClassVar[str] = "gcore_default"
    hook_name: ClassVar[str] = "Gcore Cloud"
    default_base_url: ClassVar[str] = GCORE_BASE_URL
    dialect: ClassVar[GcoreDialect] = GcoreDialect()

    def __init__(self, gcore_conn_id: str = "gcore_default", **kwargs: Any) -> None:
        super().__init__(gcore_conn_id, **kwargs)
        self.gcore_conn_id = gcore_conn_id

    def get_project(self, project_id: int | str, *, timeout: float | None = None) -> GcoreProject:
        """``GET /cloud/v1/projects/{project_id}``."""
        path = project_path(validation.gcore_project_id(project_id))
        return self.transport.call("GET", path, GcoreProject, timeout=call_timeout(timeout))

    def replace_project(
        self,
        project_id: int | str,
        *,
        name: str,
        description: str | None = None,
        method: ReplaceMethod = "PATCH",
        timeout: float | None = None,
    ) -> GcoreProject:
        """Replace the project's name and description; a description not given is cleared.

        ``method="PATCH"`` (the default) sends ``PATCH /cloud/v1/projects/{project_id}`` with both
        fields: PATCH changes exactly the fields sent, so carrying both makes it a replacement.
        PATCH types ``description`` as a plain string, never null, so a cleared description is sent
        as ``""``. Both spec editions (2026-05 and the current 2026-08) list PATCH, so it is one
        write everywhere. ``method="PUT"`` sends the deprecated ``PUT`` (``"description": null``
        clears it), which the current edition no longer lists (405). ``method="auto"`` sends PUT
        and, on 405 (which applied nothing), the same replacement by PATCH, and remembers for this
        process and connection to send PATCH first. A 409 raises :class:`LockConflictError`
        naming the task that holds the lock.
        """
        method = validation.gcore_replace_method(method)  # type: ignore[assignment]
        path = project_path(validation.gcore_project_id(project_id))
        name = validation.gcore_name(name)
        description = validation.gcore_description(description)
        memory = (self.conn_id, self.settings().base_url)
        if method == "PUT" or (method == "auto" and memory not in _put_removed):
            try:
                return self._send_replacement("PUT", path, name, description, timeout)
            except MethodNotAllowedError:
                if method == "PUT":
                    raise
                self._remember_put_removed(memory, path)
        return self._send_replacement("PATCH", path, name, "" if description is None else description, timeout)

    def _send_replacement(
        self, method: str, path: str, name: str, description: str | None, timeout: float | None
    ) -> GcoreProject:
        body = {"name": name, "description": description}
        return self.transport.call(method, path, GcoreProject, json_body=body, timeout=call_timeout(timeout))

    def _remember_put_removed(self, memory: tuple[str, str], path: str) -> None:
        with _put_removed_lock:
            first = memory not in _put_removed
            _put_removed.add(memory)
        if first:
            # The real URL, not a template: the Airflow UI turns URLs in task logs into links.
            self.log.warning(
                "Gcore answered 405 to PUT %s: PUT is deprecated (since 2025-12) and gone from Gcore's current "
                "API; sending the same replacement with PATCH, and PATCH first from now on for connection %r in "
                "this process. Leave method at its default ('PATCH') to skip the PUT.",
                shown_url(memory[1] + path),
                self.conn_id,
            )

    def get_task(self, task_id: str, *, timeout: float | None = None) -> GcoreTask:
        """``GET /cloud/v1/tasks/{task_id}``."""
        path = task_path(validation.gcore_task_id(task_id))
        return self.transport.call("GET", path, GcoreTask, timeout=call_timeout(timeout))

    def wait_for_task(self, task_id: str, *, deadline: float, poll_interval: float) -> WaitOutcome[GcoreTask]:
        """Poll a task on this worker until it ends (``FINISHED`` or ``ERROR``) or ``deadline`` passes."""
        path = task_path(validation.gcore_task_id(task_id))
        core = self.transport.core
        wait = task_wait(task_id, deadline=deadline, poll_interval=poll_interval, log=self.log)
        return self.transport.run(poll_flow(wait, lambda: core.call("GET", path, GcoreTask)))

    async def aget_project(self, project_id: int | str) -> GcoreProject:
        """Async ``GET /cloud/v1/projects/{project_id}`` for triggers."""
        path = project_path(validation.gcore_project_id(project_id))
        return await (await self.atransport()).call("GET", path, GcoreProject)

    async def aget_task(self, task_id: str) -> GcoreTask:
        """Async ``GET /cloud/v1/tasks/{task_id}`` for triggers."""
        path = task_path(validation.gcore_task_id(task_id))
        return await (await self.atransport()).call("GET", path, GcoreTask)

    def test_connection(self) -> tuple[bool, str]:
        """A cheap read-only call: list one project (what the UI's Test button runs)."""
        from airflow_provider_projects.models.base import ApiModel

        try:
            page = self.transport.call("GET", "/cloud/v1/projects", ApiModel, params={"limit": 1})
        except ProjectsApiError as error:
            return False, str(error)
        count = (page.model_extra or {}).get("count")
        message = (
            f"Connected to Gcore Cloud at {self.settings().base_url}: the key can read projects ({count} visible)."
        )
        # Logged too: `airflow connections test -v` drops the returned message on a success but shows logs.
        self.log.info("%s", message)
        return True, message


def task_wait(
    task_id: str, *, deadline: float, poll_interval: float, failed_polls: int = 0, **options: Any
) -> Wait[GcoreTask]:
    """The wait for a Gcore task to end, as the operator, the sensor and the trigger all judge it."""
    from airflow_provider_projects.waiting import PollTolerance

    return Wait(
        what=f"Gcore task {task_id}",
        is_done=lambda task: task.finished,
        deadline=deadline,
        poll_interval=poll_interval,
        tolerance=PollTolerance(failures=failed_polls, **options),
    )


def ended_holder(hook: GcoreHook, holder_id: str, log: Any) -> GcoreTask | None:
    """The task that held a lock now cleared, read once; ``None`` (logged on ``log``) if it cannot be read.

    A task Gcore no longer knows (404) is said apart from a failed read: neither tells how it ended.
    """
    try:
        return hook.get_task(holder_id)
    except NotFoundError:
        log.warning(
            "Gcore task %s, which held the lock, could not be found (HTTP 404): how it ended is unknown", holder_id
        )
    except ProjectsApiError as error:
        log.warning("Could not read how Gcore task %s, which held the lock, ended: %s", holder_id, error)
    return None
