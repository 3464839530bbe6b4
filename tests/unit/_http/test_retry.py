"""The retry policy and its decisions (``_http/retry.py``), free of I/O; ``test_core.py`` drives them
through the core's judgement of real answers."""

from __future__ import annotations

import pytest
from fakes import VirtualClock

from airflow_provider_projects._http.retry import (
    GiveUp,
    Retry,
    RetryPolicy,
    is_retryable,
    retry_or_give_up,
)
from airflow_provider_projects.errors import ServerError

ERROR = ServerError("scripted 503", status=503)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
def test_the_retryable_statuses_are_retried_for_every_method(method: str, status: int) -> None:
    assert is_retryable(method, status)


@pytest.mark.parametrize(("method", "retried"), [("GET", True), ("HEAD", True), ("OPTIONS", True), ("PUT", False)])
def test_a_500_is_retried_for_reads_only(method: str, retried: bool) -> None:
    assert is_retryable(method, 500) is retried
    assert is_retryable("PATCH", 500) is False


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 405, 409, 422, 501, 505])
def test_other_statuses_are_not_retried(status: int) -> None:
    assert not is_retryable("GET", status)


@pytest.mark.parametrize(
    ("attempt", "jitter", "pause"),
    [(1, 0.0, 0.5), (1, 1.0, 1.0), (2, 0.0, 1.0), (3, 0.5, 3.0), (6, 0.0, 15.0), (6, 1.0, 30.0), (20, 0.0, 15.0)],
)
def test_backoff_is_exponential_with_equal_jitter_up_to_its_ceiling(
    clock: VirtualClock, attempt: int, jitter: float, pause: float
) -> None:
    clock.jitter = jitter
    assert RetryPolicy().backoff(attempt) == pause  # half of min(30, 2**(attempt-1)) fixed, half random


def test_the_last_allowed_retry_is_still_a_retry(clock: VirtualClock) -> None:
    policy = RetryPolicy(max_retries=2)
    assert isinstance(retry_or_give_up(policy, 2, ERROR, "HTTP 503", None), Retry)
    assert retry_or_give_up(policy, 3, ERROR, "HTTP 503", None) == GiveUp(ERROR)


def test_no_retries_gives_up_at_once() -> None:
    assert retry_or_give_up(RetryPolicy(max_retries=0), 1, ERROR, "HTTP 503", None) == GiveUp(ERROR)


@pytest.mark.parametrize(("retry_after", "jitter", "delay"), [(2.0, 0.5, 2.1), (20.0, 1.0, 21.0), (0.0, 1.0, 0.0)])
def test_a_retry_after_is_honoured_with_at_most_a_tenth_of_it_more(
    clock: VirtualClock, retry_after: float, jitter: float, delay: float
) -> None:
    clock.jitter = jitter
    decision = retry_or_give_up(RetryPolicy(), 1, ERROR, "HTTP 429", retry_after)
    assert decision == Retry(pytest.approx(delay), "HTTP 429, Retry-After")  # type: ignore[arg-type]
