"""GcoreHook: Gcore Cloud projects and tasks (``Authorization: APIKey <key>``)."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow_provider_projects import validation
from airflow_provider_projects._http.dialect import GcoreDialect
from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.hooks.base import ProjectsApiHook, call_timeout
from airflow_provider_projects.models.gcore import GcoreProject, GcoreTask
from airflow_provider_projects.provider_info import GCORE_BASE_URL


def _path(project_id: int) -> str:
    return f"/cloud/v1/projects/{project_id}"


class GcoreHook(ProjectsApiHook):
    """Talks to Gcore Cloud with the API key of an Airflow connection of type ``gcore``.

    :param gcore_conn_id: the connection: API key in the password field, base URL in host
        (default ``https://api.gcore.com``), optional extras ``timeout`` and ``max_retries``.
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
        path = _path(validation.gcore_project_id(project_id))
        return self.transport.call("GET", path, GcoreProject, timeout=call_timeout(timeout))

    def replace_project(
        self,
        project_id: int | str,
        *,
        name: str,
        description: str | None = None,
        use_patch: bool = False,
        timeout: float | None = None,
    ) -> GcoreProject:
        """Replace the project's name and description; a description not given is cleared.

        Sends ``PUT /cloud/v1/projects/{project_id}`` with both fields always present
        (``"description": null`` clears it). Gcore deprecated that PUT in favour of
        ``PATCH /cloud/v1/projects/{project_id}``; with ``use_patch=True`` the same body goes by
        PATCH, which changes exactly the fields sent, so a PATCH carrying both fields is the same
        replacement. A 409 raises :class:`LockConflictError` with the holding task's id.
        """
        path = _path(validation.gcore_project_id(project_id))
        body = {"name": validation.gcore_name(name), "description": validation.gcore_description(description)}
        method = "PATCH" if use_patch else "PUT"
        return self.transport.call(method, path, GcoreProject, json_body=body, timeout=call_timeout(timeout))

    def get_task(self, task_id: str, *, timeout: float | None = None) -> GcoreTask:
        """``GET /cloud/v1/tasks/{task_id}``."""
        path = f"/cloud/v1/tasks/{validation.gcore_task_id(task_id)}"
        return self.transport.call("GET", path, GcoreTask, timeout=call_timeout(timeout))

    async def aget_project(self, project_id: int | str) -> GcoreProject:
        """Async ``GET /cloud/v1/projects/{project_id}`` for triggers."""
        path = _path(validation.gcore_project_id(project_id))
        return await (await self.async_transport()).call("GET", path, GcoreProject)

    async def aget_task(self, task_id: str) -> GcoreTask:
        """Async ``GET /cloud/v1/tasks/{task_id}`` for triggers."""
        path = f"/cloud/v1/tasks/{validation.gcore_task_id(task_id)}"
        return await (await self.async_transport()).call("GET", path, GcoreTask)

    def test_connection(self) -> tuple[bool, str]:
        """A cheap read-only call: list one project (what the UI's Test button runs)."""
        from airflow_provider_projects.models.base import ApiModel

        try:
            page = self.transport.call("GET", "/cloud/v1/projects", ApiModel, params={"limit": 1})
        except ProjectsApiError as error:
            return False, str(error)
        count = (page.model_extra or {}).get("count")
        assert self._settings is not None
        return (
            True,
            f"Connected to Gcore Cloud at {self._settings.base_url}: the key can read projects ({count} visible).",
        )
