"""Operator extra links to the vendors' consoles, built from the project the operator pushed to XCom.

The consoles' URL shapes are not part of either API's documentation; they are the addresses the
vendors' web apps use today and may change without notice, so a link is only a convenience.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.sdk import BaseOperatorLink

GCORE_CONSOLE = "https://portal.gcore.com/cloud/projects/{id}"
GCAI_CONSOLE = "https://app.gc.ai/projects/{id}"


class _ProjectLink(BaseOperatorLink):
    url_template: ClassVar[str]

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        project = XCom.get_value(ti_key=ti_key, key="return_value")
        if not isinstance(project, dict) or project.get("id") in (None, ""):
            return ""
        return self.url_template.format(id=project["id"])


class GcoreProjectLink(_ProjectLink):
    """ "Gcore project": the replaced project in the Gcore Customer Portal."""

    name = "Gcore project"
    url_template = GCORE_CONSOLE


class GcaiProjectLink(_ProjectLink):
    """ "GC AI project": the updated project in the GC AI app."""

    name = "GC AI project"
    url_template = GCAI_CONSOLE
