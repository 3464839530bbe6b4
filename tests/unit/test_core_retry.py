"""The retry decision of the sans-I/O core, as tables: status x attempt x Retry-After.

Everything is deterministic: ``rng`` and ``wall_clock`` are injected, nothing sleeps.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, formatdate

import pytest

from airflow_provider_projects._http.core import (
    Accept,
    FailureKind,
    GiveUp,
    HttpCore,
    Request,
    Response,
    Retry,
    RetryPolicy,
    Send,
    Sleep,
    TransportFailure,
    parse_retry_after,
)
from airflow_provider_projects._http.dialect import GcaiDialect, GcoreDialect
from airflow_provider_projects._http.secret import Secret
from airflow_provider_projects.errors import (
    ApiUnreachableError,
    AuthenticationError,
    InvalidInputError,
    LockConflictError,
    MethodNotAllowedError,
    NotFoundError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
)

#: The injected wall clock: 2023-11-14T22:13:20Z.
NOW = 1_700_000_000.0
BASE = "https://api.example.test"
PATH = "/cloud/v1/projects/42"


def http_date(offset: float) -> str:
    """An IMF-fixdate (``... GMT``) ``offset`` seconds from the injected clock."""
    return formatdate(NOW + offset, usegmt=True)


#: The same instant as ``http_date(30)`` but written with a +01:00 offset.
DATE_PLUS_30_OFFSET = format_datetime(datetime.fromtimestamp(NOW + 30, tz=timezone(timedelta(hours=1))))
#: RFC 5322 "-0000" means "zone unknown": email.utils parses it into a naive datetime.
NAIVE_DATE_PLUS_30 = formatdate(NOW + 30)
assert NAIVE_DATE_PLUS_30.endswith("-0000")
assert datetime.fromtimestamp(NOW, tz=UTC).isoformat() == "2023-11-14T22:13:20+00:00"


def make_core(*, rng: float = 0.0, policy: RetryPolicy | None = None, dialect: object = None) -> HttpCore:
    return HttpCore(
        dialect=dialect or GcoreDialect(),  # type: ignore[arg-type]
        base_url=BASE,
        api_key=Secret("retry-test-key"),
        user_agent="tests/1",
        policy=policy,
        rng=lambda: rng,
        wall_clock=lambda: NOW,
    )


def make_request(core: HttpCore, method: str = "GET") -> Request:
    body = {"name": "abc", "description": None} if method in {"PUT", "PATCH"} else None
    if body is None:
        return core.request(method, PATH)
    return core.request(method, PATH, json_body=body)


def answer(status: int, retry_after: str | None = None, body: bytes = b"{}") -> Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return Response(status, headers, body)


# -- parse_retry_after ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("5", 5.0, id="delta"),
        pytest.param("  5  ", 5.0, id="delta-padded"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("120", 120.0, id="delta-at-cap"),
        pytest.param("3600", 3600.0, id="delta-big-parsed-as-is"),
        pytest.param(http_date(30), 30.0, id="date-30s-ahead"),
        pytest.param(http_date(0), 0.0, id="date-now"),
        pytest.param(http_date(-3600), 0.0, id="date-in-the-past-clamped-to-0"),
        pytest.param(DATE_PLUS_30_OFFSET, 30.0, id="date-with-+0100-offset"),
        pytest.param("soon", None, id="garbage-word"),
        pytest.param("", None, id="garbage-empty"),
        pytest.param("   ", None, id="garbage-blank"),
        pytest.param("nan", None, id="garbage-nan"),
        pytest.param("inf", None, id="garbage-inf"),
        pytest.param("-inf", None, id="garbage-minus-inf"),
        pytest.param(NAIVE_DATE_PLUS_30, 30.0, id="naive-date-is-gmt"),
        pytest.param("2023-11-14T22:13:50Z", None, id="garbage-iso-date"),
        pytest.param(
            "-5",
            None,
            id="garbage-negative",
        ),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    result = parse_retry_after(value, now=lambda: NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_parse_retry_after_date_is_relative_to_the_injected_clock() -> None:
    date = http_date(30)
    assert parse_retry_after(date, now=lambda: NOW) == pytest.approx(30.0)
    assert parse_retry_after(date, now=lambda: NOW + 10) == pytest.approx(20.0)
    assert parse_retry_after(date, now=lambda: NOW + 100) == 0.0


# -- the decision table ---------------------------------------------------------------------------

NEVER_RETRIED = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: LockConflictError,  # Gcore dialect
    422: InvalidInputError,
}


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
@pytest.mark.parametrize(("status", "error_type"), sorted(NEVER_RETRIED.items()))
@pytest.mark.parametrize("retry_after", [None, "1"])
def test_client_errors_are_never_retried(
    method: str, status: int, error_type: type[ProjectsApiError], retry_after: str | None
) -> None:
    core = make_core()
    decision = core.decide(make_request(core, method), 1, answer(status, retry_after))
    assert isinstance(decision, GiveUp)
    assert type(decision.error) is error_type
    assert decision.error.status == status


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success_is_accepted(status: int) -> None:
    core = make_core()
    response = answer(status)
    assert core.decide(make_request(core), 1, response) == Accept(response)


#: (method, status, attempt, Retry-After header, expected delay or None for GiveUp, error type)
#: Default policy: max_retries=4, backoff 1 s doubling, capped at 30 s, Retry-After cap 120 s; rng=0.
DECISIONS = [
    # 429 without Retry-After: exponential backoff (rng=0 gives half the ceiling), then give up.
    ("GET", 429, 1, None, 0.5, None),
    ("GET", 429, 2, None, 1.0, None),
    ("GET", 429, 3, None, 2.0, None),
    ("GET", 429, 4, None, 4.0, None),
    ("GET", 429, 5, None, None, RateLimitedError),
    ("PUT", 429, 1, None, 0.5, None),
    ("PATCH", 429, 5, None, None, RateLimitedError),
    # Gateway errors: retried for every method, then ServerError.
    *[(m, s, 1, None, 0.5, None) for m in ("GET", "PUT", "PATCH") for s in (502, 503, 504)],
    *[(m, s, 4, None, 4.0, None) for m in ("GET", "PUT", "PATCH") for s in (502, 503, 504)],
    *[(m, s, 5, None, None, ServerError) for m in ("GET", "PUT", "PATCH") for s in (502, 503, 504)],
    # 500: retried for reads only.
    ("GET", 500, 1, None, 0.5, None),
    ("GET", 500, 4, None, 4.0, None),
    ("GET", 500, 5, None, None, ServerError),
    ("PUT", 500, 1, None, None, ServerError),
    ("PATCH", 500, 1, None, None, ServerError),
    ("PUT", 500, 1, "1", None, ServerError),
    # Retry-After as delta seconds: the wait is exactly the server's figure (rng=0).
    ("GET", 429, 1, "7", 7.0, None),
    ("PUT", 429, 3, "7", 7.0, None),
    ("GET", 429, 1, "0", 0.0, None),
    ("GET", 429, 1, "120", 120.0, None),
    ("GET", 503, 1, "2", 2.0, None),
    ("PATCH", 502, 2, "3", 3.0, None),
    ("GET", 504, 1, "5", 5.0, None),
    # Retry-After as an HTTP date, relative to the injected wall clock.
    ("GET", 429, 1, http_date(30), 30.0, None),
    ("GET", 503, 2, http_date(30), 30.0, None),
    ("GET", 429, 1, DATE_PLUS_30_OFFSET, 30.0, None),
    ("GET", 429, 1, http_date(-60), 0.0, None),
    # Garbage Retry-After: ignored, the backoff applies.
    ("GET", 429, 1, "soon", 0.5, None),
    ("GET", 429, 3, "soon", 2.0, None),
    ("GET", 429, 1, "", 0.5, None),
    ("GET", 429, 1, "nan", 0.5, None),
    ("GET", 429, 1, "inf", 0.5, None),
    ("GET", 429, 1, "-5", 0.5, None),
    # A date without a zone ("-0000", or RFC 9110's asctime form) is GMT, as every HTTP-date is.
    ("GET", 503, 2, NAIVE_DATE_PLUS_30, 30.0, None),
    # Retries exhausted: give up even with a usable Retry-After.
    ("GET", 429, 5, "1", None, RateLimitedError),
    ("GET", 503, 5, http_date(10), None, ServerError),
]


@pytest.mark.parametrize(("method", "status", "attempt", "retry_after", "delay", "error_type"), DECISIONS)
def test_decision_table(
    *,
    method: str,
    status: int,
    attempt: int,
    retry_after: str | None,
    delay: float | None,
    error_type: type[ProjectsApiError] | None,
) -> None:
    core = make_core()
    decision = core.decide(make_request(core, method), attempt, answer(status, retry_after))
    if delay is None:
        assert isinstance(decision, GiveUp), decision
        assert type(decision.error) is error_type
        assert decision.error.status == status
        assert "asked to wait" not in decision.error.message
    else:
        assert isinstance(decision, Retry), decision
        assert decision.delay == pytest.approx(delay)
        assert f"HTTP {status}" in decision.reason


def test_negative_retry_after_falls_back_to_backoff() -> None:
    core = make_core()
    decision = core.decide(make_request(core), 1, answer(429, "-5"))
    assert isinstance(decision, Retry)
    assert decision.delay == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("method", "status", "retry_after", "wait", "error_type"),
    [
        ("GET", 429, "121", 121, RateLimitedError),
        ("PUT", 429, "3600", 3600, RateLimitedError),
        ("GET", 429, http_date(600), 600, RateLimitedError),
        ("GET", 503, "121", 121, ServerError),
        ("PATCH", 502, http_date(900), 900, ServerError),
        ("GET", 504, "1e4", 10000, ServerError),
    ],
)
def test_retry_after_over_the_cap_gives_up_and_says_why(
    method: str, status: int, retry_after: str, wait: int, error_type: type[ProjectsApiError]
) -> None:
    core = make_core()
    decision = core.decide(make_request(core, method), 1, answer(status, retry_after))
    assert isinstance(decision, GiveUp)
    assert type(decision.error) is error_type
    message = str(decision.error)
    assert f"wait {wait} s" in message
    assert "120 s" in message
    if isinstance(decision.error, RateLimitedError):
        assert decision.error.retry_after == pytest.approx(wait)


def test_retry_after_cap_comes_from_the_policy() -> None:
    core = make_core(policy=RetryPolicy(retry_after_cap=10.0))
    request = make_request(core)
    assert core.decide(request, 1, answer(429, "10")) == Retry(10.0, "HTTP 429, Retry-After")
    decision = core.decide(request, 1, answer(429, "11"))
    assert isinstance(decision, GiveUp)
    assert "wait 11 s, more than the 10 s" in str(decision.error)


@pytest.mark.parametrize(
    ("retry_after", "rng", "delay"),
    [
        ("5", 0.0, 5.0),
        ("5", 1.0, 5.5),  # jitter is at most 10 % of the server's figure...
        ("30", 1.0, 31.0),  # ...and at most 1 s
        ("0", 1.0, 0.0),
    ],
)
def test_retry_after_jitter_bounds(retry_after: str, rng: float, delay: float) -> None:
    core = make_core(rng=rng)
    decision = core.decide(make_request(core), 1, answer(429, retry_after))
    assert isinstance(decision, Retry)
    assert decision.delay == pytest.approx(delay)


# -- transport failures ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(FailureKind))
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
@pytest.mark.parametrize(("attempt", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, None)])
def test_transport_failures_are_retried_then_unreachable(
    kind: FailureKind, method: str, attempt: int, delay: float | None
) -> None:
    core = make_core()
    failure = TransportFailure(kind, "OSError: boom")
    decision = core.decide(make_request(core, method), attempt, failure)
    if delay is not None:
        assert isinstance(decision, Retry)
        assert decision.delay == pytest.approx(delay)
        assert decision.reason == kind.value
        return
    assert isinstance(decision, GiveUp)
    error = decision.error
    assert type(error) is ApiUnreachableError
    assert error.status is None
    assert kind.value in str(error)
    assert "after 5 attempt(s)" in str(error)
    assert "OSError: boom" in str(error)
    assert error.method == method
    assert error.url == BASE + PATH


def test_max_retries_zero_gives_up_at_once() -> None:
    core = make_core(policy=RetryPolicy(max_retries=0))
    request = make_request(core)
    assert isinstance(core.decide(request, 1, answer(503)), GiveUp)
    assert isinstance(core.decide(request, 1, TransportFailure(FailureKind.CONNECT, "x")), GiveUp)


# -- backoff --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.5, 1.0), (2, 1.0, 2.0), (3, 2.0, 4.0), (4, 4.0, 8.0), (5, 8.0, 16.0), (6, 15.0, 30.0), (9, 15.0, 30.0)],
)
def test_backoff_grows_exponentially_within_jitter_bounds(attempt: int, low: float, high: float) -> None:
    policy = RetryPolicy(max_retries=20)
    delays = {}
    for rng in (0.0, 0.5, 1.0):
        core = make_core(rng=rng, policy=policy)
        decision = core.decide(make_request(core), attempt, answer(503))
        assert isinstance(decision, Retry)
        delays[rng] = decision.delay
    assert delays[0.0] == pytest.approx(low)
    assert delays[1.0] == pytest.approx(high)
    assert low < delays[0.5] < high


def test_backoff_follows_the_policy() -> None:
    policy = RetryPolicy(max_retries=10, backoff_base=0.25, backoff_max=1.0)
    got = []
    for attempt in range(1, 6):
        core = make_core(rng=1.0, policy=policy)
        decision = core.decide(make_request(core), attempt, TransportFailure(FailureKind.TIMEOUT, "t"))
        assert isinstance(decision, Retry)
        got.append(decision.delay)
    assert got == pytest.approx([0.25, 0.5, 1.0, 1.0, 1.0])


def test_backoff_is_the_same_for_both_dialects() -> None:
    for attempt in (1, 3):
        gcore = make_core(dialect=GcoreDialect())
        gcai = make_core(dialect=GcaiDialect())
        assert gcore.decide(make_request(gcore), attempt, answer(502)) == gcai.decide(
            make_request(gcai), attempt, answer(502)
        )


# -- the exchange loop ----------------------------------------------------------------------------


def drive(core: HttpCore, request: Request, outcomes: list[Response | TransportFailure]) -> tuple[object, int, list]:
    """Run the exchange generator against canned outcomes: (result or error, sends, sleeps)."""
    steps = core.exchange(request)
    sends = 0
    sleeps: list[float] = []
    feed = iter(outcomes)
    try:
        step = next(steps)
        while True:
            if isinstance(step, Send):
                assert step.request is request
                sends += 1
                step = steps.send(next(feed))
            else:
                assert isinstance(step, Sleep)
                sleeps.append(step.seconds)
                step = steps.send(None)
    except StopIteration as done:
        return done.value, sends, sleeps
    except ProjectsApiError as error:
        return error, sends, sleeps


def test_exchange_retries_then_returns_the_success() -> None:
    core = make_core()
    ok = answer(200, body=b'{"ok": true}')
    failure = TransportFailure(FailureKind.DROPPED, "x")
    result, sends, sleeps = drive(core, make_request(core), [answer(503), answer(429, "3"), failure, ok])
    assert result is ok
    assert sends == 4
    assert sleeps == pytest.approx([0.5, 3.0, 2.0])


def test_exchange_gives_up_after_max_retries() -> None:
    core = make_core(policy=RetryPolicy(max_retries=2))
    result, sends, sleeps = drive(core, make_request(core), [answer(504)] * 10)
    assert isinstance(result, ServerError)
    assert sends == 3
    assert sleeps == pytest.approx([0.5, 1.0])


def test_exchange_does_not_sleep_before_a_final_error() -> None:
    core = make_core()
    result, sends, sleeps = drive(core, make_request(core, "PUT"), [answer(500)])
    assert isinstance(result, ServerError)
    assert (sends, sleeps) == (1, [])


def test_exchange_logs_each_retry(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_projects._http.core")
    core = make_core()
    drive(core, make_request(core), [answer(503), answer(200)])
    messages = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_projects._http.core"]
    assert messages == [f"GET {PATH}: HTTP 503; trying again in 0.5 s (retry 1 of 4)"]
