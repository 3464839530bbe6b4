"""Section 4: how many HTTP requests each common operation sends, read from the emulator's journal.

Operators and sensors run their real ``execute``/``poke`` code against the emulator (in this
process: counts, not timings, are measured). "A lock of N polls" is exact: the lock ends
(``finish_task``) just before the N-th poll. Blocking waits never sleep for real: the provider's
sleep seam (``_clock.sleep``) counts the pauses. A deferred task is resumed the way Airflow does it: the trigger
from ``TaskDeferred`` runs to its event, which is handed to the method named in the deferral. The
trigger runs as it is, in real time at a 0.2 s interval (it has no sleep to inject), and the lock
ends once the emulator's journal holds N-1 of the polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections import Counter
from collections.abc import Callable
from typing import Any, Final, cast
from unittest import mock

from common import heading, table, verdict

GCAI_NEW_DESCRIPTION: Final = "Updated by the benchmark"


class _TaskInstance:
    """The one thing the sensors use from ``context["ti"]``."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def _context() -> Any:
    from airflow.sdk import Context

    return cast(Context, {"ti": _TaskInstance()})


class _Lock:
    """A lock on a project that ends just before the N-th poll (sleeps are counted, not slept)."""

    def __init__(self, emu: Any, project_id: int, polls: int) -> None:
        self.emu = emu
        self.polls = polls
        self.pauses = 0
        self.task_id: str = emu.lock_gcore_project(project_id)
        self.project_path = f"/projects/{project_id}"
        self.task_path = f"/tasks/{self.task_id}"

    def pause(self) -> None:
        self.pauses += 1
        if self.pauses == self.polls - 1:
            self.emu.finish_task(self.task_id)

    def sleep(self, _seconds: float) -> None:
        self.pause()

    async def end_before_poll(self, polled: str, before: int = 0) -> None:
        """End the lock once N-1 GETs of ``polled`` (a path suffix) are journaled after the ``before``
        there were already: the N-th sees it ended."""
        for _ in range(12_000):  # 60 s at most
            if sum(1 for e in self.emu.requests(method="GET") if e.path.endswith(polled)) >= before + self.polls - 1:
                self.emu.finish_task(self.task_id)
                return
            await asyncio.sleep(0.005)  # well inside the trigger's 0.2 s interval


#: The deferred rows' poll interval: real time, so short, yet far longer than the journal watch's step.
DEFERRED_POLL: Final = 0.2


def _resume(task: Any, deferred: Any, lock: _Lock, context: Any, polled: str, *, before: int = 0) -> Any:
    """Run the deferral's trigger to its event (the lock ends before its N-th poll after ``before``
    GETs of ``polled``), then the resume method."""
    trigger = deferred.trigger

    async def first_event() -> dict[str, Any]:
        watch = asyncio.create_task(lock.end_before_poll(polled, before))
        events = trigger.run()
        try:
            event = await asyncio.wait_for(anext(events), timeout=60.0)
        finally:
            watch.cancel()
            await events.aclose()
        payload: dict[str, Any] = event.payload
        return payload

    event = asyncio.run(first_event())
    return getattr(task, deferred.method_name)(context, event, **(deferred.kwargs or {}))


def _kinds(emu: Any) -> tuple[int, str]:
    """Total requests since the journal was cleared, and a breakdown like ``GET project x2, PUT x1``."""
    counts: Counter[str] = Counter()
    for entry in emu.requests():
        what = "task" if "/tasks/" in entry.path else "project"
        counts[f"{entry.method} {what}"] += 1
    total = sum(counts.values())
    return total, ", ".join(f"{name} x{n}" for name, n in sorted(counts.items()))


