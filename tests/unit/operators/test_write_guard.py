"""A worker retry (try 2 after a crash mid-write) neither fails on the change its first try
applied, nor overwrites a change someone else made in between (Airflow 3.3 task state store)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import FakeApi, Reply, VirtualClock, ok

from airflow_provider_projects.errors import ConcurrentChangeError, NotFoundError
from airflow_provider_projects.operators._write_guard import GUARD_KEY, RETENTION, EarlierWrite, WriteGuard
from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator

from .support import FakeStore, FakeTI, context

GCORE = "https://api.gcore.test"
GCORE_PATH = "/cloud/v1/projects/4"
GCAI = "https://gcai.test/api/external/v1"
GCAI_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
GCAI_PATH = f"/projects/{GCAI_ID}"

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
BEFORE = {"name": "analytics", "description": "old"}
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


class BrokenStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.calls += 1
        raise RuntimeError("store down")

    def set(self, key: str, value: Any, **options: Any) -> None:
        self.calls += 1
        raise RuntimeError("store down")

    def delete(self, key: str) -> None:
        self.calls += 1
        raise RuntimeError("store down")


def earlier(
    desired: dict[str, Any], before: dict[str, Any] | None, started_at: str = "2026-11-23T10:00:00+00:00"
) -> dict[str, Any]:
    """The store as try 1 left it when it crashed with a write in flight."""
    return {GUARD_KEY: {"try_number": 1, "value": {"desired": desired, "before": before, "started_at": started_at}}}


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch, clock: VirtualClock) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GCORE_DEFAULT", json.dumps({"conn_type": "gcore", "host": GCORE, "password": "k"}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_GCAI_DEFAULT", json.dumps({"conn_type": "gcai", "host": GCAI, "password": "gcai_k"})
    )


def methods(api: FakeApi) -> list[str]:
    return [request.method for request in api.requests]


# -- the guard itself -----------------------------------------------------------------------------


def test_begin_records_the_write_stamped_with_the_try_and_finish_forgets_it(clock: VirtualClock) -> None:
    store = FakeStore()
    guard = WriteGuard(context(store, try_number=3))

    guard.begin(desired=DESIRED, before=BEFORE)

    record = store.values[GUARD_KEY]
    assert record["try_number"] == 3
    assert record["value"]["desired"] == DESIRED
    assert record["value"]["before"] == BEFORE
    started = datetime.fromisoformat(record["value"]["started_at"])
    assert started == datetime.fromtimestamp(clock.now, tz=UTC)  # the time of _clock, with its zone
    assert store.options == [{"retention": RETENTION}]
    assert guard.earlier_write() is None  # its own record is not an earlier crash

    guard.finish()
    assert GUARD_KEY not in store.values
    assert store.writes == [("set", GUARD_KEY), ("delete", GUARD_KEY)]


def test_a_later_try_sees_what_the_earlier_one_recorded() -> None:
    store = FakeStore(earlier(DESIRED, BEFORE, started_at="2026-11-23T10:00:00+00:00"))
    assert WriteGuard(context(store, try_number=2)).earlier_write() == EarlierWrite(
        try_number=1, desired=DESIRED, before=BEFORE, started_at="2026-11-23T10:00:00+00:00"
    )
    assert WriteGuard(context(store, try_number=1)).earlier_write() is None


@pytest.mark.parametrize(
    "record",
    [
        pytest.param("not a dict", id="not-a-dict"),
        pytest.param({"try_number": 1}, id="no-value"),
        pytest.param({"try_number": 1, "value": "x"}, id="value-not-a-dict"),
        pytest.param({"try_number": 1, "value": {"desired": "x"}}, id="desired-not-a-dict"),
        pytest.param({"try_number": 1, "desired": DESIRED, "before": BEFORE}, id="the-old-flat-format"),
    ],
)
def test_a_malformed_record_is_no_earlier_write(record: Any) -> None:
    store = FakeStore({GUARD_KEY: record})
    assert WriteGuard(context(store, try_number=2)).earlier_write() is None


def test_odd_fields_of_a_record_are_dropped() -> None:
    store = FakeStore({GUARD_KEY: {"try_number": 1, "value": {"desired": DESIRED, "before": "x", "started_at": 5}}})
    assert WriteGuard(context(store, try_number=2)).earlier_write() == EarlierWrite(1, DESIRED, None, None)


@pytest.mark.parametrize("ctx", [{}, {"ti": FakeTI(2)}, {"task_state_store": None, "ti": FakeTI(2)}])
def test_without_a_store_the_guard_finds_nothing_and_keeps_nothing(ctx: dict[str, Any]) -> None:
    guard = WriteGuard(ctx)
    guard.begin(desired=DESIRED, before=BEFORE)
    assert guard.earlier_write() is None
    guard.finish()


def test_a_failing_store_is_logged_once_then_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_projects.state_stores")
    store = BrokenStore()
    guard = WriteGuard(context(store, try_number=1))
    assert guard.earlier_write() is None
    guard.begin(desired=DESIRED, before=BEFORE)
    guard.finish()
    assert store.calls == 1
    warned = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_projects.state_stores"]
    assert len(warned) == 1, warned
    assert "task state store" in warned[0]
    assert "store down" in warned[0]


# -- Gcore ----------------------------------------------------------------------------------------


def replace_op() -> GcoreReplaceProjectOperator:
    return GcoreReplaceProjectOperator(task_id="rename", project_id=4, **DESIRED, deferrable=False)


def test_a_normal_write_records_itself_while_in_flight_and_forgets_after(api: FakeApi) -> None:
    store = FakeStore()
    seen_during_write: list[Any] = []

    def write(request: Any) -> Reply:
        seen_during_write.append(store.get(GUARD_KEY))
        return ok(NEW)

    api.on("GET", GCORE_PATH, ok(OLD))
    api.on("PATCH", GCORE_PATH, write)
    replace_op().execute(context(store, try_number=1))

    [record] = seen_during_write
    assert record["try_number"] == 1
    assert record["value"]["desired"] == DESIRED
    assert record["value"]["before"] == BEFORE
    assert GUARD_KEY not in store.values


def test_retry_after_an_applied_write_does_not_write_again(api: FakeApi) -> None:
    store = FakeStore(earlier(DESIRED, BEFORE))
    api.on("GET", GCORE_PATH, ok(NEW))
    api.on("PATCH", GCORE_PATH, ok(NEW))

    assert replace_op().execute(context(store, try_number=2)) == NEW
    assert methods(api) == ["GET"]
    assert GUARD_KEY not in store.values


def test_retry_after_a_write_that_never_landed_writes(api: FakeApi) -> None:
    store = FakeStore(earlier(DESIRED, BEFORE))
    api.on("GET", GCORE_PATH, ok(OLD))
    api.on("PATCH", GCORE_PATH, ok(NEW))

    assert replace_op().execute(context(store, try_number=2)) == NEW
    assert methods(api) == ["GET", "PATCH"]
    assert GUARD_KEY not in store.values


def test_retry_does_not_overwrite_a_newer_change_and_a_clear_then_applies(api: FakeApi) -> None:
    store = FakeStore(earlier(DESIRED, BEFORE))
    api.on("GET", GCORE_PATH, ok(SOMEONE_ELSES))
    api.on("PATCH", GCORE_PATH, ok(NEW))

    with pytest.raises(ConcurrentChangeError, match="renamed-by-ops") as refused:
        replace_op().execute(context(store, try_number=2))
    assert methods(api) == ["GET"]
    assert "since try 1" in str(refused.value)
    assert "clear the task" in str(refused.value)
    # The refusal is final and forgotten: a deliberate re-run (a cleared task, try 3) applies the change.
    assert GUARD_KEY not in store.values
    replace_op().execute(context(store, try_number=3))
    assert methods(api) == ["GET", "GET", "PATCH"]


def test_a_record_of_the_same_try_is_not_an_earlier_crash(api: FakeApi) -> None:
    """After a deferral the same try resumes in a new process and finds its own record."""
    store = FakeStore(earlier(DESIRED, BEFORE))
    store.values[GUARD_KEY]["try_number"] = 2
    api.on("GET", GCORE_PATH, ok(SOMEONE_ELSES))
    api.on("PATCH", GCORE_PATH, ok(NEW))

    replace_op().execute(context(store, try_number=2))
    assert methods(api) == ["GET", "PATCH"]


def test_a_record_for_another_change_does_not_block(api: FakeApi) -> None:
    """Templates may render differently on a retry: a record of another write is not this one's."""
    store = FakeStore(earlier({"name": "other", "description": None}, {"name": "x", "description": None}))
    api.on("GET", GCORE_PATH, ok(SOMEONE_ELSES))
    api.on("PATCH", GCORE_PATH, ok(NEW))

    replace_op().execute(context(store, try_number=2))
    assert methods(api) == ["GET", "PATCH"]


