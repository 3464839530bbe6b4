"""Sensors that wait for Gcore task locks: on a project, or on one task.

Both work in ``poke``, ``reschedule`` and deferrable mode, and judge failed polls with the same
:class:`~airflow_provider_projects.waiting.PollTolerance` as the triggers. Imported at DAG parse
time, so the hook, the HTTP stack and the triggers are imported only when a sensor runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue

from airflow_provider_projects import _clock, defaults, validation
from airflow_provider_projects.operators._common import checked_literal, checked_unless_template, default_deferrable

if TYPE_CHECKING:
    from airflow_provider_projects.hooks.gcore import GcoreHook
    from airflow_provider_projects.models.base import ApiModel
    from airflow_provider_projects.models.gcore import GcoreProjectLock, GcoreTask
    from airflow_provider_projects.triggers.gcore import GcoreWaitTrigger
    from airflow_provider_projects.waiting import PollTolerance

#: Task state store key of what a wait in reschedule mode has seen so far.
STATE_KEY: Final = "gcore_sensor_wait"


class _GcoreSensor(BaseSensorOperator):
    """What both sensors share: the hook, failed-poll tolerance, deferral and its ending."""

    def __init__(
        self,
        *,
        gcore_conn_id: str = "gcore_default",
        deferrable: bool | None = None,
        max_consecutive_errors: int = defaults.MAX_CONSECUTIVE_ERRORS,
        poke_interval: float = defaults.POLL_INTERVAL,
        timeout: float = defaults.SENSOR_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        task_id = kwargs.get("task_id")
        interval = poke_interval.total_seconds() if isinstance(poke_interval, timedelta) else poke_interval
        # 0 is fine for Airflow, not for an API: a wait would poll back to back for hours.
        checked_literal(task_id, validation.positive_seconds, interval, "poke_interval")
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.gcore_conn_id = gcore_conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.max_consecutive_errors = checked_literal(
            task_id, validation.error_count, max_consecutive_errors, "max_consecutive_errors"
        )
        self._restored = False
        self._tolerance_state: PollTolerance | None = None
        self._hook: GcoreHook | None = None

    @property
    def hook(self) -> GcoreHook:
        if self._hook is None:
            from airflow_provider_projects.hooks.gcore import GcoreHook

            self._hook = GcoreHook(self.gcore_conn_id)
        return self._hook

    @property
    def tolerance(self) -> PollTolerance:
        if self._tolerance_state is None:
            from airflow_provider_projects.waiting import PollTolerance

            self._tolerance_state = PollTolerance(self.max_consecutive_errors, log=self.log)
        return self._tolerance_state

    def poke(self, context: Context) -> PokeReturnValue | bool:
        from airflow_provider_projects.errors import ProjectsApiError
        from airflow_provider_projects.state_stores import TryRecord

        record = TryRecord(context, STATE_KEY)
        if self.reschedule and not self._restored:
            # Reschedule mode runs every poke in a fresh sensor: what earlier pokes saw (failed polls
            # in a row, the lock holder) comes back from the task state store.
            self._restored = True
            self.restore_state(record.from_this_try() or {})
        before = self.wait_state()
        try:
            result = self.check(context)
        except ProjectsApiError as error:
            ending = self.tolerance.judge(error, self.what())
            if ending is not None:
                raise ending from None
            result = False
        else:
            self.tolerance.judge(result, self.what())
        if self.reschedule:
            if isinstance(result, PokeReturnValue) and result.is_done:
                if any(before.values()):
                    record.clear()
            elif self.wait_state() != before:
                record.write(self.wait_state())
        return result

    # -- what a wait has seen so far, kept across reschedules --------------------------------------

    def wait_state(self) -> dict[str, Any]:
        """What the wait has seen so far (JSON-safe; falsy values mean nothing to keep)."""
        return {"failed_polls": self.tolerance.failures}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`wait_state` returned in an earlier poke."""
        self.tolerance.failures = int(state.get("failed_polls") or 0)

    def what(self) -> str:
        raise NotImplementedError

    def check(self, context: Context) -> PokeReturnValue | bool:
        """One poll: done (with the XCom value) or not yet."""
        raise NotImplementedError

    def make_trigger(self, deadline: float) -> GcoreWaitTrigger:
        raise NotImplementedError

    def event_model(self) -> type[ApiModel]:
        raise NotImplementedError

    def finish(self, context: Context, value: Any) -> Any:
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        # Poke once on the worker: most locks are short, and a clear project needs no trigger.
        first = self.poke(context)
        if isinstance(first, PokeReturnValue) and first.is_done:
            return first.xcom_value
        now = _clock.now()
        trigger = self.make_trigger(now + self.timeout)
        trigger.first_poll_at = now + self.poke_interval  # the poke above was this interval's poll
        trigger.failed_polls = self.tolerance.failures  # a failed poke counts against the tolerance too
        self.log.info("Deferring: %s will be polled every %.0f s from the triggerer", self.what(), self.poke_interval)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + defaults.DEFER_MARGIN),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Turn the trigger's event into a result, a sensor timeout, or the typed error."""
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

        from airflow_provider_projects.waiting import WaitOutcome

        outcome = WaitOutcome.from_event(event, self.event_model())
        if outcome.status == "done":
            return self.finish(context, outcome.value)
        if outcome.status == "timeout":
            seen = f"; last seen: {outcome.last_seen.summary()}" if outcome.last_seen is not None else ""
            message = (
                f"{self.task_id}: {self.what()} did not end within timeout {self.timeout:.0f} s "
                f"({outcome.polls} polls){seen}"
            )
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        assert outcome.error is not None
        raise outcome.error


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
        holder = self.hook.get_task(self._lock_task_id) if self._lock_task_id is not None else None
        return PokeReturnValue(
            is_done=True, xcom_value=self.finish(context, GcoreProjectLock(project=project, holder=holder))
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

    def event_model(self) -> type[ApiModel]:
        from airflow_provider_projects.models.gcore import GcoreProjectLock

        return GcoreProjectLock

    def finish(self, context: Context, value: GcoreProjectLock) -> Any:
        project, holder = value.project, value.holder
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


class GcoreTaskSensor(_GcoreSensor):
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

    def make_trigger(self, deadline: float) -> GcoreWaitTrigger:
        from airflow_provider_projects.triggers.gcore import GcoreTaskTrigger

        return GcoreTaskTrigger(
            gcore_task_id=validation.gcore_task_id(self.gcore_task_id),
            deadline=deadline,
            gcore_conn_id=self.gcore_conn_id,
            poll_interval=self.poke_interval,
            max_consecutive_errors=self.max_consecutive_errors,
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
