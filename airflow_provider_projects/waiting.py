"""Waiting, written once and free of I/O: the tolerance of failed polls, the deadline, the outcome.

The sensor's ``poke``, the operator's blocking lock wait and the triggers all judge each poll
with :class:`Wait` (or, for one poke, :class:`PollTolerance`), and each constant is defined here
only. :func:`poll_flow` turns a wait into a flow that a transport drives on a worker; the
triggers feed the same :class:`Wait` from a poll shared per source (``polling/driver.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Literal, TypeVar

from airflow_provider_projects import _clock, defaults
from airflow_provider_projects._http.flow import Flow, Sleep
from airflow_provider_projects.errors import (
    ApiUnreachableError,
    InvalidResponseError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
)
from airflow_provider_projects.models.base import ApiModel

log = logging.getLogger(__name__)

T = TypeVar("T", bound=ApiModel)
WaitStatus = Literal["done", "timeout", "error"]
_STATUSES: Final[tuple[WaitStatus, ...]] = ("done", "timeout", "error")

#: Errors a wait rides out (each poll already retried them inside the HTTP core); anything else,
#: such as 401, 403 or 404, ends the wait at once because polling again cannot fix it.
TRANSIENT_ERRORS: Final = (ServerError, ApiUnreachableError, RateLimitedError, InvalidResponseError)
#: The longest pause of a watch that never ends (an AssetWatcher) while its polls keep failing.
MAX_WATCH_PAUSE: Final = 600.0
#: A long wait says how it is going at its start and then about this often, never once per poll.
PROGRESS_EVERY: Final = 60.0


class PollTolerance:
    """Failed polls in a row, and whether the latest one ends the wait.

    Each poll's call already retried inside the HTTP core; on top of that, up to
    ``max_consecutive_errors`` transient failures in a row are ridden out.
    """

    def __init__(
        self, max_consecutive_errors: int = defaults.MAX_CONSECUTIVE_ERRORS, failures: int = 0, log: Any = log
    ) -> None:
        self.max_consecutive_errors = max_consecutive_errors
        self.failures = failures
        #: The waiting task's or trigger's own logger, so a tolerated failure shows in that task's log.
        self.log = log

    def judge(self, outcome: object, what: str) -> ProjectsApiError | None:
        """Count this poll's outcome; return the error that ends the wait, or ``None`` to go on."""
        if not isinstance(outcome, ProjectsApiError):
            self.failures = 0
            return None
        if not isinstance(outcome, TRANSIENT_ERRORS):
            return outcome
        self.failures += 1
        if self.failures > self.max_consecutive_errors:
            return outcome.with_context(f"{self.failures} failed polls in a row while waiting for {what}")
        self.log.warning(
            "Polling %s failed (%d in a row, tolerating %d): %s",
            what,
            self.failures,
            self.max_consecutive_errors,
            outcome,
        )
        return None

    def watch_pause(self, error: ProjectsApiError | None, poll_interval: float) -> float:
        """The pause after one poll of a watch that never ends (no deadline, no final error).

        A healthy poll, and failures within the tolerance, wait ``poll_interval`` (longer if a 429
        asked for it). Past the tolerance, or after an error polling cannot fix (401, 403, 404),
        the pause doubles per failure up to :data:`MAX_WATCH_PAUSE`: the watch keeps going, since
        ending it would only make the triggerer start it again at once, but it stops pressing a
        failing API. Call after :meth:`judge`, which counts transient failures only.
        """
        if error is None:
            return poll_interval
        if not isinstance(error, TRANSIENT_ERRORS):
            self.failures += 1  # fatal errors count too: each one in a row doubles the pause
        over = self.failures - (self.max_consecutive_errors if isinstance(error, TRANSIENT_ERRORS) else 0)
        pause = max(poll_interval, retry_pause(error))
        if over > 0:
            pause = max(pause, min(poll_interval * 2 ** min(over, 16), max(poll_interval, MAX_WATCH_PAUSE)))
        return pause


def retry_pause(error: object) -> float:
    """Seconds a 429's ``Retry-After`` asks every poll to hold off (0 for anything else)."""
    if isinstance(error, RateLimitedError) and error.retry_after:
        return error.retry_after
    return 0.0