def test_without_a_state_store_the_operator_works_as_before(api: FakeApi) -> None:
    api.on("GET", GCORE_PATH, ok(SOMEONE_ELSES))
    api.on("PATCH", GCORE_PATH, ok(NEW))
    assert replace_op().execute({"ti": FakeTI(2)}) == NEW  # type: ignore[arg-type]
    assert methods(api) == ["GET", "PATCH"]


def test_a_failing_store_never_fails_the_write(api: FakeApi) -> None:
    api.on("GET", GCORE_PATH, ok(OLD))
    api.on("PATCH", GCORE_PATH, ok(NEW))
    store = BrokenStore()
    assert replace_op().execute(context(store, try_number=1)) == NEW
    assert methods(api) == ["GET", "PATCH"]
    assert store.calls == 1


# -- GC AI ----------------------------------------------------------------------------------------


def update_op() -> GcaiUpdateProjectOperator:
    return GcaiUpdateProjectOperator(task_id="update", project_id=GCAI_ID, custom_instructions="Cite clauses.")


BODY = {"custom_instructions": "Cite clauses."}


def test_gcai_first_try_sends_one_patch_and_no_read(api: FakeApi) -> None:
    store = FakeStore()
    api.on("PATCH", GCAI_PATH, ok(gcai_project("2026-11-23T10:00:05Z", **BODY)))
    update_op().execute(context(store, try_number=1))
    assert methods(api) == ["PATCH"]  # the guard costs no request of the 120/min budget
    assert store.writes == [("set", GUARD_KEY), ("delete", GUARD_KEY)]


