"""The hooks the triggers of one loop share (``triggers/_hooks.py``): one connection read for many waits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.sdk import BaseHook
from airflow.triggers.base import BaseTrigger
from fakes import FakeApi, Reply, VirtualClock, ok, run_virtual

from .support import (
    CONN,
    PROJECT_PATH,
    project,
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


def test_a_refused_key_makes_the_next_wait_read_the_connection_again(
    clock: VirtualClock, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = counting_connection_reads(monkeypatch)
    api.on(
        "GET",
        PROJECT_PATH,
        Reply(401, {"exception_class": "NotAuthenticated", "message": "bad key"}),
        ok(project(None)),
    )

    async def main() -> list[str]:
        statuses = []
        for _ in range(2):  # the key is fixed between the two waits
            [event] = [e.payload async for e in unlocked_trigger().run()]
            statuses.append(event["status"])
        return statuses

    assert run_virtual(clock, main()) == ["error", "done"]
    assert reads == [CONN, CONN]
