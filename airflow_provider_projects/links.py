"""Operator extra links to the vendors' consoles, built from the project the operator pushed to XCom.

The consoles' URL shapes are not part of either API's documentation; they are the addresses the
vendors' web apps use today and may change without notice, so a link is only a convenience.

Airflow 3 computes every extra link once, in the task process, when the task stops running:
after a success, but also when it defers, fails or is up for retry. Only a success has pushed
the project; asking for a ``return_value`` that does not exist makes Airflow 3.3's supervisor
log ``[error] XCom not found`` (its ``GetXCom`` handler logs every 404 at error level, whatever
the caller expected), right under the real error of a failed task. So the link reads XCom only
after a success.

A link is made only when the connection points at the vendor's own API (its host empty, or the
default base URL): a project on the emulator or a staging host has no page in the vendor's console.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from airflow.sdk import BaseOperatorLink

from airflow_provider_projects.provider_info import GCAI_BASE_URL, GCORE_BASE_URL

GCORE_CONSOLE = "https://portal.gcore.com/cloud/projects/{id}"
GCAI_CONSOLE = "https://app.gc.ai/projects/{id}"


def is_vendor_api(host: str | None, default_base_url: str) -> bool:
    """True when a connection's host field means the vendor's API: empty, or its default base URL.

    Compared the way the hooks read the field: surrounding blanks, a trailing slash, letter case
    of scheme and host, and a missing ``https://`` do not make another destination.
    """
    host = (host or "").strip().rstrip("/")
    if not host:
        return True
    if "://" not in host:
        host = f"https://{host}"

    def key(url: str) -> tuple[str, str, str]:
        parts = urlsplit(url)
        return parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/")

    return key(host) == key(default_base_url)


class _ProjectLink(BaseOperatorLink):
    url_template: ClassVar[str]
    #: The operator attribute holding the connection id, and that connection type's default base URL.
    conn_id_attr: ClassVar[str]
    default_base_url: ClassVar[str]

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        # In the task process ti_key is the running task instance, which carries the state it is
        # stopping in; anything but a success has no return_value to read (see the module doc).
        # Called with a bare key (no state), it reads as before.
        state = getattr(ti_key, "state", None)
        if state is not None and state != "success":
            return ""
        if not getattr(operator, "do_xcom_push", True) or not self._points_at_vendor(operator):
            return ""
        from airflow.sdk.execution_time.xcom import XCom

        project = XCom.get_value(ti_key=ti_key, key="return_value")
        if not isinstance(project, dict) or project.get("id") in (None, ""):
            return ""
        return self.url_template.format(id=project["id"])

    def _points_at_vendor(self, operator: Any) -> bool:
        conn_id = getattr(operator, self.conn_id_attr, None)
        if not conn_id:
            return False
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            return False
        return is_vendor_api(conn.host, self.default_base_url)


class GcoreProjectLink(_ProjectLink):
    """ "Gcore project": the replaced project in the Gcore Customer Portal."""

    name = "Gcore project"
    url_template = GCORE_CONSOLE
    conn_id_attr = "gcore_conn_id"
    default_base_url = GCORE_BASE_URL


class GcaiProjectLink(_ProjectLink):
    """ "GC AI project": the updated project in the GC AI app."""

    name = "GC AI project"
    url_template = GCAI_CONSOLE
    conn_id_attr = "gcai_conn_id"
    default_base_url = GCAI_BASE_URL
