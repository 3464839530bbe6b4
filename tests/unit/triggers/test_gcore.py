"""The Gcore triggers end to end: the async HTTP core over the scripted API, in virtual time.

The connection comes from an ``AIRFLOW_CONN_*`` variable through ``BaseHook.aget_connection``;
requests go to :class:`FakeApi`; ``run_virtual`` runs the triggerer's loop on the virtual clock,
so ``clock.sleeps`` lists every pause (the shared poll's and the HTTP core's back-offs) and no
test waits for real. Sharing a poll between waits is covered in ``test_shared_polls.py``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from airflow.sdk import BaseHook
from airflow.triggers.base import BaseEventTrigger, BaseTrigger
from fakes import START, FakeApi, Reply, VirtualClock, ok, run_virtual
from structlog.testing import capture_logs

from airflow_provider_projects._http.wire import Request
from airflow_provider_projects.errors import AuthenticationError, InvalidInputError, NotFoundError, ServerError
from airflow_provider_projects.models.gcore import GcoreProjectLock, GcoreTask
from airflow_provider_projects.triggers.gcore import (
    GcoreProjectUnlockedEventTrigger,
    GcoreProjectUnlockedTrigger,
    GcoreTaskTrigger,
)
from airflow_provider_projects.waiting import WaitOutcome

BASE = "https://gcore.test"
API_KEY = "gcore-SECRET-key-8f3a91c7"
CONN = "gcore_wait"
CONN_RETRYING = "gcore_wait_retrying"
PROJECT = 2
TASK_A = "7244e161-664c-4afd-a34e-7003eac4d949"
TASK_B = "0b7c1a52-9d7e-4c39-a9a5-5f4b8f4c2e10"
PROJECT_PATH = f"/cloud/v1/projects/{PROJECT}"
TASK_A_PATH = f"/cloud/v1/tasks/{TASK_A}"
TASK_B_PATH = f"/cloud/v1/tasks/{TASK_B}"


def project(task_id: str | None = None) -> dict[str, Any]:
    return {
        "id": PROJECT,
        "client_id": 1,
        "name": "analytics",
        "description": "Dashboards and reports",
        "created_at": "2026-01-01T00:00:00+0000",
        "deleted_at": None,
        "is_default": False,
        "state": "ACTIVE",
        "task_id": task_id,
    }


def task(task_id: str, state: str, error: str | None = None) -> dict[str, Any]:
    return {
        "id": task_id,
        "user_id": 1001,
        "task_type": "update_project",
        "state": state,
        "created_on": "2026-05-01T12:00:00",
        "finished_on": "2026-05-01T12:00:16" if state in {"FINISHED", "ERROR"} else None,
        "error": error,
        "project_id": PROJECT,
    }


def status(code: int, **headers: str) -> Reply:
    return Reply(code, {"exception_class": "Error", "message": f"scripted {code}", "request_id": "req-1"}, headers)


def locked_until(clock: VirtualClock, moment: float, holder: str = TASK_A) -> Callable[[Request], Reply]:
    """The project as Gcore shows it: locked by ``holder`` until ``moment`` s after the start."""
    return lambda request: ok(project(holder if clock.now < START + moment else None))


def connect(monkeypatch: pytest.MonkeyPatch, conn_id: str, key: str = API_KEY, retries: int = 0) -> None:
    conn = {"conn_type": "gcore", "host": BASE, "password": key, "extra": {"max_retries": retries}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, CONN)
    connect(monkeypatch, CONN_RETRYING, retries=2)


def run(clock: VirtualClock, trigger: BaseTrigger) -> dict[str, Any]:
    """Run a trigger to its one event in virtual time; the event as the triggerer stores it (JSON)."""

    async def main() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    [event] = run_virtual(clock, main())
    assert json.loads(json.dumps(event)) == event
    return event


def watch(clock: VirtualClock, trigger: GcoreProjectUnlockedEventTrigger, seconds: float) -> list[dict[str, Any]]:
    """Run a never-ending watch for ``seconds`` of virtual time; the events it fired meanwhile."""
    events: list[dict[str, Any]] = []

    async def consume() -> None:
        gen: AsyncIterator[Any] = trigger.run()
        async for event in gen:
            events.append(event.payload)

    async def main() -> None:
        running = asyncio.ensure_future(consume())
        await asyncio.sleep(seconds)
        assert not running.done(), "a watch never ends by itself"
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    run_virtual(clock, main())
    return events


def import_string(classpath: str) -> Any:
    """What the triggerer does with a serialized classpath."""
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)


def rebuilt(trigger: BaseTrigger) -> Any:
    """The trigger as a triggerer rebuilds it from the database: classpath and JSON kwargs."""
    classpath, kwargs = trigger.serialize()
    return import_string(classpath)(**json.loads(json.dumps(kwargs)))


def unlocked_trigger(deadline: float = 100, **kwargs: Any) -> GcoreProjectUnlockedTrigger:
    kwargs.setdefault("gcore_conn_id", CONN)
    kwargs.setdefault("poll_interval", 10)
    return GcoreProjectUnlockedTrigger(project_id=PROJECT, deadline=START + deadline, **kwargs)


def lock_of(event: dict[str, Any]) -> WaitOutcome[GcoreProjectLock]:
    return WaitOutcome.from_event(event, GcoreProjectLock)


# -- the project lock --------------------------------------------------------------------------------


def test_locked_locked_unlocked_ends_with_the_project_and_the_lock_holder(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    event = run(clock, unlocked_trigger())

    outcome = lock_of(event)
    assert (outcome.status, outcome.polls, outcome.waited, event["deadline"]) == ("done", 3, 20.0, START + 100)
    assert outcome.value is not None and outcome.value.project.model_dump() == project(None)
    # A lock shorter than a minute: the holder is read once, when the lock clears (its final state).
    assert outcome.value.holder is not None
    assert (outcome.value.holder.id, outcome.value.holder.state) == (TASK_A, "FINISHED")
    assert outcome.last_seen is not None and outcome.last_seen.summary() == f"locked by task {TASK_A}"
    assert [r.path for r in api.requests] == [PROJECT_PATH, PROJECT_PATH, PROJECT_PATH, TASK_A_PATH]
    assert clock.sleeps == [10.0, 10.0]
    assert {r.headers["Authorization"] for r in api.requests} == {f"APIKey {API_KEY}"}
    assert API_KEY not in json.dumps(event)


def test_a_lock_holder_that_ended_in_error_is_reported_with_its_error_text(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "ERROR", "Quota exceeded for region 76")))
    holder = lock_of(run(clock, unlocked_trigger())).value.holder  # type: ignore[union-attr]
    assert holder is not None
    assert (holder.state, holder.error, holder.failed) == ("ERROR", "Quota exceeded for region 76", True)


def test_the_last_of_several_lock_holders_is_the_one_reported(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(TASK_B)), ok(project(None)))
    api.on("GET", TASK_B_PATH, ok(task(TASK_B, "FINISHED")))
    outcome = lock_of(run(clock, unlocked_trigger(lock_task_id=TASK_A)))
    assert outcome.value is not None and outcome.value.holder is not None
    assert (outcome.value.holder.id, outcome.value.holder.state) == (TASK_B, "FINISHED")
    # TASK_A was the holder the sensor saw: not read again. TASK_B: when it showed up, and at the end.
    assert [r.path for r in api.requests] == [PROJECT_PATH, PROJECT_PATH, PROJECT_PATH, TASK_B_PATH]


def test_a_project_unlocked_from_the_start_reads_no_task(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    outcome = lock_of(run(clock, unlocked_trigger()))
    assert (outcome.status, outcome.polls) == ("done", 1)
    assert outcome.value is not None and outcome.value.holder is None
    assert [r.path for r in api.requests] == [PROJECT_PATH]


def test_a_holder_seen_before_deferring_is_read_when_the_project_is_found_unlocked(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "ERROR", "boom")))
    outcome = lock_of(run(clock, unlocked_trigger(lock_task_id=TASK_A)))
    assert outcome.value is not None and outcome.value.holder is not None
    assert (outcome.value.holder.id, outcome.value.holder.error) == (TASK_A, "boom")
    assert [r.path for r in api.requests] == [PROJECT_PATH, TASK_A_PATH]


def test_reading_the_holder_late_keeps_what_the_wait_saw(clock: VirtualClock, api: FakeApi) -> None:
    # The sensor saw TASK_A before deferring; the shared poll's read of it when the lock cleared
    # failed (404), so the trigger reads it once more. The event still says how long the wait
    # took and what it last saw.
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, status(404), ok(task(TASK_A, "FINISHED")))
    outcome = lock_of(run(clock, unlocked_trigger(lock_task_id=TASK_A)))
    assert outcome.value is not None and outcome.value.holder is not None
    assert outcome.value.holder.state == "FINISHED"
    assert (outcome.status, outcome.polls, outcome.waited) == ("done", 2, 10.0)
    assert outcome.last_seen is not None and outcome.last_seen.project.task_id == TASK_A
    assert [r.path for r in api.requests] == [PROJECT_PATH, PROJECT_PATH, TASK_A_PATH, TASK_A_PATH]


def test_an_unreadable_lock_holder_does_not_spoil_the_success(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, status(404))
    outcome = lock_of(run(clock, unlocked_trigger()))
    assert outcome.status == "done"
    assert outcome.value is not None and outcome.value.holder is None


# -- errors ------------------------------------------------------------------------------------------


def test_transient_503s_are_tolerated(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, status(503), status(503), ok(project(None)))
    with capture_logs() as logs:
        outcome = lock_of(run(clock, unlocked_trigger(max_consecutive_errors=2)))
    assert (outcome.status, outcome.polls) == ("done", 3)
    assert len(api.requests) == 3
    # Each tolerated failure is a warning in the trigger's own log (the task's log in the UI).
    warnings = [str(e["event"]).split(":")[0] for e in logs if e["log_level"] == "warning" and "Polling" in e["event"]]
    assert warnings == [
        f"Polling the lock on Gcore project {PROJECT} failed (1 in a row, tolerating 2)",
        f"Polling the lock on Gcore project {PROJECT} failed (2 in a row, tolerating 2)",
    ]


def test_one_503_more_than_tolerated_ends_with_an_error_event(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, status(503), status(503), status(503), ok(project(None)))
    event = run(clock, unlocked_trigger(max_consecutive_errors=2))
    assert (event["status"], event["error"]["type"], event["error"]["fields"]["status"]) == (
        "error",
        "ServerError",
        503,
    )
    assert "3 failed polls in a row" in event["error"]["message"]
    assert len(api.requests) == 3
    error = lock_of(event).error
    assert isinstance(error, ServerError)
    assert error.status == 503


def test_failed_polls_handed_over_by_the_sensor_count_against_the_tolerance(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, status(503), ok(project(None)))
    event = run(clock, unlocked_trigger(max_consecutive_errors=2, failed_polls=2))
    assert (event["status"], event["polls"]) == ("error", 1)
    assert "3 failed polls in a row" in event["error"]["message"]


def test_each_poll_retries_inside_the_http_core_before_counting_as_failed(clock: VirtualClock, api: FakeApi) -> None:
    # max_retries=2: one poll is up to 3 requests, with the core's back-off (jitter 0.5) between them.
    api.on("GET", PROJECT_PATH, status(503), status(503), status(503), status(503), ok(project(None)))
    outcome = lock_of(run(clock, unlocked_trigger(gcore_conn_id=CONN_RETRYING, max_consecutive_errors=1)))
    assert (outcome.status, outcome.polls) == ("done", 2)
    assert len(api.requests) == 5  # poll 1: 3 x 503; poll 2: 503, then 200
    assert clock.sleeps == [0.75, 1.5, 10.0, 0.75]  # back-offs of poll 1, the interval, the back-off of poll 2


@pytest.mark.parametrize(
    ("code", "error_type"), [(401, AuthenticationError), (403, AuthenticationError), (404, NotFoundError)]
)
def test_401_403_404_end_the_wait_at_once(
    clock: VirtualClock, api: FakeApi, code: int, error_type: type[Exception]
) -> None:
    api.on("GET", PROJECT_PATH, status(code), ok(project(None)))
    event = run(clock, unlocked_trigger(gcore_conn_id=CONN_RETRYING))
    assert (event["status"], event["error"]["fields"]["status"]) == ("error", code)
    assert isinstance(lock_of(event).error, error_type)
    assert len(api.requests) == 1
    assert clock.sleeps == []
    assert API_KEY not in json.dumps(event)


def test_a_429_is_retried_after_its_retry_after_inside_the_poll(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, status(429, **{"Retry-After": "45"}), ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    outcome = lock_of(run(clock, unlocked_trigger(gcore_conn_id=CONN_RETRYING)))
    assert (outcome.status, outcome.polls) == ("done", 2)
    assert clock.sleeps == [45.5, 10.0]  # Retry-After plus the core's jitter (0.5 x 1 s), then the interval


def test_a_429_whose_retries_ran_out_lengthens_the_pause(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, status(429, **{"Retry-After": "45"}), ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    outcome = lock_of(run(clock, unlocked_trigger()))  # max_retries=0: the 429 reaches the wait
    assert (outcome.status, outcome.polls) == ("done", 3)
    assert clock.sleeps == [45.0, 10.0]


# -- timeout -----------------------------------------------------------------------------------------


def test_timeout_is_its_own_event_after_an_exact_number_of_polls(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "RUNNING")))
    event = run(clock, unlocked_trigger(deadline=25))
    outcome = lock_of(event)
    assert (outcome.status, outcome.polls, outcome.waited, outcome.value) == ("timeout", 4, 25.0, None)
    assert outcome.last_seen is not None and outcome.last_seen.summary().startswith(f"locked by task {TASK_A}")
    assert len(api.sent("GET", PROJECT_PATH)) == 4  # at +0, +10, +20 and at the deadline (+25)
    assert clock.now == START + 25


# -- the first poll ----------------------------------------------------------------------------------


def test_first_poll_at_delays_the_first_poll(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    outcome = lock_of(run(clock, unlocked_trigger(first_poll_at=START + 10)))
    assert outcome.status == "done"
    assert clock.sleeps == [10.0]
    assert len(api.requests) == 1


def test_a_first_poll_time_already_passed_polls_at_once(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    run(clock, unlocked_trigger(first_poll_at=START - 3))
    assert clock.sleeps == []


def test_a_first_poll_time_after_the_deadline_still_polls_once_at_the_deadline(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "RUNNING")))
    event = run(clock, unlocked_trigger(deadline=5, first_poll_at=START + 60))
    assert (event["status"], event["polls"]) == ("timeout", 1)
    assert clock.sleeps == [5.0]
    assert len(api.sent("GET", PROJECT_PATH)) == 1


# -- the task trigger --------------------------------------------------------------------------------


def test_task_trigger_follows_a_task_to_error_and_carries_its_error_text(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "NEW")), ok(task(TASK_A, "RUNNING")), ok(task(TASK_A, "ERROR", "boom")))
    trigger = GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=START + 600, gcore_conn_id=CONN, poll_interval=5)
    event = run(clock, trigger)
    outcome = WaitOutcome.from_event(event, GcoreTask)
    assert (outcome.status, outcome.polls) == ("done", 3)
    assert outcome.value is not None and (outcome.value.state, outcome.value.error) == ("ERROR", "boom")
    assert [r.path for r in api.requests] == [TASK_A_PATH] * 3
    assert clock.sleeps == [5.0, 5.0]


def test_task_trigger_times_out(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "RUNNING")))
    trigger = GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=START + 30, gcore_conn_id=CONN, poll_interval=10)
    event = run(clock, trigger)
    assert (event["status"], event["polls"], event["last_seen"]["state"]) == ("timeout", 4, "RUNNING")
    assert len(api.requests) == 4


# -- progress lines ----------------------------------------------------------------------------------


def test_progress_is_logged_at_the_start_and_about_once_a_minute_never_per_poll(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", PROJECT_PATH, locked_until(clock, 150))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "RUNNING")))
    with capture_logs() as logs:
        event = run(clock, unlocked_trigger(deadline=300))
    assert (event["status"], event["polls"]) == ("done", 16)
    lines = [entry["event"] for entry in logs if str(entry["event"]).startswith("Waiting for")]
    what, holder = f"Waiting for the lock on Gcore project {PROJECT}", f"task {TASK_A} (update_project) is RUNNING"
    # The holder's type and state are read once it has held the lock a minute: the first line
    # names it, the later ones say what it is and how it is doing.
    assert lines == [
        f"{what}: locked by task {TASK_A}; waited 0 s, 1 poll(s), 300 s left before the deadline",
        f"{what}: locked by {holder}; waited 60 s, 7 poll(s), 240 s left before the deadline",
        f"{what}: locked by {holder}; waited 120 s, 13 poll(s), 180 s left before the deadline",
    ]


# -- serialize() and a triggerer restart --------------------------------------------------------------


def all_triggers() -> list[tuple[BaseTrigger, dict[str, Any]]]:
    return [
        (
            GcoreProjectUnlockedTrigger(
                project_id=PROJECT,
                lock_task_id=TASK_A,
                deadline=START + 60,
                gcore_conn_id=CONN,
                first_poll_at=START + 5,
                failed_polls=1,
            ),
            {
                "project_id": PROJECT,
                "lock_task_id": TASK_A,
                "deadline": START + 60,
                "gcore_conn_id": CONN,
                "poll_interval": 10.0,
                "max_consecutive_errors": 5,
                "first_poll_at": START + 5,
                "failed_polls": 1,
            },
        ),
        (
            GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=START + 60, gcore_conn_id=CONN),
            {
                "gcore_task_id": TASK_A,
                "deadline": START + 60,
                "gcore_conn_id": CONN,
                "poll_interval": 10.0,
                "max_consecutive_errors": 5,
            },
        ),
        (
            GcoreProjectUnlockedEventTrigger(project_id=PROJECT, gcore_conn_id=CONN, poll_interval=15),
            {"project_id": PROJECT, "gcore_conn_id": CONN, "poll_interval": 15.0, "max_consecutive_errors": 5},
        ),
    ]


@pytest.mark.parametrize(("trigger", "kwargs"), all_triggers(), ids=lambda t: type(t).__name__)
def test_serialize_is_json_safe_holds_no_key_and_rebuilds_the_same_trigger(
    clock: VirtualClock, api: FakeApi, trigger: BaseTrigger, kwargs: dict[str, Any]
) -> None:
    if not isinstance(trigger, GcoreProjectUnlockedEventTrigger):
        api.on("GET", PROJECT_PATH, ok(project(None)))
        api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
        run(clock, trigger)  # the trigger has read its connection (and so the key) before serializing
    classpath, found = trigger.serialize()
    assert classpath == f"airflow_provider_projects.triggers.gcore.{type(trigger).__name__}"
    assert found == kwargs
    text = json.dumps(found)
    assert API_KEY not in text
    assert "password" not in text
    again = rebuilt(trigger)
    assert type(again) is type(trigger)
    assert again.serialize() == (classpath, found)


def test_a_trigger_rebuilt_after_a_triggerer_restart_keeps_the_same_deadline(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "RUNNING")))
    first = unlocked_trigger(deadline=100)

    async def dies_at_25() -> None:
        running = asyncio.ensure_future(first.run().__anext__())
        await asyncio.sleep(25)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    run_virtual(clock, dies_at_25())
    assert len(api.sent("GET", PROJECT_PATH)) == 3  # +0, +10, +20
    again = rebuilt(first)
    clock.now += 5  # the triggerer comes back 5 s later, at +30
    api.requests.clear()
    event = run(clock, again)

    assert (again.deadline, event["deadline"]) == (START + 100, START + 100)
    assert (event["status"], event["polls"], event["waited"]) == ("timeout", 8, 70.0)
    assert clock.now == START + 100  # not +130: the same wait, not a new one
    assert len(api.sent("GET", PROJECT_PATH)) == 8  # +30, +40, ... +100


def test_a_trigger_rebuilt_and_run_beside_others_continues_its_wait(clock: VirtualClock, api: FakeApi) -> None:
    # A sensor deferred at +0 (first poll one interval later, deadline +100); the triggerer that
    # held it restarted, and it runs again beside a wait on the same project that started first.
    api.on("GET", PROJECT_PATH, locked_until(clock, 250))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "RUNNING")))
    deferred = rebuilt(unlocked_trigger(deadline=100, lock_task_id=TASK_A, first_poll_at=START + 40))
    other = unlocked_trigger(deadline=400)

    async def main() -> list[dict[str, Any]]:
        async def one(trigger: BaseTrigger) -> dict[str, Any]:
            [event] = [e.payload async for e in trigger.run()]
            return event

        beside = asyncio.ensure_future(one(other))
        await asyncio.sleep(15)
        return [await one(deferred), await beside]

    events = run_virtual(clock, main())
    mine, theirs = (lock_of(e) for e in events)
    # Its first poll is the shared poll's tick at +40 (first_poll_at), its last at its own deadline.
    assert (events[0]["status"], events[0]["deadline"]) == ("timeout", START + 100)
    assert (mine.polls, mine.waited) == (7, 60.0)  # +40, +50, ... +100
    assert (theirs.status, theirs.polls) == ("done", 26)  # +0, +10, ... +250
    assert len(api.sent("GET", PROJECT_PATH)) == 26  # one poll for both


def test_a_trigger_rebuilt_after_its_deadline_still_reports_a_cleared_lock(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    again = rebuilt(unlocked_trigger(deadline=100, lock_task_id=TASK_A))
    clock.now = START + 500
    outcome = lock_of(run(clock, again))
    assert outcome.status == "done"
    assert outcome.value is not None and outcome.value.holder is not None
    assert outcome.value.holder.id == TASK_A  # the holder seen before deferring survived serialize()


def test_the_connection_is_fetched_with_aget_connection_in_the_event_loop(
    clock: VirtualClock, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []
    original = BaseHook.aget_connection.__func__  # type: ignore[attr-defined]

    async def spy(cls: type[BaseHook], conn_id: str) -> Any:
        fetched.append(conn_id)
        return await original(cls, conn_id)

    def blocking(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the blocking get_connection ran inside the event loop")

    monkeypatch.setattr(BaseHook, "aget_connection", classmethod(spy))
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(blocking))
    api.on("GET", PROJECT_PATH, ok(project(TASK_A)), ok(project(None)))
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    event = run(clock, unlocked_trigger())

    assert event["status"] == "done"
    assert fetched == [CONN]  # once for the whole wait
    assert {r.headers["Authorization"] for r in api.requests} == {f"APIKey {API_KEY}"}
    assert {r.url.split("/")[2] for r in api.requests} == {"gcore.test"}


def test_a_missing_connection_is_an_error_event_that_says_how_to_fix_it(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    event = run(clock, unlocked_trigger(gcore_conn_id="no_such_gcore_conn"))
    assert (event["status"], event["error"]["type"]) == ("error", "ConnectionSetupError")
    assert "AIRFLOW_CONN_NO_SUCH_GCORE_CONN" in event["error"]["message"]
    assert api.requests == []


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
    assert clock.sleeps[:5] == [10.0, 10.0, 40.0, 80.0, 10.0]


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


# -- one connection read for many waits ------------------------------------------------------------


def counting_connection_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``BaseHook.aget_connection`` call, by connection id."""
    from airflow.sdk import BaseHook

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


