"""GcaiUpdateProjectOperator: change only the GC AI project fields you give (``PATCH /projects/{id}``).

Imported at DAG parse time: only Airflow's SDK and the pure-Python validation are imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, Context

from airflow_provider_projects import validation
from airflow_provider_projects._tasks import HookOwner, checked_literal, checked_unless_template, is_template
from airflow_provider_projects.links import GcaiProjectLink
from airflow_provider_projects.operators._common import describe_change
from airflow_provider_projects.unset import NOT_SET, NotSet

if TYPE_CHECKING:
    from airflow_provider_projects.hooks.gcai import GcaiHook
    from airflow_provider_projects.operators._write_guard import EarlierWrite

_FIELDS = ("name", "description", "custom_instructions")


class GcaiUpdateProjectOperator(HookOwner["GcaiHook"], BaseOperator):
    """Update a GC AI project: fields not given stay as they are; ``None`` clears a field.

    **Omitted is not None.** GC AI's PATCH changes only the fields it receives, so::

        GcaiUpdateProjectOperator(task_id="t", project_id=pid, custom_instructions="Cite clause numbers.")
        # sends {"custom_instructions": "Cite clause numbers."}: name and description untouched

        GcaiUpdateProjectOperator(task_id="t", project_id=pid, description=None)
        # sends {"description": null}: the description is cleared

    The fields are templated and the distinction survives rendering: a field left out is never
    rendered into anything. At least one field must be given (the API's answer to an empty PATCH
    is undocumented, so the operator refuses to send one).

    Returns the updated project as a dict with the API's field names (XCom ``return_value``).

    :param project_id: the project's UUID (templated).
    :param name: new name, not empty after trimming (templated).
    :param description: new description, or ``None`` to clear it (templated).
    :param custom_instructions: new custom instructions for chats, or ``None`` to clear them (templated).
    :param gcai_conn_id: the ``gcai`` connection.
    """

    template_fields: Sequence[str] = ("project_id", "name", "description", "custom_instructions")
    operator_extra_links = (GcaiProjectLink(),)
    ui_color = "#f3e8ff"

    def __init__(
        self,
        *,
        project_id: str,
        name: str | NotSet = NOT_SET,
        description: str | NotSet | None = NOT_SET,
        custom_instructions: str | NotSet | None = NOT_SET,
        gcai_conn_id: str = "gcai_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project_id = checked_unless_template(self.task_id, validation.gcai_project_id, project_id)
        self.name = name
        self.description = description
        self.custom_instructions = custom_instructions
        self.gcai_conn_id = gcai_conn_id
        # Literal values are checked when the DAG is parsed, each on its own (a templated neighbour
        # waits for rendering); an update with nothing at all to send is refused here too.
        changes = self._changes()
        literal = {field: NOT_SET if is_template(value) else value for field, value in changes.items()}
        if any(value is not NOT_SET for value in literal.values()) or not any(map(is_template, changes.values())):
            checked_literal(self.task_id, lambda fields: validation.gcai_update_body(**fields), literal)

    def _changes(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in _FIELDS}

    def make_hook(self) -> GcaiHook:
        from airflow_provider_projects.hooks.gcai import GcaiHook

        return GcaiHook(self.gcai_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        project_id = validation.gcai_project_id(self.project_id)
        body = validation.gcai_update_body(**self._changes())
        try:
            project = self._update(context, project_id, body)
        finally:
            self.close_hook()
        sent = tuple(body)
        kept = [field for field in _FIELDS if field not in body]
        summary = describe_change(None, project, sent)
        if kept:
            summary += f"; {', '.join(kept)} left as they were"
        self.log.info("GC AI project %s: %s", project_id, summary)
        return project

    def _update(self, context: Context, project_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send the PATCH once, unless an earlier try of this task already applied it."""
        from airflow_provider_projects.errors import ConcurrentChangeError
        from airflow_provider_projects.operators._write_guard import WriteGuard

        guard = WriteGuard(context)
        earlier = guard.earlier_write()
        if earlier is not None and earlier.desired == body:
            try:
                settled = self._settle_earlier_write(self.hook, project_id, body, earlier)
            except ConcurrentChangeError:
                guard.finish()  # the refusal is final; a deliberate re-run (clear) then applies the change
                raise
            if settled is not None:
                guard.finish()
                return settled
        guard.begin(desired=body, before=None)
        project = self.hook.patch_project(project_id, body).to_xcom()
        guard.finish()
        return project

    def _settle_earlier_write(
        self, hook: GcaiHook, project_id: str, body: dict[str, Any], earlier: EarlierWrite
    ) -> dict[str, Any] | None:
        """An earlier try crashed with this PATCH in flight: read once before sending it again.

        Returns the project if the change is already in place (nothing to send), ``None`` if it is
        safe to send; raises if the project changed after that try began, since sending again
        would overwrite a newer change. GC AI's ``updated_at`` (server clock) is compared with the
        worker's clock at that try's start: a worker clock running ahead of GC AI's by some
        seconds could miss a change made within those seconds.
        """
        from datetime import datetime

        from airflow_provider_projects.errors import ConcurrentChangeError

        project = hook.get_project(project_id)
        if {field: getattr(project, field) for field in body} == body:
            self.log.info("GC AI project %s already holds this change (an earlier try applied it)", project_id)
            return project.to_xcom()
        try:
            changed = datetime.fromisoformat(project.updated_at) > datetime.fromisoformat(earlier.started_at or "")
        except (TypeError, ValueError):
            changed = True  # cannot tell: the safe answer is not to overwrite
        if not changed:
            return None
        raise ConcurrentChangeError(
            f"GC AI project {project_id} was updated at {project.updated_at}, after try "
            f"{earlier.try_number} of this task started sending {body}. Not overwriting a newer "
            "change; clear the task to apply this one anyway."
        )
