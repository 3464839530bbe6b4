"""Waiting, free of I/O: the tolerance of failed polls, the deadline, the outcome and its event.

A wait runs as :func:`poll_flow` driven by ``run_sync`` on the virtual clock: each scripted read
is one poll, ``clock.sleeps`` records every pause, so the poll count, the pauses and the moment a
wait ends are exact.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from fakes import START, VirtualClock

from airflow_provider_projects import defaults
from airflow_provider_projects._http.flow import Flow, Sleep, run_sync
from airflow_provider_projects._http.wire import Request
from airflow_provider_projects.errors import (
    ApiUnreachableError,
    AuthenticationError,
    ConnectionSetupError,
    GcoreTaskFailedError,
    InvalidResponseError,
    LockConflictError,
    NotFoundError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
)
from airflow_provider_projects.models.gcore import GcoreTask
from airflow_provider_projects.waiting import (
    MAX_WATCH_PAUSE,
    PROGRESS_EVERY,
    PollTolerance,
    Wait,
    WaitOutcome,
    poll_flow,
    retry_pause,
)

TASK_ID = "7244e161-664c-4afd-a34e-7003eac4d949"
WHAT = "Gcore task 7244e161-664c-4afd-a34e-7003eac4d949"


def task(state: str, error: str | None = None) -> GcoreTask:
    return GcoreTask(
        id=TASK_ID, user_id=1001, task_type="update_project", state=state, created_on="2026-05-01T12:00:00", error=error
    )


RUNNING, FINISHED = task("RUNNING"), task("FINISHED")


def server_error() -> ServerError:
    return ServerError("Gcore Cloud GET /cloud/v1/tasks/x failed: HTTP 503", status=503)


def unreachable() -> ApiUnreachableError:
    return ApiUnreachableError("Gcore Cloud GET /cloud/v1/tasks/x: connection failed")


def bad_body() -> InvalidResponseError:
    return InvalidResponseError("Gcore Cloud GET /cloud/v1/tasks/x: the answer is not JSON", status=200)


def rate_limited(retry_after: float | None = None) -> RateLimitedError:
    return RateLimitedError("HTTP 429", status=429, retry_after=retry_after)


FATAL: dict[str, Callable[[], ProjectsApiError]] = {
    "401": lambda: AuthenticationError("HTTP 401: Invalid <APIKey> authentication token", status=401),
    "403": lambda: AuthenticationError("HTTP 403 ForbiddenError", status=403),
    "404": lambda: NotFoundError("HTTP 404 NotFoundError", status=404),
    "no connection": lambda: ConnectionSetupError("No Airflow connection 'gcore_default'"),
}


@dataclass
class Run:
    """What a wait did: its outcome, and the virtual time of each poll."""

    outcome: WaitOutcome[GcoreTask]
    poll_times: list[float] = field(default_factory=list)


def drive(
    clock: VirtualClock,
    script: list[GcoreTask | ProjectsApiError],
    *,
    deadline: float = 1_000.0,
    poll_interval: float = 10.0,
    max_consecutive_errors: int = 5,
    repeat_last: bool = False,
) -> Run:
    """Run a wait over scripted poll outcomes (a task is a reading, an error is raised by the read)."""
    poll_times: list[float] = []
    outcomes = list(script)

    def read() -> Flow[GcoreTask]:
        poll_times.append(clock.now - START)
        if not outcomes:
            raise AssertionError("the wait polled more often than the script allows")
        outcome = outcomes[0] if repeat_last and len(outcomes) == 1 else outcomes.pop(0)
        if isinstance(outcome, ProjectsApiError):
            raise outcome
        return outcome
        yield  # a flow that sends nothing: the reading is scripted

    def send(request: Request) -> None:
        raise AssertionError("the scripted read sends nothing")

    wait: Wait[GcoreTask] = Wait(
        what=WHAT,
        is_done=lambda t: t.finished,
        deadline=START + deadline,
        poll_interval=poll_interval,
        tolerance=PollTolerance(max_consecutive_errors),
    )
    outcome = run_sync(poll_flow(wait, read), send)  # type: ignore[arg-type]
    return Run(outcome, poll_times)


# -- done --------------------------------------------------------------------------------------------


def test_done_on_the_first_poll_needs_no_pause(clock: VirtualClock) -> None:
    run = drive(clock, [FINISHED])
    assert (run.outcome.status, run.outcome.value, run.outcome.polls, run.outcome.waited) == ("done", FINISHED, 1, 0)
    assert clock.sleeps == []


def test_running_running_finished_polls_three_times_one_interval_apart(clock: VirtualClock) -> None:
    run = drive(clock, [task("NEW"), RUNNING, FINISHED], poll_interval=7.0)
    assert (run.outcome.status, run.outcome.value, run.outcome.polls) == ("done", FINISHED, 3)
    assert clock.sleeps == [7.0, 7.0]
    assert run.poll_times == [0.0, 7.0, 14.0]
    assert (run.outcome.error, run.outcome.last_seen, run.outcome.waited) == (None, RUNNING, 14.0)


def test_a_task_that_ended_in_error_is_done_too(clock: VirtualClock) -> None:
    # The wait ends on FINISHED and ERROR alike; what ERROR means is the waiting side's call.
    run = drive(clock, [RUNNING, task("ERROR", error="boom")])
    assert (run.outcome.status, run.outcome.value, run.outcome.polls) == ("done", task("ERROR", error="boom"), 2)


# -- transient errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("make_error", [server_error, unreachable, bad_body, rate_limited])
def test_transient_errors_are_tolerated_up_to_the_limit(
    clock: VirtualClock, make_error: Callable[[], ProjectsApiError]
) -> None:
    run = drive(clock, [make_error(), make_error(), make_error(), FINISHED], max_consecutive_errors=3)
    assert (run.outcome.status, run.outcome.polls) == ("done", 4)
    assert clock.sleeps == [10.0, 10.0, 10.0]


def test_one_transient_error_more_than_the_limit_ends_the_wait_with_that_error(clock: VirtualClock) -> None:
    errors: list[GcoreTask | ProjectsApiError] = [server_error() for _ in range(4)]
    run = drive(clock, [*errors, FINISHED], max_consecutive_errors=3)
    assert (run.outcome.status, run.outcome.polls) == ("error", 4)
    assert isinstance(run.outcome.error, ServerError)
    assert run.outcome.error.status == 503
    assert str(run.outcome.error) == f"{errors[-1]} (4 failed polls in a row while waiting for {WHAT})"
    assert "failed polls" not in str(errors[-1])  # the context goes on a copy
    assert clock.sleeps == [10.0, 10.0, 10.0]


def test_a_good_poll_resets_the_error_count(clock: VirtualClock) -> None:
    three: list[GcoreTask | ProjectsApiError] = [server_error(), unreachable(), server_error()]
    run = drive(clock, [*three, RUNNING, *three, FINISHED], max_consecutive_errors=3)
    assert (run.outcome.status, run.outcome.polls) == ("done", 8)


def test_zero_tolerance_fails_on_the_first_transient_error(clock: VirtualClock) -> None:
    run = drive(clock, [server_error(), FINISHED], max_consecutive_errors=0)
    assert (run.outcome.status, run.outcome.polls) == ("error", 1)
    assert clock.sleeps == []


def test_failures_carried_in_count_against_the_tolerance() -> None:
    # A sensor's failed poke on the worker, handed to the trigger as ``failed_polls``.
    tolerance = PollTolerance(2, failures=2)
    ending = tolerance.judge(server_error(), WHAT)
    assert isinstance(ending, ServerError)
    assert "3 failed polls in a row" in str(ending)


def test_tolerated_failures_are_logged_as_warnings(clock: VirtualClock, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_provider_projects.waiting"):
        drive(clock, [server_error(), server_error(), FINISHED], max_consecutive_errors=3)
    warnings = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_projects.waiting"]
    assert [w.split(":")[0] for w in warnings] == [
        f"Polling {WHAT} failed (1 in a row, tolerating 3)",
        f"Polling {WHAT} failed (2 in a row, tolerating 3)",
    ]


# -- fatal errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FATAL))
def test_an_error_polling_cannot_fix_ends_the_wait_at_once(clock: VirtualClock, name: str) -> None:
    error = FATAL[name]()
    run = drive(clock, [RUNNING, error, FINISHED], max_consecutive_errors=5)
    assert (run.outcome.status, run.outcome.polls) == ("error", 2)
    assert run.outcome.error is error
    assert clock.sleeps == [10.0]
    assert "failed polls in a row" not in str(error)


# -- timeout -----------------------------------------------------------------------------------------


def test_timeout_polls_on_the_interval_and_once_more_at_the_deadline(clock: VirtualClock) -> None:
    run = drive(clock, [RUNNING], deadline=25.0, poll_interval=10.0, repeat_last=True)
    assert (run.outcome.status, run.outcome.polls, run.outcome.value) == ("timeout", 4, None)
    assert (run.outcome.last_seen, run.outcome.waited) == (RUNNING, 25.0)
    assert run.poll_times == [0.0, 10.0, 20.0, 25.0]
    assert clock.sleeps == [10.0, 10.0, 5.0]


def test_timeout_on_an_exact_multiple_of_the_interval(clock: VirtualClock) -> None:
    run = drive(clock, [RUNNING], deadline=30.0, poll_interval=10.0, repeat_last=True)
    assert (run.outcome.status, run.outcome.polls) == ("timeout", 4)
    assert run.poll_times == [0.0, 10.0, 20.0, 30.0]


def test_transient_errors_until_the_deadline_end_as_a_timeout(clock: VirtualClock) -> None:
    run = drive(clock, [server_error()], deadline=20.0, max_consecutive_errors=10, repeat_last=True)
    assert (run.outcome.status, run.outcome.polls, run.outcome.error) == ("timeout", 3, None)


def test_a_wait_whose_deadline_has_passed_still_polls_once(clock: VirtualClock) -> None:
    cleared = drive(clock, [FINISHED], deadline=-60.0)
    assert (cleared.outcome.status, cleared.outcome.polls) == ("done", 1)
    still_running = drive(clock, [RUNNING, FINISHED], deadline=-60.0)
    assert (still_running.outcome.status, still_running.outcome.polls) == ("timeout", 1)
    assert clock.sleeps == []


# -- Retry-After -------------------------------------------------------------------------------------


def test_retry_after_longer_than_the_interval_lengthens_the_pause(clock: VirtualClock) -> None:
    run = drive(clock, [rate_limited(retry_after=45.0), RUNNING, FINISHED], poll_interval=10.0)
    assert run.outcome.status == "done"
    assert clock.sleeps == [45.0, 10.0]


@pytest.mark.parametrize("retry_after", [None, 0.0, 3.0])
def test_a_short_or_missing_retry_after_keeps_the_interval(clock: VirtualClock, retry_after: float | None) -> None:
    drive(clock, [rate_limited(retry_after=retry_after), FINISHED], poll_interval=10.0)
    assert clock.sleeps == [10.0]


def test_retry_after_is_cut_at_the_deadline(clock: VirtualClock) -> None:
    run = drive(clock, [rate_limited(retry_after=300.0)], deadline=25.0, repeat_last=True)
    assert run.outcome.status == "timeout"
    assert clock.sleeps == [25.0]
    assert run.poll_times == [0.0, 25.0]


@pytest.mark.parametrize(
    ("error", "pause"),
    [(rate_limited(30.0), 30.0), (rate_limited(None), 0.0), (server_error(), 0.0), (None, 0.0)],
    ids=["429-retry-after", "429-bare", "503", "none"],
)
def test_retry_pause(error: object, pause: float) -> None:
    assert retry_pause(error) == pause


# -- observe: the verdict of one poll ----------------------------------------------------------------


def test_observe_answers_the_pause_until_the_wait_is_over() -> None:
    wait: Wait[GcoreTask] = Wait(what=WHAT, is_done=lambda t: t.finished, deadline=100.0, poll_interval=10.0)
    assert wait.observe(RUNNING, now=0.0) == 10.0
    assert wait.observe(server_error(), now=10.0) == 10.0
    assert wait.observe(RUNNING, now=95.0) == 5.0  # never past the deadline
    done = wait.observe(FINISHED, now=100.0)
    assert done == WaitOutcome("done", value=FINISHED, last_seen=RUNNING, polls=4, waited=100.0)


# -- progress: at the start, then about once a minute ------------------------------------------------


def test_progress_is_logged_at_the_first_poll_then_once_a_minute(
    clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="airflow_provider_projects.waiting"):
        run = drive(clock, [RUNNING], deadline=200.0, repeat_last=True)
    assert run.outcome.polls == 21
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Waiting for")]
    summary = f"task {TASK_ID} (update_project) is RUNNING"
    assert lines == [
        f"Waiting for {WHAT}: {summary}; waited 0 s, 1 poll(s), 200 s left before the deadline",
        f"Waiting for {WHAT}: {summary}; waited 60 s, 7 poll(s), 140 s left before the deadline",
        f"Waiting for {WHAT}: {summary}; waited 120 s, 13 poll(s), 80 s left before the deadline",
        f"Waiting for {WHAT}: {summary}; waited 180 s, 19 poll(s), 20 s left before the deadline",
    ]


def test_progress_before_any_poll_is_nothing_and_says_when_nothing_was_seen() -> None:
    wait: Wait[GcoreTask] = Wait(what=WHAT, is_done=lambda t: t.finished, deadline=100.0, poll_interval=10.0)
    assert wait.progress(0.0) is None
    wait.observe(server_error(), now=0.0)
    assert (
        wait.progress(0.0) == f"Waiting for {WHAT}: not seen yet; waited 0 s, 1 poll(s), 100 s left before the deadline"
    )
    assert wait.progress(PROGRESS_EVERY - 1) is None
    assert wait.progress(PROGRESS_EVERY) is not None
    assert wait.progress(PROGRESS_EVERY + 1) is None  # the next one is a minute after the last
    assert str(wait.progress(500.0)).endswith("; waited 500 s, 1 poll(s), 0 s left before the deadline")


# -- the outcome as an event -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outcome",
    [
        WaitOutcome("done", value=FINISHED, last_seen=RUNNING, polls=3, waited=20.0),
        WaitOutcome("timeout", last_seen=RUNNING, polls=4, waited=25.0),
        WaitOutcome("error", error=NotFoundError("HTTP 404", status=404, request_id="r-1"), polls=1),
    ],
    ids=["done", "timeout", "error"],
)
def test_an_outcome_survives_its_event(outcome: WaitOutcome[GcoreTask]) -> None:
    event = json.loads(json.dumps(outcome.to_event()))
    rebuilt = WaitOutcome.from_event(event, GcoreTask)
    assert (rebuilt.status, rebuilt.value, rebuilt.last_seen, rebuilt.polls, rebuilt.waited) == (
        outcome.status,
        outcome.value,
        outcome.last_seen,
        outcome.polls,
        outcome.waited,
    )
    if outcome.error is not None:
        assert type(rebuilt.error) is NotFoundError
        assert (str(rebuilt.error), rebuilt.error.status, rebuilt.error.request_id) == ("HTTP 404", 404, "r-1")
    else:
        assert rebuilt.error is None


@pytest.mark.parametrize(
    ("error", "fields"),
    [
        (RateLimitedError("HTTP 429", status=429, retry_after=30.0), ("retry_after",)),
        (LockConflictError("HTTP 409", status=409, task_id=TASK_ID), ("task_id", "task_type", "resource_id")),
        (GcoreTaskFailedError("ERROR: boom", task_id=TASK_ID, task_error="boom"), ("task_id", "task_error")),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_an_error_in_an_outcome_keeps_its_type_and_every_field(
    error: ProjectsApiError, fields: tuple[str, ...]
) -> None:
    event = json.loads(json.dumps(WaitOutcome("error", error=error).to_event()))
    rebuilt = WaitOutcome.from_event(event, GcoreTask).error
    assert type(rebuilt) is type(error)
    assert rebuilt is not None
    assert (str(rebuilt), rebuilt.status) == (str(error), error.status)
    assert {name: getattr(rebuilt, name) for name in fields} == {name: getattr(error, name) for name in fields}


@pytest.mark.parametrize(
    "event",
    [{}, {"status": "success", "task": {}}, {"status": "error"}, {"status": "error", "error": "boom"}],
    ids=["empty", "old-shape", "error-without-error", "error-not-a-dict"],
)
def test_an_unreadable_event_is_an_error_outcome(event: dict[str, object]) -> None:
    outcome = WaitOutcome.from_event(event, GcoreTask)
    assert outcome.status == "error"
    assert type(outcome.error) is ProjectsApiError
    assert str(outcome.error).startswith("the wait ended with an unreadable event: ")


# -- watch_pause: a watch with no deadline (the AssetWatcher trigger) --------------------------------


def test_a_watch_rides_out_errors_and_backs_off_after_fatal_ones() -> None:
    tolerance = PollTolerance(3)
    pauses = []
    for found in [RUNNING, server_error(), FATAL["401"](), FATAL["401"](), RUNNING]:
        tolerance.judge(found, WHAT)
        pauses.append(tolerance.watch_pause(found if isinstance(found, ProjectsApiError) else None, 10.0))
    # 503 tolerated at the interval; each 401 in a row (failures 2 and 3) doubles; a good poll resets.
    assert pauses == [10.0, 10.0, 40.0, 80.0, 10.0]
    assert tolerance.failures == 0


@pytest.mark.parametrize(
    ("error", "failures", "expected"),
    [
        (None, 0, 10.0),
        (server_error(), 1, 10.0),
        (server_error(), 3, 10.0),
        (server_error(), 4, 20.0),
        (server_error(), 5, 40.0),
        (server_error(), 60, MAX_WATCH_PAUSE),
        (rate_limited(retry_after=90.0), 1, 90.0),
        (FATAL["401"](), 0, 20.0),
        (FATAL["404"](), 1, 40.0),
        (FATAL["403"](), 40, MAX_WATCH_PAUSE),
    ],
    ids=[
        "healthy",
        "transient-1",
        "transient-at-limit",
        "transient-limit+1",
        "transient-limit+2",
        "transient-capped",
        "retry-after",
        "fatal-1",
        "fatal-2",
        "fatal-capped",
    ],
)
def test_watch_pause(error: ProjectsApiError | None, failures: int, expected: float) -> None:
    # ``failures`` is the count after judge() (which counts transient failures only).
    assert PollTolerance(3, failures=failures).watch_pause(error, poll_interval=10.0) == expected


def test_the_defaults_come_from_defaults() -> None:
    assert PollTolerance().max_consecutive_errors == defaults.MAX_CONSECUTIVE_ERRORS


def test_poll_flow_pauses_with_sleep_steps(clock: VirtualClock) -> None:
    wait: Wait[GcoreTask] = Wait(what=WHAT, is_done=lambda t: t.finished, deadline=START + 100, poll_interval=10.0)
    answers = iter([RUNNING, FINISHED])

    def read() -> Flow[GcoreTask]:
        return next(answers)
        yield

    flow = poll_flow(wait, read)
    assert next(flow) == Sleep(10.0)
    with pytest.raises(StopIteration) as done:
        flow.send(None)
    assert done.value.value.status == "done"


# -- what mutation testing found unpinned (issue 19) ------------------------------------------------


def test_a_wait_with_less_than_a_second_left_polls_once_more() -> None:
    wait: Wait[GcoreTask] = Wait(WHAT, lambda t: t.finished, deadline=START + 0.5, poll_interval=5)
    assert wait.observe(task("RUNNING"), START) == 0.5


def test_a_tolerated_failure_is_logged_with_what_failed(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test_waiting.tolerance")
    tolerance = PollTolerance(2, log=logger)
    error = ServerError("HTTP 503", status=503)
    with caplog.at_level(logging.WARNING, logger=logger.name):
        assert tolerance.judge(error, WHAT) is None
    assert [r.getMessage() for r in caplog.records] == [f"Polling {WHAT} failed (1 in a row, tolerating 2): HTTP 503"]


def test_an_unreadable_event_is_an_error_outcome_that_shows_it() -> None:
    outcome = WaitOutcome.from_event({"status": "weird"}, GcoreTask)
    assert outcome.status == "error"
    assert type(outcome.error) is ProjectsApiError
    assert str(outcome.error) == "the wait ended with an unreadable event: {'status': 'weird'}"
    assert (outcome.polls, outcome.waited) == (0, 0.0)


def test_the_doubling_of_a_failing_watchs_pause_stops_at_2_to_the_16() -> None:
    tolerance = PollTolerance(0)
    tolerance.failures = 16
    # The 17th fatal error in a row: 2**16 poll intervals, not 2**17 (both under the 600 s cap here).
    assert tolerance.watch_pause(NotFoundError("gone", status=404), 0.001) == pytest.approx(0.001 * 2**16)


def test_an_unreadable_event_is_shown_in_500_characters_at_most() -> None:
    outcome = WaitOutcome.from_event({"status": "x" * 1000}, GcoreTask)
    assert outcome.error is not None
    assert len(str(outcome.error)) == 500


def test_a_failing_watch_pauses_ten_minutes_at_most() -> None:
    tolerance = PollTolerance(0)
    tolerance.failures = 30
    assert tolerance.watch_pause(NotFoundError("gone", status=404), 10.0) == 600.0
