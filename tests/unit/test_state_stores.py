"""``StateStore`` (best effort over Airflow's state stores) and ``TryRecord`` (a value stamped with its try)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_projects.state_stores import StateStore, TryRecord


class Store:
    """A task or asset state store: sync and async operations, recorded; ``broken`` makes each one fail."""

    def __init__(self, values: dict[str, Any] | None = None, broken: bool = False) -> None:
        self.values = dict(values or {})
        self.calls: list[tuple[Any, ...]] = []
        self.broken = broken

    def _call(self, *call: Any) -> None:
        self.calls.append(call)
        if self.broken:
            raise RuntimeError("the API server answered 503")

    def get(self, key: str) -> Any:
        self._call("get", key)
        return self.values.get(key)

    def set(self, key: str, value: Any, **options: Any) -> None:
        self._call("set", key, value, options)
        self.values[key] = value

    def delete(self, key: str) -> None:
        self._call("delete", key)
        self.values.pop(key, None)

    async def aget(self, key: str) -> Any:
        self._call("aget", key)
        return self.values.get(key)

    async def aset(self, key: str, value: Any) -> None:
        self._call("aset", key, value)
        self.values[key] = value

    async def adelete(self, key: str) -> None:
        self._call("adelete", key)
        self.values.pop(key, None)


class TI:
    def __init__(self, try_number: Any) -> None:
        self.try_number = try_number


# -- StateStore --------------------------------------------------------------------------------------


def test_a_working_store_is_used_as_it_is() -> None:
    store = Store()
    state = StateStore(store, what="task state store")
    state.set("k", {"a": 1}, retention="try")
    assert state.get("k") == {"a": 1}
    state.delete("k")
    assert state.get("k") is None
    assert store.calls == [("set", "k", {"a": 1}, {"retention": "try"}), ("get", "k"), ("delete", "k"), ("get", "k")]


def test_a_working_store_is_used_as_it_is_async() -> None:
    store = Store()
    state = StateStore(store, what="asset state store")

    async def main() -> tuple[Any, Any]:
        await state.aset("k", "task-1")
        found = await state.aget("k")
        await state.adelete("k")
        return found, await state.aget("k")

    assert asyncio.run(main()) == ("task-1", None)
    assert [call[0] for call in store.calls] == ["aset", "aget", "adelete", "aget"]


def test_without_a_store_reads_find_nothing_and_writes_are_skipped() -> None:
    state = StateStore(None, what="task state store")
    state.set("k", 1)
    state.delete("k")
    assert state.get("k") is None
    assert asyncio.run(state.aget("k")) is None
    asyncio.run(state.aset("k", 1))
    asyncio.run(state.adelete("k"))


def test_a_failing_store_is_logged_once_then_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    store = Store({"k": "v"}, broken=True)
    state = StateStore.of_task({"task_state_store": store})
    with caplog.at_level(logging.WARNING, logger="airflow_provider_projects.state_stores"):
        assert state.get("k") is None
        state.set("k", 2)
        state.delete("k")
        assert asyncio.run(state.aget("k")) is None
    assert store.calls == [("get", "k")]  # only the first call reached the store
    assert [r.getMessage() for r in caplog.records] == [
        "The task state store failed (get: the API server answered 503); going on without it"
    ]


def test_a_failing_async_store_is_left_alone_too(caplog: pytest.LogCaptureFixture) -> None:
    store = Store(broken=True)
    state = StateStore.of_watched_asset(SimpleNamespace(asset_state_store=store))

    async def main() -> Any:
        await state.aset("k", "task-1")
        await state.adelete("k")
        return await state.aget("k")

    with caplog.at_level(logging.WARNING, logger="airflow_provider_projects.state_stores"):
        assert asyncio.run(main()) is None
    assert store.calls == [("aset", "k", "task-1")]
    assert [r.getMessage() for r in caplog.records] == [
        "The asset state store failed (aset: the API server answered 503); going on without it"
    ]


@pytest.mark.parametrize(
    ("context", "available"),
    [({"task_state_store": Store()}, True), ({}, False), ({"task_state_store": None}, False), (object(), False)],
    ids=["with-store", "airflow-3.2", "none", "not-a-mapping"],
)
def test_of_task_takes_the_context_store_if_there_is_one(context: Any, available: bool) -> None:
    state = StateStore.of_task(context)
    state.set("k", 1)
    assert state.get("k") == (1 if available else None)


class Watcher:
    """A trigger as the triggerer sets it up: ``asset_state_store`` on a watcher of one asset (3.3+)."""

    def __init__(self, store: Any) -> None:
        self.asset_state_store = store


@pytest.mark.parametrize(
    ("trigger", "available"), [(Watcher(Store()), True), (Watcher(None), False), (object(), False)]
)
def test_of_watched_asset_takes_the_triggers_store_if_there_is_one(trigger: Any, available: bool) -> None:
    state = StateStore.of_watched_asset(trigger)

    async def main() -> Any:
        await state.aset("k", "task-1")
        return await state.aget("k")

    assert asyncio.run(main()) == ("task-1" if available else None)


# -- TryRecord ---------------------------------------------------------------------------------------


def test_a_record_written_in_this_try_is_read_back_in_this_try_only() -> None:
    store = Store()
    TryRecord({"ti": TI(2), "task_state_store": store}, "key").write({"failed_polls": 1})
    assert store.values == {"key": {"try_number": 2, "value": {"failed_polls": 1}}}

    this_try = TryRecord({"ti": TI(2), "task_state_store": store}, "key")
    assert this_try.from_this_try() == {"failed_polls": 1}
    assert this_try.from_earlier_try() is None

    next_try = TryRecord({"ti": TI(3), "task_state_store": store}, "key")
    assert next_try.from_this_try() is None
    assert next_try.from_earlier_try() == (2, {"failed_polls": 1})


def test_write_passes_options_and_clear_deletes() -> None:
    store = Store()
    record = TryRecord({"ti": TI(1), "task_state_store": store}, "key")
    record.write({"a": 1}, retention="dag_run")
    record.clear()
    assert store.calls == [
        ("set", "key", {"try_number": 1, "value": {"a": 1}}, {"retention": "dag_run"}),
        ("delete", "key"),
    ]
    assert store.values == {}


@pytest.mark.parametrize(
    "stored",
    [None, "text", {"try_number": 1}, {"try_number": 1, "value": "not a dict"}],
    ids=["nothing", "not-a-dict", "no-value", "value-not-a-dict"],
)
def test_a_malformed_record_is_no_record(stored: Any) -> None:
    record = TryRecord({"ti": TI(1), "task_state_store": Store({"key": stored})}, "key")
    assert (record.from_this_try(), record.from_earlier_try()) == (None, None)


def test_a_try_number_that_is_not_a_number_is_none() -> None:
    assert TryRecord({"ti": TI("2")}, "key").try_number is None
    assert TryRecord({}, "key").try_number is None
    assert TryRecord({"ti": TI(4)}, "key").try_number == 4


def test_without_a_store_a_record_is_never_found_and_writing_is_harmless() -> None:
    record = TryRecord({"ti": TI(1)}, "key")
    record.write({"a": 1})
    record.clear()
    assert (record.from_this_try(), record.from_earlier_try()) == (None, None)