# -- what mutation testing found unpinned (issue 19) ------------------------------------------------


def test_the_task_trigger_counts_failed_polls_handed_over_against_its_tolerance(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", TASK_A_PATH, status(503), ok(task(TASK_A, "FINISHED")))
    trigger = GcoreTaskTrigger(
        gcore_task_id=TASK_A,
        deadline=START + 600,
        gcore_conn_id=CONN,
        poll_interval=5,
        max_consecutive_errors=2,
        failed_polls=2,
    )
    event = run(clock, trigger)
    assert (event["status"], event["polls"]) == ("error", 1)
    assert event["error"]["message"].endswith(f"(3 failed polls in a row while waiting for Gcore task {TASK_A})")


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=1.0, poll_interval=0), "poll_interval"),
        (
            lambda: GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=1.0, max_consecutive_errors=-1),
            "max_consecutive_errors",
        ),
        (lambda: GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=1.0, failed_polls=-1), "failed_polls"),
        (lambda: GcoreProjectUnlockedEventTrigger(project_id=PROJECT, poll_interval=0), "poll_interval"),
        (
            lambda: GcoreProjectUnlockedEventTrigger(project_id=PROJECT, max_consecutive_errors=-1),
            "max_consecutive_errors",
        ),
    ],
    ids=["task-poll_interval", "task-max_consecutive_errors", "task-failed_polls", "watch-poll_interval", "watch-max"],
)
def test_a_trigger_refuses_bad_kwargs_naming_the_field(make: Callable[[], BaseTrigger], field: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        make()
    assert str(refused.value).startswith(f"{field} must be ")


def test_triggers_use_the_default_connection_unless_told() -> None:
    assert GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=1.0).serialize()[1]["gcore_conn_id"] == "gcore_default"
    assert GcoreProjectUnlockedEventTrigger(project_id=PROJECT).serialize()[1]["gcore_conn_id"] == "gcore_default"
