"""What the triggers' polls read (``triggers/_sources.py``)."""

from __future__ import annotations

from fakes import FakeApi, VirtualClock, ok, run_virtual

from airflow_provider_projects.models.gcore import GcoreTask
from airflow_provider_projects.triggers._hooks import trigger_hook
from airflow_provider_projects.triggers._sources import Reader, TaskSource

from .support import CONN, TASK_A, TASK_A_PATH, task


def test_a_reader_builds_its_request_once_and_sends_it_on_every_read(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "RUNNING")))

    async def main() -> list[GcoreTask]:
        read = Reader(trigger_hook(CONN), TASK_A_PATH, GcoreTask)
        return [await read(), await read(), await read()]

    found = run_virtual(clock, main())
    assert [t.state for t in found] == ["RUNNING"] * 3
    first, *others = api.sent("GET", TASK_A_PATH)
    assert all(request is first for request in others)  # the same request object, not a rebuilt one


def test_a_task_source_answers_for_its_task(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))

    async def main() -> dict[object, GcoreTask]:
        return await TaskSource(trigger_hook(CONN), TASK_A).read({TASK_A})

    answer = run_virtual(clock, main())
    assert list(answer) == [TASK_A]
    assert answer[TASK_A].state == "FINISHED"
