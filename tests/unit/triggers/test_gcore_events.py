"""The asset watch (``triggers/gcore_events.py``): edge-triggered, never ending, over the shared poll."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from airflow.triggers.base import BaseEventTrigger
from fakes import FakeApi, Reply, VirtualClock, ok, run_virtual
from structlog.testing import capture_logs

from airflow_provider_projects._http.wire import Request
from airflow_provider_projects.errors import InvalidInputError
from airflow_provider_projects.triggers.gcore_events import GcoreProjectUnlockedEventTrigger

from .support import (
    API_KEY,
    CONN,
    PROJECT,
    PROJECT_PATH,
    TASK_A,
    TASK_A_PATH,
    TASK_B,
    TASK_B_PATH,
    connect,
    locked_until,
    project,
    rebuilt,
    status,
    task,
    unlocked_trigger,
    watch,
)

# -- the AssetWatcher trigger (edge-triggered) --------------------------------------------------------


class FakeAssetStateStore:
    """What the triggerer injects as ``asset_state_store`` for a watcher of one asset."""

    def __init__(self, values: dict[str, Any] | None = None, broken: bool = False) -> None:
        self.values = dict(values or {})
        self.writes: list[tuple[str, Any]] = []
        self.broken = broken

    async def aget(self, key: str, default: Any = None) -> Any:
        if self.broken:
            raise ValueError("Task has 2 concrete inlets and outlets")
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.writes.append((key, value))
        self.values[key] = value

    async def adelete(self, key: str) -> None:
        self.writes.append((key, None))
        self.values.pop(key, None)


def event_trigger(**kwargs: Any) -> GcoreProjectUnlockedEventTrigger:
    return GcoreProjectUnlockedEventTrigger(project_id=PROJECT, gcore_conn_id=CONN, poll_interval=10, **kwargs)


def test_watch_fires_once_per_locked_to_unlocked_transition(clock: VirtualClock, api: FakeApi) -> None:
    polls = [
        project(None),  # unlocked at the start: no event
        project(None),
        project(TASK_A),
        project(TASK_A),
        project(None),  # -> event 1
        project(None),  # still unlocked: nothing more
        project(None),
        project(TASK_B),
        project(None),  # -> event 2
        project(None),
    ]
    api.on("GET", PROJECT_PATH, *(ok(p) for p in polls))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    api.on("GET", TASK_B_PATH, ok(task(TASK_B, "ERROR", error="boom")))
    events = watch(clock, event_trigger(), seconds=95)  # polls at +0 ... +90

    assert [(e["status"], e["lock_task"]["id"], e["lock_task"]["state"]) for e in events] == [
        ("unlocked", TASK_A, "FINISHED"),
        ("unlocked", TASK_B, "ERROR"),
    ]
    assert events[1]["lock_task"]["error"] == "boom"
    assert (events[0]["project"], events[0]["project_id"]) == (project(None), PROJECT)
    assert len(api.sent("GET", PROJECT_PATH)) == len(polls)
    assert len(api.requests) == len(polls) + 2  # one task read per event
    assert set(clock.sleeps) == {10.0}
    assert json.loads(json.dumps(events)) == events


def test_watch_started_on_an_unlocked_project_never_fires(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    assert watch(clock, event_trigger(), seconds=205) == []
    assert len(api.requests) == 21


def test_watch_remembers_the_holder_in_the_asset_state_store(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    trigger = event_trigger()
    store = FakeAssetStateStore()
    trigger.asset_state_store = store  # type: ignore[assignment]
    events = watch(clock, trigger, seconds=25)

    assert len(events) == 1
    assert store.writes == [(trigger.state_key, TASK_A), (trigger.state_key, None)]  # written once, then cleared
    assert trigger.state_key == f"gcore_lock_task:{CONN}:{PROJECT}"


def test_a_lock_that_cleared_while_the_triggerer_restarted_still_fires_once(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    trigger = event_trigger()
    store = FakeAssetStateStore({trigger.state_key: TASK_A})  # the watch before the restart saw TASK_A
    trigger.asset_state_store = store  # type: ignore[assignment]
    events = watch(clock, trigger, seconds=25)

    assert [e["lock_task"]["id"] for e in events] == [TASK_A]
    assert store.values == {}
    # ...and the next start (the triggerer runs the watcher again) does not fire a second time.
    again = event_trigger()
    again.asset_state_store = store  # type: ignore[assignment]
    assert watch(clock, again, seconds=25) == []


def test_an_unusable_state_store_falls_back_to_memory(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    trigger = event_trigger()
    trigger.asset_state_store = FakeAssetStateStore(broken=True)  # type: ignore[assignment]
    assert [e["lock_task"]["id"] for e in watch(clock, trigger, seconds=15)] == [TASK_A]


def test_watch_rides_out_errors_and_backs_off_after_fatal_ones(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), status(503), status(401), status(401), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    events = watch(clock, event_trigger(max_consecutive_errors=3), seconds=145)

    assert [e["lock_task"]["id"] for e in events] == [TASK_A]  # the lock holder survived the errors
    # 503 tolerated; the 401s (failures 2 and 3 in a row) back off; then the interval again.
    assert api.sent_at("GET", PROJECT_PATH) == [0.0, 10.0, 20.0, 60.0, 140.0]


def test_watch_reads_the_connection_again_after_a_401(
    clock: VirtualClock, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_key = "gcore-FIXED-key-0c4e"

    def answer(request: Request) -> Reply:
        if request.headers["Authorization"] == f"APIKey {fixed_key}":
            return ok(project(TASK_A))
        connect(monkeypatch, CONN, key=fixed_key)  # someone fixes the connection after the first 401
        return status(401)

    api.on("GET", PROJECT_PATH, answer)
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "RUNNING")))
    watch(clock, event_trigger(), seconds=35)  # polls at +0 (401, then a pause of 20 s), +20, +30
    assert [r.headers["Authorization"] for r in api.sent("GET", PROJECT_PATH)] == [
        f"APIKey {API_KEY}",
        f"APIKey {fixed_key}",
        f"APIKey {fixed_key}",
    ]


def test_event_trigger_is_an_asset_watcher_trigger() -> None:
    from airflow.sdk import Asset, AssetWatcher

    trigger = event_trigger()
    assert isinstance(trigger, BaseEventTrigger)
    asset = Asset("gcore_project_2_unlocked", watchers=[AssetWatcher(name="gcore_2", trigger=trigger)])
    assert asset.watchers[0].trigger is trigger
    classpath, kwargs = trigger.serialize()
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(*event_trigger().serialize())
    assert BaseEventTrigger.hash(classpath, kwargs) != BaseEventTrigger.hash(
        *GcoreProjectUnlockedEventTrigger(project_id=3, gcore_conn_id=CONN, poll_interval=10).serialize()
    )


# -- what the watch says in its log ---------------------------------------------------------------


def test_the_first_refused_poll_counts_as_one_in_a_row_and_says_when_the_next_poll_is(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", PROJECT_PATH, status(401), ok(project(None)))
    with capture_logs() as logs:
        watch(clock, event_trigger(), seconds=25)
    errors = [entry["event"] for entry in logs if entry["log_level"] == "error"]
    assert errors == [
        f"Polling Gcore project {PROJECT} failed (1 in a row) and polling again cannot fix it: "
        f"Gcore Cloud GET {PROJECT_PATH} failed: HTTP 401 Error: scripted 401 (request id req-1). Check the Gcore "
        "connection: its password field must hold the API token alone (the provider sends it as 'APIKey <token>'). "
        "Still watching: the connection is read again, and the next poll is in 20 s (the pause doubles with each "
        "such failure in a row, up to 600 s)"
    ]
    assert api.sent_at("GET", PROJECT_PATH) == [0.0, 20.0]


def test_the_first_failure_past_the_tolerance_counts_as_one_and_says_the_pause(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", PROJECT_PATH, status(503), ok(project(None)))
    with capture_logs() as logs:
        watch(clock, event_trigger(max_consecutive_errors=0), seconds=25)
    errors = [entry["event"] for entry in logs if entry["log_level"] == "error"]
    assert errors == [
        f"Polling Gcore project {PROJECT} failed (1 in a row, more than the 0 tolerated): "
        f"Gcore Cloud GET {PROJECT_PATH} failed: HTTP 503 Error: scripted 503 (request id req-1). "
        "Still watching: the next poll is in 20 s (the pause doubles with each failure past the tolerance, up to 600 s)"
    ]
    assert api.sent_at("GET", PROJECT_PATH) == [0.0, 20.0]


def test_a_tolerated_failure_is_a_warning_naming_the_project(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, status(503), ok(project(None)))
    with capture_logs() as logs:
        watch(clock, event_trigger(), seconds=15)
    warnings = [entry["event"] for entry in logs if entry["log_level"] == "warning"]
    assert [line.split(":")[0] for line in warnings] == [
        f"Polling Gcore project {PROJECT} failed (1 in a row, tolerating 5)"
    ]


def test_an_unlock_says_how_the_holder_ended(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "ERROR", error="boom")))
    with capture_logs() as logs:
        watch(clock, event_trigger(), seconds=15)
    assert f"Gcore project {PROJECT} is unlocked: task {TASK_A}, which held the lock, is ERROR" in [
        entry["event"] for entry in logs
    ]


def test_an_unlock_whose_holder_is_not_found_says_so(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, status(404))
    with capture_logs() as logs:
        events = watch(clock, event_trigger(), seconds=15)
    assert [e["lock_task"] for e in events] == [None]
    lines = [entry["event"] for entry in logs]
    assert (
        f"Gcore project {PROJECT} is unlocked; task {TASK_A}, which held the lock, could not be found (HTTP 404)"
        in (lines)
    )
    assert not any("ended" in line for line in lines)


def test_an_unlock_whose_holder_cannot_be_read_says_why(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, status(403))
    with capture_logs() as logs:
        events = watch(clock, event_trigger(), seconds=15)
    assert [e["lock_task"] for e in events] == [None]
    warnings = [entry["event"] for entry in logs if entry["log_level"] == "warning"]
    assert warnings == [
        f"Gcore project {PROJECT} is unlocked; task {TASK_A}, which held the lock, could not be read: "
        f"Gcore Cloud GET {TASK_A_PATH} failed: HTTP 403 Error: scripted 403 (request id req-1). "
        "The key is valid but may not do this: check its permissions in the Gcore portal"
    ]


def test_a_watch_shares_its_poll_with_a_wait_on_the_same_project(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, locked_until(clock, 25))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))

    async def main() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        events: list[dict[str, Any]] = []

        async def consume() -> None:
            async for event in event_trigger().run():
                events.append(event.payload)

        watching = asyncio.ensure_future(consume())
        [waited] = [e.payload async for e in unlocked_trigger().run()]
        await asyncio.sleep(10)
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        return events, waited

    events, waited = run_virtual(clock, main())
    assert waited["status"] == "done"
    assert [e["lock_task"]["id"] for e in events] == [TASK_A]
    assert api.sent_at("GET", PROJECT_PATH) == [0.0, 10.0, 20.0, 30.0, 40.0]  # one poll for both


def test_a_long_lock_reads_its_holder_once_at_the_unlock(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, locked_until(clock, 55))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    watch(clock, event_trigger(), seconds=65)
    assert api.sent_at("GET", PROJECT_PATH) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert api.sent_at("GET", TASK_A_PATH) == [60.0]  # the polls never read it; the unlock does


# -- what the watch remembers and says ------------------------------------------------------------


@pytest.mark.parametrize("recalled", [123, "", None], ids=["not-a-string", "empty", "nothing"])
def test_a_recalled_holder_that_is_not_a_task_id_is_ignored(clock: VirtualClock, api: FakeApi, recalled: Any) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    trigger = event_trigger()
    trigger.asset_state_store = FakeAssetStateStore({trigger.state_key: recalled})  # type: ignore[assignment]
    with capture_logs() as logs:
        assert watch(clock, trigger, seconds=15) == []
    assert not any("when this watch last ran" in entry["event"] for entry in logs)


def test_the_log_says_which_task_locked_the_project_and_which_one_the_last_watch_saw(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_B)), ok(project(TASK_B)))
    trigger = event_trigger()
    trigger.asset_state_store = FakeAssetStateStore({trigger.state_key: TASK_A})  # type: ignore[assignment]
    with capture_logs() as logs:
        watch(clock, trigger, seconds=15)
    infos = [entry["event"] for entry in logs if entry["log_level"] == "info"]
    assert infos == [
        f"Gcore project {PROJECT} was locked by task {TASK_A} when this watch last ran",
        f"Gcore project {PROJECT} is locked by task {TASK_B}",  # once, not per poll
    ]


@pytest.mark.parametrize(
    ("tolerated", "polls"),
    [(1, [0.0, 10.0, 30.0, 70.0]), (2, [0.0, 10.0, 20.0, 40.0])],
    ids=["one-tolerated", "two-tolerated"],
)
def test_failures_past_max_consecutive_errors_double_the_pause(
    clock: VirtualClock, api: FakeApi, tolerated: int, polls: list[float]
) -> None:
    api.on("GET", PROJECT_PATH, status(503))
    watch(clock, event_trigger(max_consecutive_errors=tolerated), seconds=75)
    assert api.sent_at("GET", PROJECT_PATH)[:4] == polls


def test_a_missing_connection_is_waited_out_and_read_again(
    clock: VirtualClock, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(f"AIRFLOW_CONN_{CONN.upper()}")
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))

    async def fix_later() -> None:
        await asyncio.sleep(15)
        connect(monkeypatch, CONN)

    async def main() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []

        async def consume() -> None:
            async for event in event_trigger().run():
                events.append(event.payload)

        running = asyncio.ensure_future(consume())
        await fix_later()
        await asyncio.sleep(60)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        return events

    with capture_logs() as logs:
        events = run_virtual(clock, main())
    assert [e["lock_task"]["id"] for e in events] == [TASK_A]
    assert api.sent_at("GET", PROJECT_PATH)[0] > 15  # nothing was sent before the connection existed
    errors = [entry["event"] for entry in logs if entry["log_level"] == "error"]
    assert errors and CONN in errors[0]


# -- its kwargs ------------------------------------------------------------------------------------


def test_serialize_is_json_safe_holds_no_key_and_rebuilds_the_same_watch() -> None:
    trigger = GcoreProjectUnlockedEventTrigger(project_id=PROJECT, gcore_conn_id=CONN, poll_interval=15)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_projects.triggers.gcore_events.GcoreProjectUnlockedEventTrigger"
    assert kwargs == {"project_id": PROJECT, "gcore_conn_id": CONN, "poll_interval": 15.0, "max_consecutive_errors": 5}
    assert API_KEY not in json.dumps(kwargs)
    assert rebuilt(trigger).serialize() == (classpath, kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"poll_interval": 0}, "poll_interval"), ({"max_consecutive_errors": -1}, "max_consecutive_errors")],
    ids=["poll_interval", "max_consecutive_errors"],
)
def test_the_watch_refuses_bad_kwargs_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        GcoreProjectUnlockedEventTrigger(project_id=PROJECT, **kwargs)
    assert str(refused.value).startswith(f"{field} must be ")


def test_the_watch_uses_the_default_connection_unless_told() -> None:
    assert GcoreProjectUnlockedEventTrigger(project_id=PROJECT).serialize()[1]["gcore_conn_id"] == "gcore_default"
