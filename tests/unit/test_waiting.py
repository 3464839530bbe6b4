"""The sans-I/O poll loop (``wait_until`` driven by ``run_blocking``) and the watch back-off.

Every scenario runs on a fake clock that only the fake sleep advances, so the poll count, the
pauses and the moment a wait ends are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_projects.errors import (
    ApiUnreachableError,
    AuthenticationError,
    ConnectionSetupError,
    InvalidResponseError,
    NotFoundError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
)
from airflow_provider_projects.waiting import (
    DEFAULT_POLL_INTERVAL,
    MAX_WATCH_PAUSE,
    Pause,
    Poll,
    WaitResult,
    WaitSteps,
    run_blocking,
    wait_until,
    watch_pause,
)

LOCKED, UNLOCKED = "locked", "unlocked"


def server_error() -> ServerError:
    return ServerError("Gcore Cloud GET /cloud/v1/projects/2 failed: HTTP 503", status=503)


def unreachable() -> ApiUnreachableError:
    return ApiUnreachableError("Gcore Cloud GET /cloud/v1/projects/2: connection failed")


def bad_body() -> InvalidResponseError:
    return InvalidResponseError("Gcore Cloud GET /cloud/v1/projects/2: the answer is not JSON", status=200)


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
    """What a wait did: its result, each poll's clock reading and each pause."""

    result: WaitResult[str]
    poll_times: list[float] = field(default_factory=list)
    pauses: list[float] = field(default_factory=list)


def drive(
    script: list[str | ProjectsApiError],
    *,
    deadline: float = 1_000.0,
    poll_interval: float = 10.0,
    max_consecutive_errors: int = 5,
    repeat_last: bool = False,
) -> Run:
    """Run a wait over scripted poll outcomes (a string is a reading, an error is raised)."""
    now = [0.0]
    run = Run(result=WaitResult("unset"))
    outcomes = list(script)

    def poll() -> str:
        run.poll_times.append(now[0])
        if not outcomes:
            raise AssertionError("the wait polled more often than the script allows")
        outcome = outcomes[0] if repeat_last and len(outcomes) == 1 else outcomes.pop(0)
        if isinstance(outcome, ProjectsApiError):
            raise outcome
        return outcome

    def sleep(seconds: float) -> None:
        run.pauses.append(seconds)
        now[0] += seconds

    steps: WaitSteps[str] = wait_until(
        lambda value: value == UNLOCKED,
        deadline=deadline,
        poll_interval=poll_interval,
        clock=lambda: now[0],
        max_consecutive_errors=max_consecutive_errors,
        what="the lock on Gcore project 2",
    )
    run.result = run_blocking(steps, poll, sleep)
    return run


# -- done --------------------------------------------------------------------------------------------


def test_done_on_the_first_poll_needs_no_pause() -> None:
    run = drive([UNLOCKED])
    assert (run.result.status, run.result.value, run.result.polls) == ("done", UNLOCKED, 1)
    assert run.pauses == []


def test_locked_locked_unlocked_polls_three_times_one_interval_apart() -> None:
    run = drive([LOCKED, LOCKED, UNLOCKED], poll_interval=7.0)
    assert (run.result.status, run.result.value, run.result.polls) == ("done", UNLOCKED, 3)
    assert run.pauses == [7.0, 7.0]
    assert run.poll_times == [0.0, 7.0, 14.0]
    assert run.result.error is None


# -- transient errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("make_error", [server_error, unreachable, bad_body, rate_limited])
def test_transient_errors_are_tolerated_up_to_the_limit(make_error: Callable[[], ProjectsApiError]) -> None:
    run = drive([make_error(), make_error(), make_error(), UNLOCKED], max_consecutive_errors=3)
    assert (run.result.status, run.result.polls) == ("done", 4)
    assert run.pauses == [10.0, 10.0, 10.0]


def test_one_transient_error_more_than_the_limit_ends_the_wait_with_that_error() -> None:
    errors: list[str | ProjectsApiError] = [server_error() for _ in range(4)]
    run = drive([*errors, UNLOCKED], max_consecutive_errors=3)
    assert (run.result.status, run.result.polls) == ("error", 4)
    assert run.result.error is errors[-1]
    assert isinstance(run.result.error, ServerError)
    assert "4 failed polls in a row while waiting for the lock on Gcore project 2" in str(run.result.error)
    assert run.pauses == [10.0, 10.0, 10.0]