def test_gcai_retry_after_an_applied_patch_does_not_send_it_again(api: FakeApi) -> None:
    store = FakeStore(earlier(BODY, None))
    api.on("GET", GCAI_PATH, ok(gcai_project("2026-11-23T10:00:01Z", **BODY)))
    api.on("PATCH", GCAI_PATH, ok(gcai_project("2026-11-23T10:00:05Z", **BODY)))

    result = update_op().execute(context(store, try_number=2))
    assert result["custom_instructions"] == "Cite clauses."
    assert methods(api) == ["GET"]
    assert GUARD_KEY not in store.values


def test_gcai_retry_sends_when_nothing_changed_since_the_first_try(api: FakeApi) -> None:
    store = FakeStore(earlier(BODY, None, started_at="2026-11-23T10:00:00+00:00"))
    api.on("GET", GCAI_PATH, ok(gcai_project("2026-11-23T09:59:00Z")))
    api.on("PATCH", GCAI_PATH, ok(gcai_project("2026-11-23T10:01:00Z", **BODY)))

    update_op().execute(context(store, try_number=2))
    assert methods(api) == ["GET", "PATCH"]
    assert GUARD_KEY not in store.values


def test_gcai_retry_refuses_to_overwrite_a_newer_change(api: FakeApi) -> None:
    store = FakeStore(earlier(BODY, None, started_at="2026-11-23T10:00:00+00:00"))
    api.on("GET", GCAI_PATH, ok(gcai_project("2026-11-23T10:00:30Z", custom_instructions="Theirs")))
    api.on("PATCH", GCAI_PATH, ok(gcai_project("2026-11-23T10:01:00Z", **BODY)))

    with pytest.raises(ConcurrentChangeError, match="after try 1"):
        update_op().execute(context(store, try_number=2))
    assert methods(api) == ["GET"]
    assert GUARD_KEY not in store.values


def test_gcai_retry_with_an_unreadable_start_time_refuses(api: FakeApi) -> None:
    store = FakeStore(earlier(BODY, None, started_at="garbage"))
    api.on("GET", GCAI_PATH, ok(gcai_project("2026-11-23T09:00:00Z")))
    with pytest.raises(ConcurrentChangeError):
        update_op().execute(context(store, try_number=2))
    assert methods(api) == ["GET"]


def test_gcai_record_for_another_body_sends_without_reading(api: FakeApi) -> None:
    store = FakeStore(earlier({"name": "other"}, None))
    api.on("PATCH", GCAI_PATH, ok(gcai_project("2026-11-23T10:01:00Z", **BODY)))
    update_op().execute(context(store, try_number=2))
    assert methods(api) == ["PATCH"]
    assert GUARD_KEY not in store.values


def test_gcai_a_failed_patch_keeps_the_record_for_the_next_try(api: FakeApi) -> None:
    store = FakeStore()
    api.on("PATCH", GCAI_PATH, Reply(404, {"error": "Project not found"}))
    with pytest.raises(NotFoundError):
        update_op().execute(context(store, try_number=1))
    assert store.values[GUARD_KEY]["value"]["desired"] == BODY
    assert store.values[GUARD_KEY]["try_number"] == 1
