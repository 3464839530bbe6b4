"""When to try a request again, and how long to pause first: the retry policy and its decisions.

Free of I/O like the core that uses it: a decision is a value (:class:`Retry`, :class:`GiveUp`,
:class:`Accept`), and the only inputs are the attempt number, the answer's status and headers,
and ``_clock`` (for ``Retry-After`` dates and jitter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Final

from airflow_provider_projects import _clock
from airflow_provider_projects._http.wire import Response
from airflow_provider_projects.errors import ProjectsApiError

#: Statuses worth another try: rate limited, and the gateway/availability errors that mean the
#: request was not processed or may be answered on the next try.
RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
#: A 500 is retried for reads only. Both vendors document it as an internal error, usually
#: deterministic, and a write that failed half-way is better surfaced than repeated blindly.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times, and how long between, the core tries a request again.

    ``max_retries`` counts the tries after the first. Backoff is exponential with "equal
    jitter" (half fixed, half random) so that mapped tasks hitting one limit spread out.
    A ``Retry-After`` longer than ``retry_after_cap`` ends the call instead of blocking a worker.
    """

    max_retries: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    retry_after_cap: float = 120.0

    def backoff(self, attempt: int) -> float:
        """The pause after the ``attempt``-th failed try (1-based), without a ``Retry-After``."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + _clock.jitter() * ceiling / 2


@dataclass(frozen=True, slots=True)
class Retry:
    """Decision: try again after ``delay`` seconds."""

    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Decision: stop and raise ``error``."""

    error: ProjectsApiError


@dataclass(frozen=True, slots=True)
class Accept:
    """Decision: the answer is a success."""

    response: Response


Decision = Retry | GiveUp | Accept


def is_retryable(method: str, status: int) -> bool:
    """Whether an answer with ``status`` to a ``method`` request is worth another try."""
    return status in RETRYABLE_STATUSES or (status == 500 and method in SAFE_METHODS)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if unusable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:  # RFC 9110: every HTTP-date is GMT, the asctime form just omits it.
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, moment.timestamp() - _clock.now())  # a date in the past means "now"
    if not math.isfinite(seconds) or seconds < 0:  # delta-seconds is 1*DIGIT: a negative one is garbage
        return None
    return seconds


def retry_or_give_up(
    policy: RetryPolicy, attempt: int, error: ProjectsApiError, reason: str, retry_after: float | None
) -> Decision:
    """Another try after the server's ``Retry-After`` (or the policy's backoff), or the end."""
    if attempt > policy.max_retries:
        return GiveUp(error)
    if retry_after is not None:
        # A little jitter on top of the server's figure keeps mapped tasks from returning together.
        return Retry(retry_after + _clock.jitter() * min(1.0, 0.1 * retry_after), reason + ", Retry-After")
    return Retry(policy.backoff(attempt), reason)
