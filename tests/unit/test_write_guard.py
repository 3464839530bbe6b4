"""A worker retry (try 2 after a crash mid-write) neither fails on the change its first try
applied, nor overwrites a change someone else made in between (Airflow 3.3 task state store)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests_mock as rm

from airflow_provider_projects.errors import ConcurrentChangeError
from airflow_provider_projects.operators._write_guard import GUARD_KEY, WriteGuard
from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator

GCORE = "https://api.gcore.test"
GCORE_URL = f"{GCORE}/cloud/v1/projects/4"
GCAI = "https://gcai.test/api/external/v1"
GCAI_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
GCAI_URL = f"{GCAI}/projects/{GCAI_ID}"

OLD = {
    "id": 4,
    "client_id": 1,
    "name": "analytics",
    "description": "old",
    "created_at": "2026-01-01T00:00:00",
    "deleted_at": None,
    "is_default": False,
    "state": "ACTIVE",
    "task_id": None,
}
DESIRED = {"name": "analytics-2026", "description": "Q4"}
NEW = {**OLD, **DESIRED}
SOMEONE_ELSES = {**OLD, "name": "renamed-by-ops", "description": "hands off"}


def gcai_project(updated_at: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": GCAI_ID,
        "name": "Vendor: Acme MSA",
        "description": "d",
        "custom_instructions": None,
        "is_access_controlled": False,
        "my_access_level": None,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": updated_at,
        **fields,
    }


class FakeStore:
    """Airflow's task state store as the operators use it: get / set / delete of JSON values."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(initial or {})
        self.writes: list[tuple[str, Any]] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        json.dumps(value)  # the real store only takes JSON values
        self.values[key] = value
        self.writes.append(("set", key))

    def delete(self, key: str) -> None:
        self.values.pop(key, None)
        self.writes.append(("delete", key))


class FakeTI:
    def __init__(self, try_number: int) -> None:
        self.try_number = try_number

    def xcom_push(self, key: str, value: Any) -> None:  # pragma: no cover - not used here
        pass


def context(store: FakeStore, try_number: int) -> dict[str, Any]:
    return {"ti": FakeTI(try_number), "task_state_store": store}


def earlier(desired: dict[str, Any], before: dict[str, Any] | None, started_at: str = "2026-11-23T10:00:00+00:00"):
    return {GUARD_KEY: {"try_number": 1, "desired": desired, "before": before, "started_at": started_at}}


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GCORE_DEFAULT", json.dumps({"conn_type": "gcore", "host": GCORE, "password": "k"}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_GCAI_DEFAULT", json.dumps({"conn_type": "gcai", "host": GCAI, "password": "gcai_k"})
    )


def replace_op() -> GcoreReplaceProjectOperator:
    return GcoreReplaceProjectOperator(task_id="rename", project_id=4, **DESIRED, deferrable=False)


def methods(mocker: rm.Mocker) -> list[str]:
    return [request.method for request in mocker.request_history]


# -- Gcore ----------------------------------------------------------------------------------------


def test_a_normal_write_records_itself_while_in_flight_and_forgets_after(requests_mock: rm.Mocker) -> None:
    store = FakeStore()
    seen_during_put: list[Any] = []

    def put(request: Any, response: Any) -> dict[str, Any]:
        seen_during_put.append(store.get(GUARD_KEY))
        return NEW

    requests_mock.get(GCORE_URL, json=OLD)
    requests_mock.put(GCORE_URL, json=put)
    replace_op().execute(context(store, try_number=1))

    [record] = seen_during_put
    assert record["try_number"] == 1
    assert record["desired"] == DESIRED
    assert record["before"] == {"name": "analytics", "description": "old"}
    assert GUARD_KEY not in store.values


def test_retry_after_an_applied_write_does_not_write_again(requests_mock: rm.Mocker) -> None:
    store = FakeStore(earlier(DESIRED, {"name": "analytics", "description": "old"}))
    requests_mock.get(GCORE_URL, json=NEW)
    requests_mock.put(GCORE_URL, json=NEW)

    assert replace_op().execute(context(store, try_number=2)) == NEW
    assert methods(requests_mock) == ["GET"]
    assert GUARD_KEY not in store.values


def test_retry_after_a_write_that_never_landed_writes(requests_mock: rm.Mocker) -> None:
    store = FakeStore(earlier(DESIRED, {"name": "analytics", "description": "old"}))
    requests_mock.get(GCORE_URL, json=OLD)
    requests_mock.put(GCORE_URL, json=NEW)

    assert replace_op().execute(context(store, try_number=2)) == NEW
    assert methods(requests_mock) == ["GET", "PUT"]


def test_retry_does_not_overwrite_a_newer_change_and_a_clear_then_applies(requests_mock: rm.Mocker) -> None:
    store = FakeStore(earlier(DESIRED, {"name": "analytics", "description": "old"}))
    requests_mock.get(GCORE_URL, json=SOMEONE_ELSES)
    requests_mock.put(GCORE_URL, json=NEW)

    with pytest.raises(ConcurrentChangeError, match="renamed-by-ops") as refused:
        replace_op().execute(context(store, try_number=2))
    assert methods(requests_mock) == ["GET"]
    assert "clear the task" in str(refused.value)
    # The refusal is final and forgotten: a deliberate re-run (a cleared task, try 3) applies the change.
    assert GUARD_KEY not in store.values
    replace_op().execute(context(store, try_number=3))
    assert methods(requests_mock) == ["GET", "GET", "PUT"]


