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
#: Task state store key of what a wait in reschedule mode has seen so far.
STATE_KEY: Final = "gcore_sensor_wait"


def _try_number(context: Context) -> int | None:
    ti: Any = context.get("ti")
    number = getattr(ti, "try_number", None)
    return number if isinstance(number, int) else None


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
        interval = poke_interval.total_seconds() if isinstance(poke_interval, timedelta) else poke_interval
        # 0 is fine for Airflow, not for an API: a wait would poll back to back for hours.
        validation.positive_seconds(interval, "poke_interval")
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.gcore_conn_id = gcore_conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.max_consecutive_errors = validation.error_count(max_consecutive_errors, "max_consecutive_errors")
        self._failed_polls = 0
        self._restored = False
        self._hook: GcoreHook | None = None

    @property
    def hook(self) -> GcoreHook:
        if self._hook is None:
            from airflow_provider_projects.hooks.gcore import GcoreHook

            self._hook = GcoreHook(self.gcore_conn_id)
        return self._hook

    def poke(self, context: Context) -> PokeReturnValue | bool:
        from airflow_provider_projects.waiting import TRANSIENT_ERRORS

        if self.reschedule and not self._restored:
            # Reschedule mode runs every poke in a fresh sensor: what earlier pokes saw (failed polls
            # in a row, the lock holder) comes back from the task state store.
            self._restored = True
            self.restore_state(self._read_state(context))
        before = self.wait_state()
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
            result = False
        else:
            self._failed_polls = 0
        if self.reschedule:
            if isinstance(result, PokeReturnValue) and result.is_done:
                if any(before.values()):
                    self._write_state(context, None)
            elif self.wait_state() != before:
                self._write_state(context, self.wait_state())
        return result

    # -- what a wait has seen so far, kept across reschedules --------------------------------------

    def wait_state(self) -> dict[str, Any]:
        """What the wait has seen so far (JSON-safe; falsy values mean nothing to keep)."""
        return {"failed_polls": self._failed_polls}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`wait_state` returned in an earlier poke."""
        self._failed_polls = int(state.get("failed_polls") or 0)

    def _read_state(self, context: Context) -> dict[str, Any]:
        store: Any = context.get("task_state_store")
        if store is None:
            return {}
        try:
            state = store.get(STATE_KEY)
        except Exception as error:  # an Airflow without a task state store API: each poke starts afresh
            self.log.debug("Cannot read the task state store: %s", error)
            return {}
        if not isinstance(state, dict) or state.get("try_number") != _try_number(context):
            return {}  # nothing kept, or kept by an earlier try of this task
        return state

    def _write_state(self, context: Context, state: dict[str, Any] | None) -> None:
        store: Any = context.get("task_state_store")
        if store is None:
            return
        try:
            if state is None:
                store.delete(STATE_KEY)
            else:
                store.set(STATE_KEY, {**state, "try_number": _try_number(context)})
        except Exception as error:
            self.log.debug("Cannot write the task state store: %s", error)

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
        now = time.time()
        trigger = self.make_trigger(now + self.timeout)
        trigger.first_poll_at = now + self.poke_interval  # the poke above was this interval's poll
        trigger.failed_polls = self._failed_polls  # a failed poke counts against the tolerance too
        self.defer(
            trigger=trigger,
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

    def wait_state(self) -> dict[str, Any]:
        return {**super().wait_state(), "lock_task_id": self._lock_task_id}

    def restore_state(self, state: dict[str, Any]) -> None:
        super().restore_state(state)
        lock_task_id = state.get("lock_task_id")
        self._lock_task_id = lock_task_id if isinstance(lock_task_id, str) else None

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
