"""GcoreReplaceProjectOperator: replace a Gcore Cloud project's name and description, lock-aware.

Imported at DAG parse time: only Airflow's SDK and the pure-Python validation are imported here;
the hook, the HTTP stack and the trigger load when the task runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from airflow.sdk import BaseOperator, Context

from airflow_provider_projects import validation
from airflow_provider_projects.links import GcoreProjectLink
from airflow_provider_projects.operators._common import default_deferrable, describe_change, is_template

if TYPE_CHECKING:
    from airflow_provider_projects.errors import ConcurrentChangeError, ProjectsApiError
    from airflow_provider_projects.hooks.gcore import GcoreHook
    from airflow_provider_projects.models.gcore import GcoreTask

DEFAULT_LOCK_TIMEOUT: Final = 30 * 60.0
DEFAULT_POLL_INTERVAL: Final = 10.0
DEFER_MARGIN: Final = 120.0


class GcoreReplaceProjectOperator(BaseOperator):
    """Replace a Gcore Cloud project's ``name`` and ``description`` (``PUT /cloud/v1/projects/{id}``).

    A replace sets both fields: a ``description`` not given (``None``) is cleared. The operator is
    lock-aware: it reads the project first and, while a Gcore task holds a lock on it
    (``task_id`` set), waits for that task to end (``FINISHED`` or ``ERROR``) before writing. If
    the write still answers 409 (a lock taken in between), it waits for the task named in the
    error and writes again, all within ``lock_timeout``. A project that already has this name and
    description is left alone (no write), which also makes an Airflow retry after a crash safe.

    Returns the resulting project as a dict with the API's field names (XCom ``return_value``).

    :param project_id: Gcore project id, a positive integer (templated).
    :param name: new name, 3-63 characters matching Gcore's pattern (templated).
    :param description: new description, at most 255 characters; ``None`` clears it (templated).
    :param gcore_conn_id: the ``gcore`` connection.
    :param poll_interval: seconds between task polls while waiting for a lock (default 10).
    :param lock_timeout: seconds the whole lock wait may take (default 1800).
    :param check_lock: read the project before writing and wait for its lock (default True).
    :param use_patch: send the same replacement with ``PATCH`` (both fields sent), for when
        Gcore stops accepting the deprecated ``PUT`` (405). Off by default: PUT is what was asked.
    :param fail_on_lock_error: fail when the task that held the lock ended in ``ERROR``
        (default: log a warning and write anyway, since the lock is gone).
    :param deferrable: wait for locks in the triggerer instead of holding a worker slot
        (default ``[operators] default_deferrable``). The write itself always runs on the worker.
    """

    template_fields: Sequence[str] = ("project_id", "name", "description")
    operator_extra_links = (GcoreProjectLink(),)
    ui_color = "#d6ecff"

    def __init__(
        self,
        *,
        project_id: int | str,
        name: str,
        description: str | None = None,
        gcore_conn_id: str = "gcore_default",
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        check_lock: bool = True,
        use_patch: bool = False,
        fail_on_lock_error: bool = False,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project_id = project_id if is_template(project_id) else validation.gcore_project_id(project_id)
        self.name = name if is_template(name) else validation.gcore_name(name)
        self.description = description if is_template(description) else validation.gcore_description(description)
        self.gcore_conn_id = gcore_conn_id
        self.poll_interval = validation.positive_seconds(poll_interval, "poll_interval")
        self.lock_timeout = validation.positive_seconds(lock_timeout, "lock_timeout")
        self.check_lock = check_lock
        self.use_patch = use_patch
        self.fail_on_lock_error = fail_on_lock_error
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self._hook: GcoreHook | None = None
        # Injectable for tests of the blocking wait (not serialized: not template or DAG fields).
        self._clock: Callable[[], float] = time.time
        self._sleep: Callable[[float], None] = time.sleep

    @property
    def hook(self) -> GcoreHook:
        if self._hook is None:
            from airflow_provider_projects.hooks.gcore import GcoreHook

            self._hook = GcoreHook(self.gcore_conn_id)
        return self._hook

    def _rendered(self) -> tuple[int, str, str | None]:
        """The rendered fields, checked again (templates render after construction)."""
        return (
            validation.gcore_project_id(self.project_id),
            validation.gcore_name(self.name),
            validation.gcore_description(self.description),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        self._rendered()
        return self._replace(context, deadline=self._clock() + self.lock_timeout)

    def execute_complete(
        self, context: Context, event: dict[str, Any], deadline: float | None = None
    ) -> dict[str, Any]:
        """Resume after a deferred lock wait: judge the wait, then read and write again.

        ``deadline`` comes back from the deferral's kwargs and, as a fallback, in the event itself:
        ``dag.test()`` (Airflow 3.3) resumes with the event alone, dropping the kwargs. Only an event
        from an older trigger without it restarts the clock with a fresh ``lock_timeout``.
        """
        self._judge_wait(event.get("status", "error"), event.get("task"), event)
        if deadline is None:
            carried = event.get("deadline")
            deadline = float(carried) if isinstance(carried, int | float) else self._clock() + self.lock_timeout
        return self._replace(context, deadline=deadline)

    def _replace(self, context: Context, *, deadline: float) -> dict[str, Any]:
        from airflow_provider_projects.errors import LockConflictError
        from airflow_provider_projects.operators._write_guard import WriteGuard

        project_id, name, description = self._rendered()
        desired = {"name": name, "description": description}
        guard = WriteGuard.for_context(context)
        earlier = guard.earlier_write()
        ended: set[str] = set()  # lock holders already waited for to their end
        while True:
            before = self.hook.get_project(project_id) if self.check_lock else None
            if before is not None and before.task_id is not None:
                self.log.info("Gcore project %s is locked by task %s; waiting", project_id, before.task_id)
                self._wait(before.task_id, deadline, ended)
                continue
            current = {"name": before.name, "description": before.description} if before is not None else None
            if current == desired:
                assert before is not None
                self.log.info("Gcore project %s already has this name and description; nothing sent", project_id)
                guard.finish()
                return before.to_xcom()
            if earlier is not None and current is not None:
                refusal = _changed_since(project_id, earlier, desired, current)
                if refusal is not None:
                    guard.finish()  # the refusal is final; a deliberate re-run (clear) then applies the change
                    raise refusal
            guard.begin(desired=desired, before=current)
            try:
                after = self.hook.replace_project(
                    project_id, name=name, description=description, use_patch=self.use_patch
                )
            except LockConflictError as conflict:
                holder = conflict.task_id or self._lock_holder(project_id, conflict)
                self.log.info("Gcore project %s was locked meanwhile (task %s); waiting", project_id, holder)
                self._wait(holder, deadline, ended)
                continue
            guard.finish()
            result = after.to_xcom()
            old = before.to_xcom() if before is not None else None
            self.log.info("Gcore project %s: %s", project_id, describe_change(old, result, ("name", "description")))
            return result

    def _lock_holder(self, project_id: int, conflict: ProjectsApiError) -> str:
        """The task locking the project after a 409 whose message named none.

        A 409 on a project that no task locks is not a lock (a name another project already uses
        answers 409 too): writing again would only repeat it, so it fails here instead of looping.
        """
        from airflow_provider_projects.errors import UnexpectedStatusError

        holder = self.hook.get_project(project_id).task_id
        if holder is not None:
            return holder
        raise UnexpectedStatusError(
            f"Gcore Cloud {conflict.method} /cloud/v1/projects/{project_id} answered 409 {conflict.api_code or ''} "
            f"although no task locks project {project_id}, so waiting cannot help; nothing was written. "
            f"API said: {conflict.api_message}",
            status=conflict.status,
            api_code=conflict.api_code,
            api_message=conflict.api_message,
            request_id=conflict.request_id,
            method=conflict.method,
            url=conflict.url,
        ) from conflict

    def _wait(self, task_id: str, deadline: float, ended: set[str]) -> None:
        """Wait until the task holding the lock ends (``FINISHED`` or ``ERROR``), within the deadline.

        A holder in ``ended`` was already seen to end, yet the project is still reported locked by
        it: there is nothing to poll, so the blocking wait pauses ``poll_interval`` before the next
        read or write instead of repeating them back to back until ``lock_timeout``.
        """
        from airflow_provider_projects.errors import LockWaitTimeoutError

        remaining = deadline - self._clock()
        if remaining <= 0:
            raise LockWaitTimeoutError(
                f"Gcore project {self.project_id} is still locked by task {task_id} after lock_timeout "
                f"{self.lock_timeout:.0f} s; nothing was written"
            )
        if self.deferrable:
            self._defer_wait(task_id, deadline, remaining)
        if task_id in ended:
            self.log.info("Gcore task %s has ended but the lock is still reported; pausing", task_id)
            self._sleep(min(self.poll_interval, remaining))
            return
        from airflow_provider_projects.waiting import WaitSteps, run_blocking, wait_until

        steps: WaitSteps[GcoreTask] = wait_until(
            lambda task: task.finished,
            deadline=deadline,
            poll_interval=self.poll_interval,
            clock=self._clock,
            what=f"Gcore task {task_id}",
        )
        result = run_blocking(steps, lambda: self.hook.get_task(task_id), self._sleep)
        task = result.value.to_xcom() if result.value is not None else None
        if result.status == "done":
            ended.add(task_id)
        self._judge_wait("success" if result.status == "done" else result.status, task, {"error": result.error})

    def _defer_wait(self, task_id: str, deadline: float, remaining: float) -> None:
        from airflow_provider_projects.triggers.gcore import GcoreTaskTrigger

        self.defer(
            trigger=GcoreTaskTrigger(
                gcore_task_id=task_id,
                deadline=deadline,
                gcore_conn_id=self.gcore_conn_id,
                poll_interval=self.poll_interval,
            ),
            method_name="execute_complete",
            kwargs={"deadline": deadline},
            timeout=timedelta(seconds=remaining + DEFER_MARGIN),
        )

    def _judge_wait(self, status: str, task: dict[str, Any] | None, event: dict[str, Any]) -> None:
        """Raise for a wait that timed out or failed; report a lock holder that ended in ERROR."""
        from airflow_provider_projects.errors import GcoreTaskFailedError, LockWaitTimeoutError, ProjectsApiError

        if status == "timeout":
            raise LockWaitTimeoutError(
                f"Gcore project {self.project_id} stayed locked for lock_timeout {self.lock_timeout:.0f} s; "
                "nothing was written"
            )
        if status == "error":
            error = event.get("error")
            if isinstance(error, ProjectsApiError):
                raise error
            from airflow_provider_projects.triggers.gcore import error_from_event

            raise error_from_event(event)
        if task is not None and task.get("state") == "ERROR":
            message = (
                f"The task that locked Gcore project {self.project_id} ({task.get('task_type')} {task.get('id')}) "
                f"ended in ERROR: {task.get('error')}"
            )
            if self.fail_on_lock_error:
                raise GcoreTaskFailedError(message, task_id=str(task.get("id")), task_error=task.get("error"))
            self.log.warning("%s; the lock is gone, so the replace goes ahead", message)


def _changed_since(
    project_id: int, earlier: dict[str, Any], desired: dict[str, Any], current: dict[str, Any]
) -> ConcurrentChangeError | None:
    """An earlier try crashed with this write in flight: has someone changed the project since?

    If that write was applied, the project now holds ``desired`` (the caller handles that); if it
    was not, the project still holds what that try started from. Anything else is someone else's
    newer change, which a blind retry would overwrite.
    """
    from airflow_provider_projects.errors import ConcurrentChangeError

    if earlier.get("desired") != desired or earlier.get("before") in (None, current):
        return None
    return ConcurrentChangeError(
        f"Gcore project {project_id} changed since try {earlier.get('try_number')} of this task started "
        f"writing {desired}: it held {earlier.get('before')} then and holds {current} now. Not "
        "overwriting a newer change; clear the task to apply this one anyway."
    )
