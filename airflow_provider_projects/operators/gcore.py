"""GcoreReplaceProjectOperator: replace a Gcore Cloud project's name and description, lock-aware.

Imported at DAG parse time: only Airflow's SDK and the pure-Python validation are imported here;
the hook, the HTTP stack and the trigger load when the task runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_projects import _clock, defaults, validation
from airflow_provider_projects._tasks import checked_literal, checked_unless_template, default_deferrable
from airflow_provider_projects.links import GcoreProjectLink
from airflow_provider_projects.operators._common import describe_change
from airflow_provider_projects.operators._lock_wait import LockAwareOperator

if TYPE_CHECKING:
    from airflow_provider_projects.errors import ConcurrentChangeError
    from airflow_provider_projects.hooks.gcore import ReplaceMethod
    from airflow_provider_projects.models.gcore import GcoreProject
    from airflow_provider_projects.operators._write_guard import EarlierWrite, WriteGuard

Replacement = dict[str, str | None]


class GcoreReplaceProjectOperator(LockAwareOperator):
    """Replace a Gcore Cloud project's ``name`` and ``description``.

    A replace sets both fields: a ``description`` not given (``None``) is cleared. It is sent as
    one ``PATCH /cloud/v1/projects/{id}`` carrying both fields (``method="PATCH"``, the default),
    which every Gcore spec edition lists; PATCH clears a description with ``""``, since its spec
    types the field as a plain string. The deprecated ``PUT`` (gone from Gcore's current API,
    405) is sent only when asked for.

    The operator is lock-aware: it reads the project first and, while a Gcore task holds a lock on
    it (``task_id`` set), waits for the lock to clear before writing (on the worker it polls the
    task until it ends; deferrable, the triggerer waits for the project to be unlocked). If the
    write still answers 409 (a lock taken in between), it waits for the task named in the error
    and writes again, all within ``lock_timeout``. A project that already has this name and
    description is left alone (no write), which also makes an Airflow retry after a crash safe.

    Returns the resulting project as a dict with the API's field names (XCom ``return_value``).

    :param project_id: Gcore project id, a positive integer (templated).
    :param name: new name, 3-63 characters matching Gcore's pattern (templated).
    :param description: new description, at most 255 characters; ``None`` clears it (templated).
    :param gcore_conn_id: the ``gcore`` connection.
    :param method: ``"PATCH"`` (the default: one write, never tries PUT), ``"auto"`` (PUT, then
        PATCH on 405; remembered per process and connection, but each Airflow task runs in a new
        process, so on today's API every replace pays a 405) or ``"PUT"`` (never falls back).
    :param poll_interval: seconds between polls while waiting for a lock (default 10).
    :param lock_timeout: seconds the whole lock wait may take (default 1800).
    :param check_lock: read the project before writing and wait for its lock (default True).
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
        method: ReplaceMethod = "PATCH",
        poll_interval: float = defaults.POLL_INTERVAL,
        lock_timeout: float = defaults.LOCK_TIMEOUT,
        check_lock: bool = True,
        fail_on_lock_error: bool = False,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        task = self.task_id
        self.project_id = checked_unless_template(task, validation.gcore_project_id, project_id)
        self.name = checked_unless_template(task, validation.gcore_name, name)
        self.description = checked_unless_template(task, validation.gcore_description, description)
        self.gcore_conn_id = gcore_conn_id
        self.method = checked_literal(task, validation.gcore_replace_method, method)
        self.poll_interval = checked_literal(task, validation.positive_seconds, poll_interval, "poll_interval")
        self.lock_timeout = checked_literal(task, validation.positive_seconds, lock_timeout, "lock_timeout")
        self.check_lock = check_lock
        self.fail_on_lock_error = fail_on_lock_error
        self.deferrable = default_deferrable() if deferrable is None else deferrable

    def execute(self, context: Context) -> dict[str, Any]:
        project_id, desired = self._rendered()
        try:
            return self._replace(context, project_id, desired, deadline=_clock.now() + self.lock_timeout, ended=set())
        finally:
            self.close_hook()

    def execute_complete(
        self, context: Context, event: dict[str, Any], deadline: float | None = None
    ) -> dict[str, Any]:
        """Resume after a deferred lock wait: judge the wait, then read and write again.

        ``deadline`` comes back from the deferral's kwargs and, as a fallback, in the event itself:
        ``dag.test()`` (Airflow 3.3) resumes with the event alone, dropping the kwargs.
        """
        project_id, desired = self._rendered()
        ended = self.resumed(event, project_id)
        if deadline is None:
            carried = event.get("deadline")
            deadline = float(carried) if isinstance(carried, int | float) else _clock.now() + self.lock_timeout
        try:
            return self._replace(context, project_id, desired, deadline=deadline, ended=ended)
        finally:
            self.close_hook()

    def _rendered(self) -> tuple[int, Replacement]:
        """The rendered fields, checked (templates render after construction)."""
        project_id = validation.gcore_project_id(self.project_id)
        return project_id, {
            "name": validation.gcore_name(self.name),
            "description": validation.gcore_description(self.description),
        }

    def _replace(
        self, context: Context, project_id: int, desired: Replacement, *, deadline: float, ended: set[str]
    ) -> dict[str, Any]:
        """Read, wait for any lock, write once; ``ended`` holds lock holders already seen to end."""
        from airflow_provider_projects.errors import LockConflictError
        from airflow_provider_projects.operators._write_guard import WriteGuard

        guard = WriteGuard(context)
        earlier = guard.earlier_write()
        while True:
            before = self.hook.get_project(project_id) if self.check_lock else None
            if before is not None and before.task_id is not None:
                self.log.info("Gcore project %s is locked by task %s; waiting", project_id, before.task_id)
                self.wait_for_lock(before.task_id, project_id, deadline, ended)
                continue
            settled = self._settled(project_id, before, desired, earlier, guard)
            if settled is not None:
                return settled
            try:
                after = self.hook.replace_project(project_id, **desired, method=self.method)  # type: ignore[arg-type]
            except LockConflictError as conflict:
                assert conflict.task_id is not None  # the dialect raises LockConflictError only with a holder
                self.log.info("Gcore project %s was locked meanwhile (task %s); waiting", project_id, conflict.task_id)
                self.wait_for_lock(conflict.task_id, project_id, deadline, ended)
                continue
            guard.finish()
            result = after.to_xcom()
            old = before.to_xcom() if before is not None else None
            self.log.info("Gcore project %s: %s", project_id, describe_change(old, result, ("name", "description")))
            return result

    def _settled(
        self,
        project_id: int,
        before: GcoreProject | None,
        desired: Replacement,
        earlier: EarlierWrite | None,
        guard: WriteGuard,
    ) -> dict[str, Any] | None:
        """Nothing to send (the project as XCom), a refusal, or ``None`` with the write recorded in ``guard``."""
        current = _replacement(before.name, before.description) if before is not None else None
        if before is not None and current == _replacement(str(desired["name"]), desired["description"]):
            self.log.info("Gcore project %s already has this name and description; nothing sent", project_id)
            guard.finish()
            return before.to_xcom()
        if (
            earlier is not None
            and current is not None
            and (refusal := _changed_since(project_id, earlier, desired, current))
        ):
            guard.finish()  # the refusal is final; a deliberate re-run (clear) then applies the change
            raise refusal
        guard.begin(desired=desired, before=current)
        return None


def _replacement(name: str, description: str | None) -> Replacement:
    """A replacement as Gcore stores it: a cleared description reads back as null or "" (after PATCH)."""
    return {"name": name, "description": description or None}


def _changed_since(
    project_id: int, earlier: EarlierWrite, desired: Replacement, current: Replacement
) -> ConcurrentChangeError | None:
    """An earlier try crashed with this write in flight: has someone changed the project since?

    If that write was applied, the project now holds ``desired`` (the caller handles that); if it
    was not, the project still holds what that try started from. Anything else is someone else's
    newer change, which a blind retry would overwrite.
    """
    from airflow_provider_projects.errors import ConcurrentChangeError

    if earlier.desired != desired or earlier.before in (None, current):
        return None
    return ConcurrentChangeError(
        f"Gcore project {project_id} changed since try {earlier.try_number} of this task started "
        f"writing {desired}: it held {earlier.before} then and holds {current} now. Not "
        "overwriting a newer change; clear the task to apply this one anyway."
    )