@dataclass(frozen=True)
class WaitOutcome(Generic[T]):
    """How a wait ended: ``done`` with the value that ended it, ``timeout``, or ``error``.

    ``last_seen`` is the last value polled while the wait went on (the lock holder as last seen),
    ``waited`` the seconds from the first poll to the end.
    """

    status: WaitStatus
    value: T | None = None
    error: ProjectsApiError | None = None
    last_seen: T | None = None
    polls: int = 0
    waited: float = 0.0

    def to_event(self) -> dict[str, Any]:
        """JSON-safe values for a trigger event."""
        return {
            "status": self.status,
            "value": self.value.to_xcom() if self.value is not None else None,
            "error": self.error.to_event() if self.error is not None else None,
            "last_seen": self.last_seen.to_xcom() if self.last_seen is not None else None,
            "polls": self.polls,
            "waited": self.waited,
        }

    @classmethod
    def from_event(cls, event: dict[str, Any], model: type[T]) -> WaitOutcome[T]:
        """The outcome :meth:`to_event` described; an unreadable event is an ``error`` outcome."""
        status = next((s for s in _STATUSES if s == event.get("status")), None)
        error = event.get("error")
        if status is None or (status == "error" and not isinstance(error, dict)):
            error = {"type": "ProjectsApiError", "message": f"the wait ended with an unreadable event: {event!r}"[:500]}
            status = "error"
        value, last_seen = event.get("value"), event.get("last_seen")
        return cls(
            status=status,
            value=model.model_validate(value) if isinstance(value, dict) else None,
            error=ProjectsApiError.from_event(error) if isinstance(error, dict) else None,
            last_seen=model.model_validate(last_seen) if isinstance(last_seen, dict) else None,
            polls=int(event.get("polls") or 0),
            waited=float(event.get("waited") or 0.0),
        )


@dataclass
class Wait(Generic[T]):
    """One wait's state: its deadline, its tolerance, what it has seen; judges each poll.

    :meth:`observe` takes a poll's value (or the error it raised) and says: the wait is over (a
    :class:`WaitOutcome`) or pause this many seconds. A wait past its deadline still judges the
    poll it is given, so a wait resumed late (after a triggerer restart) reports a lock that
    cleared meanwhile instead of a timeout.
    """

    what: str
    is_done: Callable[[T], bool]
    deadline: float
    poll_interval: float
    tolerance: PollTolerance = field(default_factory=PollTolerance)
    polls: int = 0
    last_seen: T | None = None
    started_at: float | None = None
    _next_progress: float | None = None

    def observe(self, outcome: T | ProjectsApiError, now: float) -> WaitOutcome[T] | float:
        """Judge one poll: the outcome if the wait is over, else the pause before the next poll."""
        if self.started_at is None:
            self.started_at = now
        self.polls += 1
        ending = self.tolerance.judge(outcome, self.what)
        if ending is not None:
            return self._outcome("error", now, error=ending)
        if not isinstance(outcome, ProjectsApiError):
            if self.is_done(outcome):
                return self._outcome("done", now, value=outcome)
            self.last_seen = outcome
        remaining = self.deadline - now
        if remaining <= 0:
            return self._outcome("timeout", now)
        return min(max(self.poll_interval, retry_pause(outcome)), remaining)

    def progress(self, now: float) -> str | None:
        """A line on how the wait is going: at the first poll, then every :data:`PROGRESS_EVERY` s."""
        if self.started_at is None or (self._next_progress is not None and now < self._next_progress):
            return None
        self._next_progress = now + PROGRESS_EVERY
        seen = self.last_seen.summary() if self.last_seen is not None else "not seen yet"
        return (
            f"Waiting for {self.what}: {seen}; waited {now - self.started_at:.0f} s, {self.polls} poll(s), "
            f"{max(0.0, self.deadline - now):.0f} s left before the deadline"
        )

    def _outcome(self, status: WaitStatus, now: float, **found: Any) -> WaitOutcome[T]:
        waited = now - (self.started_at if self.started_at is not None else now)
        return WaitOutcome(status, last_seen=self.last_seen, polls=self.polls, waited=waited, **found)


def poll_flow(wait: Wait[T], read: Callable[[], Flow[T]]) -> Flow[WaitOutcome[T]]:
    """A wait as a flow: ``read()`` (itself a flow, one API call), judge, pause, until it ends."""
    while True:
        try:
            value: T | ProjectsApiError = yield from read()
        except ProjectsApiError as error:
            value = error
        now = _clock.now()
        verdict = wait.observe(value, now)
        if isinstance(verdict, WaitOutcome):
            return verdict
        line = wait.progress(now)
        if line is not None:
            log.info("%s", line)
        yield Sleep(verdict)