def test_a_good_poll_resets_the_error_count() -> None:
    three: list[str | ProjectsApiError] = [server_error(), unreachable(), server_error()]
    run = drive([*three, LOCKED, *three, UNLOCKED], max_consecutive_errors=3)
    assert (run.result.status, run.result.polls) == ("done", 8)


def test_zero_tolerance_fails_on_the_first_transient_error() -> None:
    run = drive([server_error(), UNLOCKED], max_consecutive_errors=0)
    assert (run.result.status, run.result.polls) == ("error", 1)


# -- fatal errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FATAL))
def test_an_error_polling_cannot_fix_ends_the_wait_at_once(name: str) -> None:
    error = FATAL[name]()
    run = drive([LOCKED, error, UNLOCKED], max_consecutive_errors=5)
    assert (run.result.status, run.result.polls) == ("error", 2)
    assert run.result.error is error
    assert run.pauses == [10.0]
    assert "failed polls in a row" not in str(error)


# -- timeout -----------------------------------------------------------------------------------------


def test_timeout_polls_on_the_interval_and_once_more_at_the_deadline() -> None:
    run = drive([LOCKED], deadline=25.0, poll_interval=10.0, repeat_last=True)
    assert (run.result.status, run.result.polls, run.result.value) == ("timeout", 4, None)
    assert run.poll_times == [0.0, 10.0, 20.0, 25.0]
    assert run.pauses == [10.0, 10.0, 5.0]


def test_timeout_on_an_exact_multiple_of_the_interval() -> None:
    run = drive([LOCKED], deadline=30.0, poll_interval=10.0, repeat_last=True)
    assert (run.result.status, run.result.polls) == ("timeout", 4)
    assert run.poll_times == [0.0, 10.0, 20.0, 30.0]


def test_transient_errors_until_the_deadline_end_as_a_timeout() -> None:
    run = drive([server_error()], deadline=20.0, max_consecutive_errors=10, repeat_last=True)
    assert (run.result.status, run.result.polls) == ("timeout", 3)


def test_a_wait_whose_deadline_has_passed_still_polls_once() -> None:
    cleared = drive([UNLOCKED], deadline=-60.0)
    assert (cleared.result.status, cleared.result.polls) == ("done", 1)
    still_locked = drive([LOCKED, UNLOCKED], deadline=-60.0)
    assert (still_locked.result.status, still_locked.result.polls) == ("timeout", 1)
    assert still_locked.pauses == []


# -- Retry-After -------------------------------------------------------------------------------------


def test_retry_after_longer_than_the_interval_lengthens_the_pause() -> None:
    run = drive([rate_limited(retry_after=45.0), LOCKED, UNLOCKED], poll_interval=10.0)
    assert run.result.status == "done"
    assert run.pauses == [45.0, 10.0]


@pytest.mark.parametrize("retry_after", [None, 0.0, 3.0])
def test_a_short_or_missing_retry_after_keeps_the_interval(retry_after: float | None) -> None:
    run = drive([rate_limited(retry_after=retry_after), UNLOCKED], poll_interval=10.0)
    assert run.pauses == [10.0]


def test_retry_after_is_cut_at_the_deadline() -> None:
    run = drive([rate_limited(retry_after=300.0)], deadline=25.0, repeat_last=True)
    assert run.result.status == "timeout"
    assert run.pauses == [25.0]
    assert run.poll_times == [0.0, 25.0]


# -- the generator's protocol -------------------------------------------------------------------------


def test_the_generator_asks_for_a_poll_first_and_pauses_between_polls() -> None:
    steps: WaitSteps[str] = wait_until(
        lambda value: value == UNLOCKED, deadline=100.0, poll_interval=10.0, clock=lambda: 0.0
    )
    assert isinstance(next(steps), Poll)
    assert steps.send(LOCKED) == Pause(10.0)
    assert isinstance(steps.send(None), Poll)
    with pytest.raises(StopIteration) as done:
        steps.send(UNLOCKED)
    result: Any = done.value.value
    assert (result.status, result.polls) == ("done", 2)


def test_the_default_interval_suits_an_api_without_published_limits() -> None:
    # Gcore recommends polling every 5-30 s; its own SDK polls every 3 s.
    assert 5.0 <= DEFAULT_POLL_INTERVAL <= 30.0


# -- watch_pause: a watch with no deadline (the AssetWatcher trigger) ----------------------------------


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
        (FATAL["401"](), 1, 20.0),
        (FATAL["404"](), 2, 40.0),
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
    assert watch_pause(error, failures, poll_interval=10.0, max_consecutive_errors=3) == expected
