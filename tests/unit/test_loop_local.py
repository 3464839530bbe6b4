"""One value per running event loop (``_loop_local.py``): made once per loop, gone with it."""

from __future__ import annotations

import asyncio
import gc

import pytest

from airflow_provider_projects._loop_local import LoopLocal


def test_a_value_is_made_once_per_loop_and_a_new_loop_gets_its_own() -> None:
    made: list[object] = []

    def factory() -> object:
        made.append(object())
        return made[-1]

    local = LoopLocal(factory)

    async def twice() -> tuple[object, object]:
        return local.get(), local.get()

    first = asyncio.run(twice())
    second = asyncio.run(twice())
    assert first[0] is first[1]
    assert second[0] is second[1]
    assert first[0] is not second[0]
    assert len(made) == 2


def test_a_closed_loop_takes_its_value_with_it() -> None:
    local: LoopLocal[list[int]] = LoopLocal(list)

    async def use() -> None:
        local.get().append(1)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(use())
    assert len(local._values) == 1
    loop.close()
    del loop
    gc.collect()
    assert len(local._values) == 0  # no loop kept alive, nothing left behind


def test_outside_a_loop_there_is_no_value() -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        LoopLocal(list).get()
