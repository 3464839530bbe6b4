"""What differs between Airflow 3.2 and 3.3 (``version_compat.py``), in one place."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from airflow_provider_projects import version_compat


def test_a_form_field_is_read_under_its_own_name_first() -> None:
    extra = {"proxy": "http://new.example:3128", "extra__gcore__proxy": "http://old.example:3128"}
    assert version_compat.conn_field(extra, "gcore", "proxy") == "http://new.example:3128"


def test_a_connection_saved_by_a_form_before_3_2_is_read_too() -> None:
    assert version_compat.conn_field({"extra__gcai__timeout": 5}, "gcai", "timeout") == 5
    assert version_compat.conn_field({"extra__gcore__timeout": 5}, "gcai", "timeout") is None  # another type's key


def test_an_absent_field_is_none() -> None:
    assert version_compat.conn_field({}, "gcore", "verify") is None


def test_the_task_state_store_comes_from_the_context() -> None:
    store = object()
    assert version_compat.task_state_store({"task_state_store": store}) is store
    assert version_compat.task_state_store({}) is None  # Airflow 3.2
    assert version_compat.task_state_store(object()) is None


def test_the_asset_state_store_comes_from_the_trigger() -> None:
    class Watcher:
        asset_state_store = object()

    assert version_compat.asset_state_store(Watcher()) is Watcher.asset_state_store
    assert version_compat.asset_state_store(object()) is None  # Airflow 3.2


class Connection33:
    extra_dejson: ClassVar[dict[str, Any]] = {"sync": True}

    async def aextra_dejson(self) -> dict[str, Any]:
        return {"async": True}


class Connection32:
    extra_dejson: ClassVar[dict[str, Any]] = {"sync": True}


@pytest.mark.parametrize(("conn", "expected"), [(Connection33(), {"async": True}), (Connection32(), {"sync": True})])
def test_extras_are_read_with_the_async_api_where_there_is_one(conn: Any, expected: dict[str, Any]) -> None:
    assert asyncio.run(version_compat.aextra_dejson(conn)) == expected
