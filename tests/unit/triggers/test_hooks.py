"""The hooks the triggers of one loop share (``triggers/_hooks.py``): one connection read for many waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk import BaseHook
from airflow.triggers.base import BaseTrigger
from fakes import START, FakeApi, Reply, VirtualClock, ok, run_virtual

from airflow_provider_projects.triggers._hooks import forget_hook, trigger_hook
from airflow_provider_projects.triggers.gcore import GcoreTaskTrigger

from .support import (
    CONN,
    PROJECT_PATH,
    TASK_A,
    TASK_A_PATH,
    project,
    task,
    unlocked_trigger,
)

# -- one connection read for many waits ------------------------------------------------------------


def counting_connection_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``BaseHook.aget_connection`` call, by connection id."""

    reads: list[str] = []
    original = BaseHook.aget_connection

    async def aget_connection(conn_id: str) -> Any:
        reads.append(conn_id)
        return await original(conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", staticmethod(aget_connection))
    return reads


def test_waits_starting_together_read_their_connection_once(
    clock: VirtualClock, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = counting_connection_reads(monkeypatch)
    api.on("GET", PROJECT_PATH, ok(project(None)))

    async def main() -> list[dict[str, Any]]:
        async def one(trigger: BaseTrigger) -> dict[str, Any]:
            [event] = [e.payload async for e in trigger.run()]
            return event  # type: ignore[no-any-return]

        return list(await asyncio.gather(*(one(unlocked_trigger()) for _ in range(50))))

    events = run_virtual(clock, main())
    assert {e["status"] for e in events} == {"done"}
    assert reads == [CONN]


def task_trigger() -> GcoreTaskTrigger:
    return GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=START + 60, gcore_conn_id=CONN)


@pytest.mark.parametrize(
    "wait",
    [(PROJECT_PATH, project(None), unlocked_trigger), (TASK_A_PATH, task(TASK_A, "FINISHED"), task_trigger)],
    ids=["project-wait", "task-wait"],
)
def test_a_refused_key_makes_the_next_wait_read_the_connection_again(
    clock: VirtualClock,
    api: FakeApi,
    monkeypatch: pytest.MonkeyPatch,
    wait: tuple[str, dict[str, Any], Callable[[], BaseTrigger]],
) -> None:
    path, answer, make = wait
    reads = counting_connection_reads(monkeypatch)
    api.on("GET", path, Reply(401, {"exception_class": "NotAuthenticated", "message": "bad key"}), ok(answer))

    async def main() -> list[str]:
        statuses = []
        for _ in range(2):  # the key is fixed between the two waits
            [event] = [e.payload async for e in make().run()]
            statuses.append(event["status"])
        return statuses

    assert run_virtual(clock, main()) == ["error", "done"]
    assert reads == [CONN, CONN]


@pytest.mark.parametrize(("later", "same"), [(60.0, True), (60.5, False)], ids=["at-the-minute", "past-it"])
def test_a_hook_is_shared_for_a_minute_and_then_made_again(clock: VirtualClock, later: float, same: bool) -> None:
    async def main() -> bool:
        first = trigger_hook(CONN)
        await asyncio.sleep(later)
        return trigger_hook(CONN) is first

    assert run_virtual(clock, main()) is same


def test_forgetting_a_hook_makes_a_new_one_and_forgetting_an_unknown_one_is_harmless(clock: VirtualClock) -> None:
    async def main() -> tuple[bool, bool]:
        forget_hook("never_used")
        first = trigger_hook(CONN)
        kept = trigger_hook("other") is trigger_hook("other")
        forget_hook(CONN)
        forget_hook(CONN)
        return trigger_hook(CONN) is not first, kept

    assert run_virtual(clock, main()) == (True, True)
