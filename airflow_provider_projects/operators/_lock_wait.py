"""How the replace operator waits for a Gcore project's lock: here on the worker, or in the triggerer.

Imported at DAG parse time (the operator's base class): the hook, the models and the triggers
load only when a wait happens.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_projects import _clock, defaults
from airflow_provider_projects._tasks import HookOwner

if TYPE_CHECKING:
    from airflow_provider_projects.hooks.gcore import GcoreHook
    from airflow_provider_projects.models.gcore import GcoreProjectLock, GcoreTask
    from airflow_provider_projects.waiting import WaitOutcome


class LockAwareOperator(HookOwner["GcoreHook"], BaseOperator):
    """An operator that waits, within ``lock_timeout``, for the task holding a project's lock.

    On the worker it polls the holder until it ends (``FINISHED`` or ``ERROR``); deferrable, it
    hands the wait to the triggerer, which waits for the project's lock to clear (the polls of a
    project are shared by every wait on its account, see ``triggers/_project_locks.py``); how the
    holder ended is read once, on resuming, and only if ``fail_on_lock_error`` needs to know.
    """

    gcore_conn_id: str
    poll_interval: float
    lock_timeout: float
    fail_on_lock_error: bool
    deferrable: bool

    def __init__(self, **kwargs: Any) -> None:
        # Not redundant: Airflow's metaclass wraps an inherited __init__ in this class too, and
        # ``partial()`` reads every class's __init__ signature for defaults; through the wrapper it
        # saw BaseOperator's ``inlets=None`` and ``outlets=None``, and each mapped replace then
        # failed building its context ("'NoneType' object is not iterable") before it ran.
        super().__init__(**kwargs)

    def make_hook(self) -> GcoreHook:
        from airflow_provider_projects.hooks.gcore import GcoreHook

        return GcoreHook(self.gcore_conn_id)

    def wait_for_lock(self, holder: str, project_id: int, deadline: float, ended: set[str]) -> None:
        """Wait until the task holding the lock ends, within the deadline: here, or in the triggerer.

        A holder in ``ended`` was already seen to end, yet the project is still reported locked by
        it: there is nothing to poll, so the wait pauses ``poll_interval`` before the next read or
        write instead of repeating them back to back until ``lock_timeout``.
        """
        from airflow_provider_projects.errors import LockWaitTimeoutError

        remaining = deadline - _clock.now()
        if remaining <= 0:
            raise LockWaitTimeoutError(
                f"Gcore project {project_id} is still locked by task {holder} after lock_timeout "
                f"{self.lock_timeout:.0f} s; nothing was written"
            )
        if holder in ended:
            self.log.info("Gcore task %s has ended but the lock is still reported; pausing", holder)
            _clock.sleep(min(self.poll_interval, remaining))
            return
        if self.deferrable:
            self._defer_wait(holder, project_id, deadline, remaining)
        outcome = self.hook.wait_for_task(holder, deadline=deadline, poll_interval=self.poll_interval)
        self.accept_wait(outcome, project_id)
        ended.add(holder)

    def _defer_wait(self, holder: str, project_id: int, deadline: float, remaining: float) -> None:
        from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger

        self.log.info(
            "Deferring: the triggerer waits for Gcore project %s to be unlocked (task %s holds it), every %.0f s",
            project_id,
            holder,
            self.poll_interval,
        )
        self.defer(
            trigger=GcoreProjectUnlockedTrigger(
                project_id=project_id,
                lock_task_id=holder,
                read_holder=False,  # read here on resuming, and only if fail_on_lock_error needs it
                deadline=deadline,
                gcore_conn_id=self.gcore_conn_id,
                poll_interval=self.poll_interval,
            ),
            method_name="execute_complete",
            kwargs={"deadline": deadline},
            timeout=timedelta(seconds=remaining + defaults.DEFER_MARGIN),
        )

    def resumed(self, event: dict[str, Any], project_id: int) -> set[str]:
        """Judge a deferred wait's event (see :meth:`accept_wait`); the lock holders seen to end.

        The event's value is the unlocked project and its holder (``GcoreProjectUnlockedTrigger``),
        or, from a trigger deferred by an earlier version, the holder task (``GcoreTaskTrigger``).
        """
        from airflow_provider_projects.hooks.gcore import ended_holder
        from airflow_provider_projects.models.gcore import GcoreProjectLock, GcoreTask
        from airflow_provider_projects.waiting import WaitOutcome

        shown = event.get("value") or event.get("last_seen")
        outcome: WaitOutcome[GcoreTask] | WaitOutcome[GcoreProjectLock]
        if isinstance(shown, dict) and "project" in shown:
            outcome = WaitOutcome.from_event(event, GcoreProjectLock)
            holder_id = event.get("lock_task_id")
            lock = outcome.value
            if lock is not None and lock.holder is None and self.fail_on_lock_error and isinstance(holder_id, str):
                holder = ended_holder(self.hook, holder_id, self.log)
                outcome = replace(outcome, value=lock.model_copy(update={"holder": holder}))
        else:
            outcome = WaitOutcome.from_event(event, GcoreTask)
        self.accept_wait(outcome, project_id)
        ended = {value.id} if isinstance(value := outcome.value, GcoreTask) else set()
        if isinstance(value, GcoreProjectLock) and value.holder is not None:
            ended.add(value.holder.id)
        if isinstance(seen := outcome.last_seen, GcoreProjectLock) and seen.project.task_id is not None:
            ended.add(seen.project.task_id)
        return ended

    def accept_wait(self, outcome: WaitOutcome[GcoreTask] | WaitOutcome[GcoreProjectLock], project_id: int) -> None:
        """Raise for a wait that timed out or failed; report a lock holder that ended in ERROR."""
        from airflow_provider_projects.errors import GcoreTaskFailedError, LockWaitTimeoutError
        from airflow_provider_projects.models.gcore import GcoreProjectLock

        if outcome.status == "timeout":
            holder = outcome.last_seen.summary() if outcome.last_seen is not None else "the lock holder (never read)"
            raise LockWaitTimeoutError(
                f"Gcore project {project_id} stayed locked past lock_timeout {self.lock_timeout:.0f} s: {holder}, "
                f"seen holding the lock for {outcome.waited:.0f} s over {outcome.polls} poll(s); nothing was written. "
                "Raise lock_timeout, or look into that task in Gcore."
            )
        if outcome.status == "error":
            assert outcome.error is not None
            raise outcome.error
        task = outcome.value.holder if isinstance(outcome.value, GcoreProjectLock) else outcome.value
        if task is not None and task.failed:
            message = (
                f"The task that locked Gcore project {project_id} ({task.task_type} {task.id}) "
                f"ended in ERROR: {task.error}"
            )
            if self.fail_on_lock_error:
                raise GcoreTaskFailedError(message, task_id=task.id, task_error=task.error)
            self.log.warning("%s; the lock is gone, so the replace goes ahead", message)
