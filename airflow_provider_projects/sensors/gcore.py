"""Sensors that wait for Gcore task locks: on a project, or on one task.

Both work in ``poke``, ``reschedule`` and deferrable mode, and judge failed polls with the same
:class:`~airflow_provider_projects.waiting.PollTolerance` as the triggers. Imported at DAG parse
time, so the hook, the HTTP stack and the triggers are imported only when a sensor runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context, PokeReturnValue

from airflow_provider_projects import validation
from airflow_provider_projects._tasks import checked_unless_template
from airflow_provider_projects.sensors._base import GcoreSensor

if TYPE_CHECKING:
    from airflow_provider_projects.models.base import ApiModel
    from airflow_provider_projects.models.gcore import GcoreProjectLock, GcoreTask
    from airflow_provider_projects.triggers.gcore import GcoreWaitTrigger


class GcoreProjectUnlockedSensor(GcoreSensor):
    """Waits until no task holds a lock on a Gcore project (its ``task_id`` is null).

    Returns the project as a dict (XCom ``return_value``). If the task that held the lock ended in
    ``ERROR``, that is logged and the task is pushed to XCom under ``lock_task``; with
    ``fail_on_lock_error=True`` the sensor fails instead.

    :param project_id: the Gcore project id (templated).
    :param gcore_conn_id: the ``gcore`` connection.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param fail_on_lock_error: fail when the lock's task ended in ``ERROR``.
    :param max_consecutive_errors: failed polls in a row (5xx, timeouts) tolerated before failing.
    :param poke_interval: seconds between polls (default 10; Gcore recommends 5-30).
    :param timeout: seconds before the wait gives up (default 7200).
    """

    template_fields: Sequence[str] = ("project_id",)
    ui_color = "#c9f2e6"

    def __init__(self, *, project_id: int | str, fail_on_lock_error: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_id = checked_unless_template(self.task_id, validation.gcore_project_id, project_id)
        self.fail_on_lock_error = fail_on_lock_error
        self._lock_task_id: str | None = None

    def what(self) -> str:
        return f"the lock on Gcore project {self.project_id}"

    def check(self, context: Context) -> PokeReturnValue | bool:
        from airflow_provider_projects.models.gcore import GcoreProjectLock

        project = self.hook.get_project(self.project_id)
        if project.task_id is not None:
            if project.task_id != self._lock_task_id:
                self.log.info("Gcore project %s is locked by task %s", project.id, project.task_id)
            self._lock_task_id = project.task_id
            return False
        # The holder is read once, in finish(), as after a deferral: one way, and a failed read there
        # is logged instead of failing a poll whose answer (unlocked) is already in.
        return PokeReturnValue(is_done=True, xcom_value=self.finish(context, GcoreProjectLock(project=project)))

    def wait_state(self) -> dict[str, Any]:
        return {**super().wait_state(), "lock_task_id": self._lock_task_id}

    def restore_state(self, state: dict[str, Any]) -> None:
        super().restore_state(state)
        lock_task_id = state.get("lock_task_id")
        self._lock_task_id = lock_task_id if isinstance(lock_task_id, str) else None

    def make_trigger(self, deadline: float, first_poll_at: float, failed_polls: int) -> GcoreWaitTrigger:
        from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger

        return GcoreProjectUnlockedTrigger(
            project_id=validation.gcore_project_id(self.project_id),
            lock_task_id=self._lock_task_id,
            read_holder=False,  # read on the worker when the sensor resumes (see execute_complete)
            **self._trigger_kwargs(deadline, first_poll_at, failed_polls),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """As the base does; the task that held the lock, named by the event, is read here (once)."""
        holder_id = event.get("lock_task_id")
        if isinstance(holder_id, str):
            self._lock_task_id = holder_id
        try:
            return super().execute_complete(context, event)
        finally:
            self.close_hook()

    def event_model(self) -> type[ApiModel]:
        from airflow_provider_projects.models.gcore import GcoreProjectLock

        return GcoreProjectLock

    def finish(self, context: Context, value: GcoreProjectLock) -> Any:
        project, holder = value.project, value.holder
        if holder is None and self._lock_task_id is not None:
            from airflow_provider_projects.hooks.gcore import ended_holder

            holder = ended_holder(self.hook, self._lock_task_id, self.log)
        if holder is not None:
            context["ti"].xcom_push(key="lock_task", value=holder.to_xcom())
            if holder.failed:
                from airflow_provider_projects.errors import GcoreTaskFailedError

                message = (
                    f"Gcore project {project.id} is unlocked, but the task that held the lock "
                    f"({holder.task_type} {holder.id}) ended in ERROR: {holder.error}"
                )
                if self.fail_on_lock_error:
                    raise GcoreTaskFailedError(message, task_id=holder.id, task_error=holder.error)
                self.log.warning("%s", message)
        self.log.info("Gcore project %s is unlocked", project.id)
        return project.to_xcom()


class GcoreTaskSensor(GcoreSensor):
    """Waits for a Gcore task to end: ``FINISHED`` succeeds, ``ERROR`` fails with the task's error text.

    Returns the task as a dict (XCom ``return_value``).

    :param gcore_task_id: the task's UUID (templated), e.g. from a 409 or a project's ``task_id``.
    """

    template_fields: Sequence[str] = ("gcore_task_id",)
    ui_color = "#c9f2e6"

    def __init__(self, *, gcore_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gcore_task_id = checked_unless_template(self.task_id, validation.gcore_task_id, gcore_task_id)

    def what(self) -> str:
        return f"Gcore task {self.gcore_task_id}"

    def check(self, context: Context) -> PokeReturnValue | bool:
        task = self.hook.get_task(self.gcore_task_id)
        if not task.finished:
            self.log.info("Gcore %s", task.summary())
            return False
        return PokeReturnValue(is_done=True, xcom_value=self.finish(context, task))

    def make_trigger(self, deadline: float, first_poll_at: float, failed_polls: int) -> GcoreWaitTrigger:
        from airflow_provider_projects.triggers.gcore import GcoreTaskTrigger

        return GcoreTaskTrigger(
            gcore_task_id=validation.gcore_task_id(self.gcore_task_id),
            **self._trigger_kwargs(deadline, first_poll_at, failed_polls),
        )

    def event_model(self) -> type[ApiModel]:
        from airflow_provider_projects.models.gcore import GcoreTask

        return GcoreTask

    def finish(self, context: Context, value: GcoreTask) -> Any:
        if value.failed:
            from airflow_provider_projects.errors import GcoreTaskFailedError

            raise GcoreTaskFailedError(
                f"Gcore task {value.id} ({value.task_type}) ended in ERROR: {value.error}",
                task_id=value.id,
                task_error=value.error,
            )
        self.log.info("Gcore task %s (%s) finished", value.id, value.task_type)
        return value.to_xcom()
