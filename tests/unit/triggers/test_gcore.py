"""The Gcore wait triggers end to end (``triggers/gcore.py``): the async HTTP core over the scripted
API, in virtual time, so ``clock.sleeps`` lists every pause and no test waits for real. Sharing a
poll between waits is covered in ``polling/test_driver.py``; the asset watch in ``test_gcore_events.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk import BaseHook
from airflow.triggers.base import BaseTrigger
from fakes import START, FakeApi, VirtualClock, ok, run_virtual
from structlog.testing import capture_logs

from airflow_provider_projects.errors import AuthenticationError, InvalidInputError, NotFoundError, ServerError
from airflow_provider_projects.models.gcore import GcoreTask
from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger, GcoreTaskTrigger
from airflow_provider_projects.waiting import WaitOutcome

from .support import (
    API_KEY,
    CONN,
    CONN_RETRYING,
    PROJECT,
    PROJECT_PATH,
    TASK_A,
    TASK_A_PATH,
    TASK_B,
    TASK_B_PATH,
    connect,
    lock_of,
    locked_until,
    project,
    rebuilt,
    run,
    status,
    task,
    unlocked_trigger,
)

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


@pytest.mark.parametrize("delay", [10.0, 0.5], ids=["seconds", "under-a-second"])
def test_first_poll_at_delays_the_first_poll(clock: VirtualClock, api: FakeApi, delay: float) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    outcome = lock_of(run(clock, unlocked_trigger(first_poll_at=START + delay)))
    assert outcome.status == "done"
    assert clock.sleeps == [delay]
    assert api.sent_at() == [delay]


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
            GcoreProjectUnlockedTrigger(project_id=PROJECT, read_holder=False, deadline=START + 60, gcore_conn_id=CONN),
            {
                "project_id": PROJECT,
                "lock_task_id": None,
                "read_holder": False,
                "deadline": START + 60,
                "gcore_conn_id": CONN,
                "poll_interval": 10.0,
                "max_consecutive_errors": 5,
            },
        ),
    ]


@pytest.mark.parametrize(("trigger", "kwargs"), all_triggers(), ids=["unlocked", "task", "unlocked-unread-holder"])
def test_serialize_is_json_safe_holds_no_key_and_rebuilds_the_same_trigger(
    clock: VirtualClock, api: FakeApi, trigger: BaseTrigger, kwargs: dict[str, Any]
) -> None:
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
        beside = asyncio.ensure_future(first(other))
        await asyncio.sleep(15)
        return [await first(deferred), await beside]

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
    assert (event["status"], event["error"]["type"]) == ("error", "ConnectionNotFoundError")
    assert "AIRFLOW_CONN_NO_SUCH_GCORE_CONN" in event["error"]["message"]
    assert api.requests == []


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
    ],
    ids=["task-poll_interval", "task-max_consecutive_errors", "task-failed_polls"],
)
def test_a_trigger_refuses_bad_kwargs_naming_the_field(make: Callable[[], BaseTrigger], field: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        make()
    assert str(refused.value).startswith(f"{field} must be ")


def test_triggers_use_the_default_connection_unless_told() -> None:
    assert GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=1.0).serialize()[1]["gcore_conn_id"] == "gcore_default"
    unlocked = GcoreProjectUnlockedTrigger(project_id=PROJECT, deadline=1.0)
    assert unlocked.serialize()[1]["gcore_conn_id"] == "gcore_default"


def test_each_key_waits_on_its_own_polls(clock: VirtualClock, api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """Waits on one task and one project under two connections with different keys: one poll per key."""
    connect(monkeypatch, "gcore_other", key="gcore-OTHER-key-51d0")
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "FINISHED")))
    api.on("GET", PROJECT_PATH, ok(project(None)))

    async def main() -> None:
        waits = [
            wait
            for conn_id in (CONN, "gcore_other")
            for wait in (
                GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=START + 60, gcore_conn_id=conn_id),
                unlocked_trigger(gcore_conn_id=conn_id),
            )
        ]
        await asyncio.gather(*(first(wait) for wait in waits))  # at once: a shared poll would send one key

    run_virtual(clock, main())
    for path in (TASK_A_PATH, PROJECT_PATH):
        keys = sorted(r.headers["Authorization"] for r in api.sent("GET", path))
        assert keys == sorted([f"APIKey {API_KEY}", "APIKey gcore-OTHER-key-51d0"])


async def first(trigger: BaseTrigger) -> dict[str, Any]:
    [event] = [e.payload async for e in trigger.run()]
    return event  # type: ignore[no-any-return]


def test_waits_on_two_tasks_poll_each_task(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_A_PATH, ok(task(TASK_A, "RUNNING")), ok(task(TASK_A, "FINISHED")))
    api.on("GET", TASK_B_PATH, ok(task(TASK_B, "FINISHED")))

    async def main() -> list[dict[str, Any]]:
        waits = [GcoreTaskTrigger(gcore_task_id=t, deadline=START + 60, gcore_conn_id=CONN) for t in (TASK_A, TASK_B)]
        return list(await asyncio.gather(*(first(w) for w in waits)))

    events = run_virtual(clock, main())
    assert [e["value"]["id"] for e in events] == [TASK_A, TASK_B]
    assert (api.sent_at("GET", TASK_A_PATH), api.sent_at("GET", TASK_B_PATH)) == ([0.0, 10.0], [0.0])


def test_a_task_waits_tolerated_failure_is_told_in_its_triggers_own_log(clock: VirtualClock, api: FakeApi) -> None:
    api.on("GET", TASK_A_PATH, status(503), ok(task(TASK_A, "FINISHED")))
    with capture_logs() as logs:
        run(clock, GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=START + 60, gcore_conn_id=CONN))
    warnings = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert any(line.startswith(f"Polling Gcore task {TASK_A} failed (1 in a row") for line in warnings)


def test_the_event_names_the_last_holder_the_wait_saw(clock: VirtualClock, api: FakeApi) -> None:
    """Deferred on TASK_A, the wait saw TASK_B take the lock over: the resumed task is told of TASK_B."""
    api.on("GET", PROJECT_PATH, ok(project(TASK_B)), ok(project(None)))
    event = run(clock, unlocked_trigger(lock_task_id=TASK_A, read_holder=False))
    assert event["lock_task_id"] == TASK_B
    assert event["value"]["holder"] is None


def test_the_event_names_the_holder_seen_before_deferring_when_the_wait_saw_none(
    clock: VirtualClock, api: FakeApi
) -> None:
    api.on("GET", PROJECT_PATH, ok(project(None)))
    event = run(clock, unlocked_trigger(lock_task_id=TASK_A, read_holder=False))
    assert event["lock_task_id"] == TASK_A