def test_a_record_of_the_same_try_is_not_an_earlier_crash(requests_mock: rm.Mocker) -> None:
    """After a deferral the same try resumes in a new process and finds its own record."""
    store = FakeStore(earlier(DESIRED, {"name": "analytics", "description": "old"}))
    store.values[GUARD_KEY]["try_number"] = 2
    requests_mock.get(GCORE_URL, json=SOMEONE_ELSES)
    requests_mock.put(GCORE_URL, json=NEW)

    replace_op().execute(context(store, try_number=2))
    assert methods(requests_mock) == ["GET", "PUT"]


def test_a_record_for_another_change_does_not_block(requests_mock: rm.Mocker) -> None:
    """Templates may render differently on a retry: a record of another write is not this one's."""
    store = FakeStore(earlier({"name": "other", "description": None}, {"name": "x", "description": None}))
    requests_mock.get(GCORE_URL, json=SOMEONE_ELSES)
    requests_mock.put(GCORE_URL, json=NEW)

    replace_op().execute(context(store, try_number=2))
    assert methods(requests_mock) == ["GET", "PUT"]


def test_without_a_state_store_the_operator_works_as_before(requests_mock: rm.Mocker) -> None:
    requests_mock.get(GCORE_URL, json=OLD)
    requests_mock.put(GCORE_URL, json=NEW)
    assert replace_op().execute({"ti": FakeTI(2)}) == NEW


def test_a_failing_store_never_fails_the_write(requests_mock: rm.Mocker) -> None:
    class BrokenStore(FakeStore):
        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("store down")

        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            raise RuntimeError("store down")

    requests_mock.get(GCORE_URL, json=OLD)
    requests_mock.put(GCORE_URL, json=NEW)
    assert replace_op().execute(context(BrokenStore(), try_number=1)) == NEW


# -- GC AI ----------------------------------------------------------------------------------------


def update_op() -> GcaiUpdateProjectOperator:
    return GcaiUpdateProjectOperator(task_id="update", project_id=GCAI_ID, custom_instructions="Cite clauses.")


BODY = {"custom_instructions": "Cite clauses."}


def test_gcai_first_try_sends_one_patch_and_no_read(requests_mock: rm.Mocker) -> None:
    store = FakeStore()
    requests_mock.patch(GCAI_URL, json=gcai_project("2026-11-23T10:00:05Z", **BODY))
    update_op().execute(context(store, try_number=1))
    assert methods(requests_mock) == ["PATCH"]  # the guard costs no request of the 120/min budget
    assert store.writes == [("set", GUARD_KEY), ("delete", GUARD_KEY)]


def test_gcai_retry_after_an_applied_patch_does_not_send_it_again(requests_mock: rm.Mocker) -> None:
    store = FakeStore(earlier(BODY, None))
    requests_mock.get(GCAI_URL, json=gcai_project("2026-11-23T10:00:01Z", **BODY))
    requests_mock.patch(GCAI_URL, json=gcai_project("2026-11-23T10:00:05Z", **BODY))

    result = update_op().execute(context(store, try_number=2))
    assert result["custom_instructions"] == "Cite clauses."
    assert methods(requests_mock) == ["GET"]
    assert GUARD_KEY not in store.values


def test_gcai_retry_sends_when_nothing_changed_since_the_first_try(requests_mock: rm.Mocker) -> None:
    store = FakeStore(earlier(BODY, None, started_at="2026-11-23T10:00:00+00:00"))
    requests_mock.get(GCAI_URL, json=gcai_project("2026-11-23T09:59:00Z"))
    requests_mock.patch(GCAI_URL, json=gcai_project("2026-11-23T10:01:00Z", **BODY))

    update_op().execute(context(store, try_number=2))
    assert methods(requests_mock) == ["GET", "PATCH"]


def test_gcai_retry_refuses_to_overwrite_a_newer_change(requests_mock: rm.Mocker) -> None:
    store = FakeStore(earlier(BODY, None, started_at="2026-11-23T10:00:00+00:00"))
    requests_mock.get(GCAI_URL, json=gcai_project("2026-11-23T10:00:30Z", custom_instructions="Theirs"))
    requests_mock.patch(GCAI_URL, json=gcai_project("2026-11-23T10:01:00Z", **BODY))

    with pytest.raises(ConcurrentChangeError, match="after try 1"):
        update_op().execute(context(store, try_number=2))
    assert methods(requests_mock) == ["GET"]
    assert GUARD_KEY not in store.values


def test_write_guard_reads_try_number_and_store_from_the_context() -> None:
    store = FakeStore()
    guard = WriteGuard.for_context(context(store, try_number=3))
    assert (guard.store, guard.try_number) == (store, 3)
    assert WriteGuard.for_context({}).store is None
