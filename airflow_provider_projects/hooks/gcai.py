"""GcaiHook: GC AI projects (``Authorization: <raw key>``, ``gcai_...`` or ``u:gcai_...``)."""

from __future__ import annotations

from typing import Any, ClassVar, Final

from airflow_provider_projects import validation
from airflow_provider_projects._http.dialect import GcaiDialect
from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.hooks.base import ProjectsApiHook, call_timeout
from airflow_provider_projects.models.gcai import GcaiIdentity, GcaiProject
from airflow_provider_projects.provider_info import GCAI_BASE_URL
from airflow_provider_projects.unset import NOT_SET, NotSet
from airflow_provider_projects.validation import gcai_update_body

GCAI_KEY_PREFIXES: Final = ("gcai_", "u:gcai_")


class GcaiHook(ProjectsApiHook):
    """Talks to GC AI with the API key of an Airflow connection of type ``gcai``.

    :param gcai_conn_id: the connection: API key in the password field (``gcai_...`` for an
        organisation key, ``u:gcai_...`` for a personal key, sent raw), base URL in host
        (default ``https://app.gc.ai/api/external/v1``), optional extras ``timeout`` and ``max_retries``.
    """

    conn_type: ClassVar[str] = "gcai"
    conn_name_attr: ClassVar[str] = "gcai_conn_id"
    default_conn_name: ClassVar[str] = "gcai_default"
    hook_name: ClassVar[str] = "GC AI"
    default_base_url: ClassVar[str] = GCAI_BASE_URL
    dialect: ClassVar[GcaiDialect] = GcaiDialect()

    def __init__(self, gcai_conn_id: str = "gcai_default", **kwargs: Any) -> None:
        super().__init__(gcai_conn_id, **kwargs)
        self.gcai_conn_id = gcai_conn_id

    def check_key(self, key: str) -> None:
        if not key.startswith(GCAI_KEY_PREFIXES):
            self.log.warning(
                "Connection %r: GC AI keys start with 'gcai_' (organisation) or 'u:gcai_' "
                "(personal); this one does not, so GC AI will probably refuse it.",
                self.conn_id,
            )

    def get_project(self, project_id: str, *, timeout: float | None = None) -> GcaiProject:
        """``GET /projects/{id}``."""
        path = f"/projects/{validation.gcai_project_id(project_id)}"
        return self.transport.call("GET", path, GcaiProject, timeout=call_timeout(timeout))

    def update_project(
        self,
        project_id: str,
        *,
        name: str | NotSet = NOT_SET,
        description: str | NotSet | None = NOT_SET,
        custom_instructions: str | NotSet | None = NOT_SET,
        timeout: float | None = None,
    ) -> GcaiProject:
        """``PATCH /projects/{id}`` with only the fields given; ``None`` clears a field.

        >>> hook.update_project(pid, custom_instructions="Cite the MSA")  # body {"custom_instructions": "..."}
        >>> hook.update_project(pid, description=None)                   # body {"description": null}
        """
        body = gcai_update_body(name=name, description=description, custom_instructions=custom_instructions)
        return self.patch_project(project_id, body, timeout=timeout)

    def patch_project(
        self, project_id: str, body: dict[str, str | None], *, timeout: float | None = None
    ) -> GcaiProject:
        """``PATCH /projects/{id}`` with a body already built by ``validation.gcai_update_body``."""
        path = f"/projects/{validation.gcai_project_id(project_id)}"
        return self.transport.call("PATCH", path, GcaiProject, json_body=body, timeout=call_timeout(timeout))

    def identity(self) -> GcaiIdentity:
        """``GET /me``: the kind of key and its organisation (and user, for personal keys)."""
        return self.transport.call("GET", "/me", GcaiIdentity)

    def test_connection(self) -> tuple[bool, str]:
        """A cheap read-only call (``GET /me``) that also says whose key this is."""
        try:
            me = self.identity()
        except ProjectsApiError as error:
            return False, str(error)
        org = f"organisation {me.organization.name!r} (id {me.organization.id})"
        if me.user is not None:
            who = f"a personal key of user {me.user.email or me.user.id} in {org}"
        else:
            who = f"an organisation key of {org}"
        message = f"Connected to GC AI at {self.settings().base_url} with {who}."
        # Logged too: `airflow connections test -v` drops the returned message on a success but shows logs.
        self.log.info("%s", message)
        return True, message