def run() -> dict[str, Any]:
    heading("4. Requests per operation (emulator journal)")
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_projects import _clock
    from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
    from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
    from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor, GcoreTaskSensor
    from projects_emulator import ProjectsEmulator

    rows: list[list[object]] = []
    logs: list[str] = []
    all_ok = True
    # The main table counts on the edition that still accepts PUT (the default write, PATCH, is the
    # same on both); the rows after it switch to the current one (2026-08): the default still sends
    # one PATCH, while method="auto" pays one 405 per worker process, then goes by PATCH.
    with ProjectsEmulator(edition="2026-05") as emu:
        os.environ.update(emu.airflow_connection_env())
        counter = iter(range(1, 1_000_000))

        def project() -> int:
            return emu.add_gcore_project(f"ops-{next(counter):04d}", description="before")

        def measure(label: str, expected: int, formula: str, action: Callable[[], object]) -> None:
            nonlocal all_ok
            emu.clear_journal()
            output = io.StringIO()
            with contextlib.redirect_stdout(output):  # the Task SDK logs to stdout
                action()
            logs.extend(
                line
                for line in output.getvalue().splitlines()
                if line.strip() and "cannot be called outside of the Task Runner" not in line
            )
            total, breakdown = _kinds(emu)
            ok = total == expected
            all_ok = all_ok and ok
            rows.append([label, total, formula, breakdown, verdict(ok)])

        def replace(project_id: int, **kwargs: Any) -> GcoreReplaceProjectOperator:
            return GcoreReplaceProjectOperator(
                task_id=f"replace_{project_id}", project_id=project_id, name=f"renamed-{project_id}", **kwargs
            )

        def replace_unlocked(**kwargs: Any) -> Callable[[], object]:
            return lambda: replace(project(), deferrable=False, **kwargs).execute(_context())

        def replace_same() -> object:
            pid = project()
            current = emu.gcore_project(pid)
            task = GcoreReplaceProjectOperator(
                task_id="same", project_id=pid, name=current["name"], description=current["description"]
            )
            return task.execute(_context())

        measure("replace, unlocked project (check_lock=True, default)", 2, "2", replace_unlocked())
        measure("replace, unlocked project, check_lock=False", 1, "1", replace_unlocked(check_lock=False))
        measure("replace, project already as asked (no-op)", 1, "1", replace_same)
        measure("replace with method='auto' (PUT accepted), unlocked", 2, "2", replace_unlocked(method="auto"))

        for polls in (3, 10):

            def blocking(polls: int = polls) -> object:
                pid = project()
                lock = _Lock(emu, pid, polls)
                task = replace(pid, deferrable=False, poll_interval=1.0)
                with mock.patch.object(_clock, "sleep", lock.sleep):  # pauses are counted, not slept
                    return task.execute(_context())

            def deferred(polls: int = polls) -> object:
                pid = project()
                lock = _Lock(emu, pid, polls)
                task = replace(pid, deferrable=True, poll_interval=DEFERRED_POLL)
                context = _context()
                try:
                    task.execute(context)
                except TaskDeferred as deferral:
                    # The triggerer waits for the project's lock to clear: its N polls come after the
                    # worker's first read of the project.
                    return _resume(task, deferral, lock, context, lock.project_path, before=1)
                raise AssertionError("the operator did not defer")

            measure(f"replace after a lock of N={polls} polls, blocking wait", polls + 3, "N+3", blocking)
            measure(f"replace after a lock of N={polls} polls, deferrable", polls + 3, "N+3", deferred)

        emu.edition = "2026-08"
        measure("edition 2026-08: replace, unlocked (default PATCH)", 2, "2", replace_unlocked())
        first, later = "edition 2026-08: method='auto', unlocked, first in the process", "... method='auto', later"
        measure(first, 3, "3 (PUT 405, PATCH)", replace_unlocked(method="auto"))
        measure(later, 2, "2 (PATCH remembered)", replace_unlocked(method="auto"))
        emu.edition = "2026-05"

        gcai_id = emu.gcai_project_ids[0]
        measure(
            "GC AI update (one field)",
            1,
            "1",
            lambda: GcaiUpdateProjectOperator(
                task_id="gcai", project_id=gcai_id, description=GCAI_NEW_DESCRIPTION
            ).execute(_context()),
        )

        for polls in (3, 10):

            def unlocked_poke(polls: int = polls) -> object:
                pid = project()
                lock = _Lock(emu, pid, polls)
                sensor = GcoreProjectUnlockedSensor(task_id="unlocked", project_id=pid, deferrable=False)
                context = _context()
                for _ in range(polls):
                    if sensor.poke(context):
                        return True
                    lock.sleep(1.0)
                raise AssertionError("the lock did not clear")

            def unlocked_deferred(polls: int = polls) -> object:
                pid = project()
                lock = _Lock(emu, pid, polls)
                sensor = GcoreProjectUnlockedSensor(
                    task_id="unlocked", project_id=pid, deferrable=True, poke_interval=DEFERRED_POLL
                )
                context = _context()
                try:
                    sensor.execute(context)
                except TaskDeferred as deferral:
                    # The worker's poke was poll 1 (journaled too); the trigger pauses one interval
                    # (first_poll_at) before its first poll, so its polls are 2..N.
                    return _resume(sensor, deferral, lock, context, lock.project_path)
                raise AssertionError("the sensor did not defer")

            def task_poke(polls: int = polls) -> object:
                pid = project()
                lock = _Lock(emu, pid, polls)
                sensor = GcoreTaskSensor(task_id="task", gcore_task_id=lock.task_id, deferrable=False)
                context = _context()
                for _ in range(polls):
                    if sensor.poke(context):
                        return True
                    lock.sleep(1.0)
                raise AssertionError("the task did not end")

            measure(f"project-unlocked sensor, N={polls} polls, poke mode", polls + 1, "N+1", unlocked_poke)
            measure(f"project-unlocked sensor, N={polls} polls, deferrable", polls + 1, "N+1", unlocked_deferred)
            measure(f"task sensor, N={polls} polls, poke mode", polls, "N", task_poke)

    table(["operation", "requests", "expected", "breakdown (journal)", ""], rows)
    print(
        "  N = polls that saw the lock or the running task, the last one seeing it gone (a blocking replace\n"
        "  polls the holder task, a deferred one the project). The +1 of the project sensor is one read of\n"
        "  the lock holder at the end (XCom lock_task, ERROR check; on the worker when deferred); the +3 of\n"
        "  a replace after a lock: the first read, a re-read after the wait, the write."
    )
    print(f"  every count as expected: {verdict(all_ok)}")
    if logs:
        print(f"  log lines at WARNING or above while measuring ({len(logs)}), first 5:")
        for line in logs[:5]:
            print("    " + line[:200])
    return {"all_ok": all_ok}
