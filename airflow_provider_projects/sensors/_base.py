"""What both Gcore sensors share: the hook, failed-poll tolerance, reschedule state, deferral.

Imported at DAG parse time, so the hook, the HTTP stack and the triggers are imported only when a
sensor runs.
"""

from __future__ import annotations

import os
import sys
import warnings
from abc import abstractmethod
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

import airflow
from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue

import airflow_provider_projects
from airflow_provider_projects import _clock, defaults, validation
from airflow_provider_projects._tasks import HookOwner, checked_literal, default_deferrable

if TYPE_CHECKING:
    from airflow_provider_projects.hooks.gcore import GcoreHook
    from airflow_provider_projects.models.base import ApiModel
    from airflow_provider_projects.triggers.gcore import GcoreWaitTrigger
    from airflow_provider_projects.waiting import PollTolerance

STATE_KEY: Final = "gcore_sensor_wait"
#: Reschedule pokes closer than this met apache/airflow#71172 on Airflow 3.3.2 (the scheduler marks
#: a sensor FAILED at random, no error in its log: 4 of 6 at 5 s, none in 4 runs at 15 s). Drop
#: the warning below once an Airflow release with the fix is the oldest this package supports.
RESCHEDULE_SAFE_INTERVAL: Final = 15.0
#: Code between a sensor's warning and the DAG file that built the sensor: this package, Airflow.
_NOT_THE_DAG_FILE: Final = tuple(
    os.path.dirname(package.__file__ or "") + os.sep for package in (airflow_provider_projects, airflow)
)


def _warn_at_dag_file(message: str) -> None:
    """Warn with the DAG file's line that built the task, not a line of this package or of Airflow.

    Airflow's metaclass wraps each operator class's ``__init__``: how many frames stand between the
    warning and the DAG file depends on the subclass, so the frame is looked for, not counted.
    """
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_NOT_THE_DAG_FILE):
        frame = frame.f_back
    module_globals = frame.f_globals
    warnings.warn_explicit(
        message,
        UserWarning,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=module_globals.get("__name__"),
        registry=module_globals.setdefault("__warningregistry__", {}),
    )


class GcoreSensor(HookOwner["GcoreHook"], BaseSensorOperator):
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
        if self.mode == "reschedule" and not self.deferrable and interval < RESCHEDULE_SAFE_INTERVAL:
            _warn_at_dag_file(
                f"Task {task_id!r}: mode='reschedule' with poke_interval {interval:g} s can be marked FAILED "
                f"at random by Airflow's scheduler (apache/airflow#71172, open in Airflow 3.3.2). Use a "
                f"poke_interval of {RESCHEDULE_SAFE_INTERVAL:.0f} s or more, or deferrable=True."
            )

    def make_hook(self) -> GcoreHook:
        from airflow_provider_projects.hooks.gcore import GcoreHook

        return GcoreHook(self.gcore_conn_id)

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

    @abstractmethod
    def what(self) -> str:
        """What the sensor waits for, for log lines and errors."""

    @abstractmethod
    def check(self, context: Context) -> PokeReturnValue | bool:
        """One poll: done (with the XCom value) or not yet."""

    @abstractmethod
    def make_trigger(self, deadline: float, first_poll_at: float, failed_polls: int) -> GcoreWaitTrigger:
        """The trigger that waits in the triggerer, polling first at ``first_poll_at``."""

    @abstractmethod
    def event_model(self) -> type[ApiModel]:
        """The model of the value in the trigger's event."""

    @abstractmethod
    def finish(self, context: Context, value: Any) -> Any:
        """The sensor's XCom value once the wait is over (or the error that ends it)."""

    def execute(self, context: Context) -> Any:
        try:
            if not self.deferrable:
                return super().execute(context)
            return self._poke_then_defer(context)
        finally:
            self.close_hook()

    def _poke_then_defer(self, context: Context) -> Any:
        # Poke once on the worker: most locks are short, and a clear project needs no trigger.
        first = self.poke(context)
        if isinstance(first, PokeReturnValue) and first.is_done:
            return first.xcom_value
        now = _clock.now()
        # The poke above was this interval's poll, and a failed poke counts against the tolerance too.
        trigger = self.make_trigger(now + self.timeout, now + self.poke_interval, self.tolerance.failures)
        self.log.info("Deferring: %s will be polled every %.0f s from the triggerer", self.what(), self.poke_interval)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + defaults.DEFER_MARGIN),
        )

    def _trigger_kwargs(self, deadline: float, first_poll_at: float, failed_polls: int) -> dict[str, Any]:
        return {
            "deadline": deadline,
            "gcore_conn_id": self.gcore_conn_id,
            "poll_interval": self.poke_interval,
            "max_consecutive_errors": self.max_consecutive_errors,
            "first_poll_at": first_poll_at,
            "failed_polls": failed_polls,
        }

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
