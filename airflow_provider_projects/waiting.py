"""The poll loop, written once and free of I/O: poll, judge, pause, until done, failed or out of time.

The trigger (asyncio) and the operator's blocking lock wait drive the same generator, just as the
two HTTP transports drive the HTTP core: the rules about deadlines, error tolerance and
``Retry-After`` between polls live here only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from airflow_provider_projects.errors import (
    ApiUnreachableError,
    InvalidResponseError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Errors a wait rides out (each poll already retried them inside the HTTP core); anything else,
#: such as 401, 403 or 404, ends the wait at once because polling again cannot fix it.
TRANSIENT_ERRORS: Final = (ServerError, ApiUnreachableError, RateLimitedError, InvalidResponseError)
#: Gcore publishes no rate limit for polling; its docs recommend 5-30 s and its SDK polls every 3 s.
DEFAULT_POLL_INTERVAL: Final = 10.0
DEFAULT_MAX_CONSECUTIVE_ERRORS: Final = 5
#: The longest pause of a watch that never ends (an AssetWatcher) while its polls keep failing.
MAX_WATCH_PAUSE: Final = 600.0


@dataclass(frozen=True, slots=True)
class Poll:
    """Step: read the resource once and pass back the result, or the error it raised."""


@dataclass(frozen=True, slots=True)
class Pause:
    """Step: wait this many seconds, then pass back ``None``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class WaitResult(Generic[T]):
    """How a wait ended: ``done`` (with the last value), ``timeout`` or ``error``."""

    status: str
    value: T | None = None
    error: ProjectsApiError | None = None
    polls: int = 0


WaitSteps = Generator[Poll | Pause, "T | ProjectsApiError | None", WaitResult[T]]


def wait_until(
    is_done: Callable[[T], bool],
    *,
    deadline: float,
    poll_interval: float,
    clock: Callable[[], float],
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    what: str = "resource",
    failed_polls: int = 0,
) -> WaitSteps[T]:
    """Poll until ``is_done(value)``; end at ``deadline`` (a ``clock()`` reading) at the latest.

    Polls once even when the deadline has passed, so a wait rebuilt late (after a triggerer
    restart) still reports a lock that cleared meanwhile instead of a timeout.
    """
    polls = 0
    failures = failed_polls  # failures in a row carried over (a sensor's failed poke before it deferred)
    while True:
        outcome = yield Poll()
        polls += 1
        pause = poll_interval
        if isinstance(outcome, ProjectsApiError):
            if not isinstance(outcome, TRANSIENT_ERRORS):
                return WaitResult("error", error=outcome, polls=polls)
            failures += 1
            if failures > max_consecutive_errors:
                outcome.message = f"{outcome.message} ({failures} failed polls in a row while waiting for {what})"
                return WaitResult("error", error=outcome, polls=polls)
            log.warning(
                "Polling %s failed (%d in a row, tolerating %d): %s", what, failures, max_consecutive_errors, outcome
            )
            if isinstance(outcome, RateLimitedError) and outcome.retry_after:
                pause = max(pause, outcome.retry_after)
        else:
            failures = 0
            assert outcome is not None
            if is_done(outcome):
                return WaitResult("done", value=outcome, polls=polls)
        remaining = deadline - clock()
        if remaining <= 0:
            return WaitResult("timeout", polls=polls)
        yield Pause(min(pause, remaining))


def run_blocking(steps: WaitSteps[T], poll: Callable[[], T], sleep: Callable[[float], None]) -> WaitResult[T]:
    """Drive a wait on the worker (blocking calls, blocking sleep)."""
    step = next(steps)
    while True:
        try:
            if isinstance(step, Poll):
                try:
                    result: T | ProjectsApiError = poll()
                except ProjectsApiError as error:
                    result = error
                step = steps.send(result)
            else:
                sleep(step.seconds)
                step = steps.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def watch_pause(
    error: ProjectsApiError | None,
    failures: int,
    *,
    poll_interval: float,
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
) -> float:
    """The pause after one poll of a watch that never ends (it has no deadline and no final error).

    ``failures`` counts failed polls in a row, this one included. A healthy poll, and up to
    ``max_consecutive_errors`` transient failures, wait ``poll_interval`` (longer if a 429 asked
    for it). Past that tolerance, or after an error polling cannot fix (401, 403, 404), the pause
    doubles per failure up to :data:`MAX_WATCH_PAUSE`: the watch keeps going, since ending it would
    only make the triggerer start it again at once, but it stops pressing a failing API.
    """
    pause = poll_interval
    if error is None:
        return pause
    if isinstance(error, RateLimitedError) and error.retry_after:
        pause = max(pause, error.retry_after)
    over = failures if not isinstance(error, TRANSIENT_ERRORS) else failures - max_consecutive_errors
    if over > 0:
        pause = max(pause, min(poll_interval * 2 ** min(over, 16), max(poll_interval, MAX_WATCH_PAUSE)))
    return pause
