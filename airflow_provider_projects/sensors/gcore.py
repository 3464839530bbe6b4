"""Sensors that wait for Gcore task locks: on a project, or on one task.

Both work in ``poke``, ``reschedule`` and deferrable mode. Imported at DAG parse time, so the
hook, the HTTP stack and the triggers are imported only when a sensor runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue

from airflow_provider_projects import validation
from airflow_provider_projects.operators._common import default_deferrable, is_template

if TYPE_CHECKING:
    from airflow_provider_projects.hooks.gcore import GcoreHook
    from airflow_provider_projects.triggers.gcore import GcoreWaitTrigger

#: A wait always ends: two hours, as long as the Gcore SDK's own task wait.
DEFAULT_SENSOR_TIMEOUT: Final = 2 * 60 * 60.0
DEFAULT_POKE_INTERVAL: Final = 10.0
#: Room left for the trigger's own timeout event before Airflow's deferral timeout would fire.
DEFER_MARGIN: Final = 120.0


class _GcoreSensor(BaseSensorOperator):
    """What both sensors share: the hook, transient-error tolerance, deferral and its ending."""

    def __init__(
        self,
        *,
        gcore_conn_id: str = "gcore_default",
        deferrable: bool | None = None,
        max_consecutive_errors: int = 5,
        poke_interval: float = DEFAULT_POKE_INTERVAL,
        timeout: float = DEFAULT_SENSOR_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.gcore_conn_id = gcore_conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.max_consecutive_errors = max_consecutive_errors
        self._failed_polls = 0
        self._hook: GcoreHook | None = None

    @property
    def hook(self) -> GcoreHook:
        if self._hook is None:
            from airflow_provider_projects.hooks.gcore import GcoreHook

            self._hook = GcoreHook(self.gcore_conn_id)
        return self._hook

    def poke(self, context: Context) -> PokeReturnValue | bool:
        from airflow_provider_projects.waiting import TRANSIENT_ERRORS

        try:
            result = self.check(context)
        except TRANSIENT_ERRORS as error:
            # Each call already retried inside the HTTP core; a few bad polls in a row are tolerated too.
            self._failed_polls += 1
            if self._failed_polls > self.max_consecutive_errors:
                raise
            self.log.warning(
                "Poll failed (%d in a row, tolerating %d): %s", self._failed_polls, self.max_consecutive_errors, error
            )
            return False
        self._failed_polls = 0
        return result

    def check(self, context: Context) -> PokeReturnValue | bool:
        """One poll: done (with the XCom value) or not yet."""
        raise NotImplementedError

    def make_trigger(self, deadline: float) -> GcoreWaitTrigger:
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        # Poke once on the worker: most locks are short, and a clear project needs no trigger.
        first = self.poke(context)
        if isinstance(first, PokeReturnValue) and first.is_done:
            return first.xcom_value
        deadline = time.time() + self.timeout
        self.defer(
            trigger=self.make_trigger(deadline),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + DEFER_MARGIN),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Turn the trigger's event into a result, a sensor timeout, or the typed error."""
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

        from airflow_provider_projects.triggers.gcore import error_from_event

        status = event.get("status")
        if status == "success":
            return self.finish(context, event)
        if status == "timeout":
            message = f"{self.task_id}: {event.get('message')} (timeout {self.timeout:.0f} s)"
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        raise error_from_event(event)

    def finish(self, context: Context, event: dict[str, Any]) -> Any:
        raise NotImplementedError


class GcoreProjectUnlockedSensor(_GcoreSensor):
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
        self.project_id = project_id if is_template(project_id) else validation.gcore_project_id(project_id)
        self.fail_on_lock_error = fail_on_lock_error
        self._lock_task_id: str | None = None

    def check(self, context: Context) -> PokeReturnValue | bool:
        project = self.hook.get_project(self.project_id)
        if project.task_id is not None:
            if project.task_id != self._lock_task_id:
                self.log.info("Gcore project %s is locked by task %s", project.id, project.task_id)
            self._lock_task_id = project.task_id
            return False
        lock_task = None
        if self._lock_task_id is not None:
            lock_task = self.hook.get_task(self._lock_task_id).to_xcom()
        return PokeReturnValue(
            is_done=True, xcom_value=self.finish(context, {"project": project.to_xcom(), "lock_task": lock_task})
        )

    def make_trigger(self, deadline: float) -> GcoreWaitTrigger:
        from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger

        return GcoreProjectUnlockedTrigger(
            project_id=validation.gcore_project_id(self.project_id),
            lock_task_id=self._lock_task_id,
            deadline=deadline,
            gcore_conn_id=self.gcore_conn_id,
            poll_interval=self.poke_interval,
            max_consecutive_errors=self.max_consecutive_errors,
        )

    def finish(self, context: Context, event: dict[str, Any]) -> Any:
        project: dict[str, Any] = event["project"]
        lock_task: dict[str, Any] | None = event.get("lock_task")
        if lock_task is not None:
            context["ti"].xcom_push(key="lock_task", value=lock_task)
            if lock_task.get("state") == "ERROR":
                from airflow_provider_projects.errors import GcoreTaskFailedError

                message = (
                    f"Gcore project {project['id']} is unlocked, but the task that held the lock "
                    f"({lock_task.get('task_type')} {lock_task.get('id')}) ended in ERROR: {lock_task.get('error')}"
                )
                if self.fail_on_lock_error:
                    raise GcoreTaskFailedError(
                        message, task_id=str(lock_task.get("id")), task_error=lock_task.get("error")
                    )
                self.log.warning("%s", message)
        self.log.info("Gcore project %s is unlocked", project["id"])
        return project


class GcoreTaskSensor(_GcoreSensor):
    """Waits for a Gcore task to end: ``FINISHED`` succeeds, ``ERROR`` fails with the task's error text.

    Returns the task as a dict (XCom ``return_value``).

    :param gcore_task_id: the task's UUID (templated), e.g. from a 409 or a project's ``task_id``.
    """

    template_fields: Sequence[str] = ("gcore_task_id",)
    ui_color = "#c9f2e6"

    def __init__(self, *, gcore_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gcore_task_id = gcore_task_id if is_template(gcore_task_id) else validation.gcore_task_id(gcore_task_id)

    def check(self, context: Context) -> PokeReturnValue | bool:
        task = self.hook.get_task(self.gcore_task_id)
        if not task.finished:
            self.log.info("Gcore task %s (%s) is %s", task.id, task.task_type, task.state)
            return False
        return PokeReturnValue(is_done=True, xcom_value=self.finish(context, {"task": task.to_xcom()}))

    def make_trigger(self, deadline: float) -> GcoreWaitTrigger:
        from airflow_provider_projects.triggers.gcore import GcoreTaskTrigger

        return GcoreTaskTrigger(
            gcore_task_id=validation.gcore_task_id(self.gcore_task_id),
            deadline=deadline,
            gcore_conn_id=self.gcore_conn_id,
            poll_interval=self.poke_interval,
            max_consecutive_errors=self.max_consecutive_errors,
        )

    def finish(self, context: Context, event: dict[str, Any]) -> Any:
        task: dict[str, Any] = event["task"]
        if task.get("state") == "ERROR":
            from airflow_provider_projects.errors import GcoreTaskFailedError

            raise GcoreTaskFailedError(
                f"Gcore task {task.get('id')} ({task.get('task_type')}) ended in ERROR: {task.get('error')}",
                task_id=str(task.get("id")),
                task_error=task.get("error"),
            )
        self.log.info("Gcore task %s (%s) finished", task.get("id"), task.get("task_type"))
        return task
