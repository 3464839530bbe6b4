"""The sans-I/O core: building requests, the retry decision, error mapping, redaction, parsing.

Time and chance come from the ``clock`` fixture: ``clock.now`` is the wall clock that HTTP-date
``Retry-After`` values are read against, ``clock.jitter`` the random part of every backoff.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import pickle
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, formatdate
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from fakes import START, FakeApi, Reply, VirtualClock, failure, run_virtual
from requests.structures import CaseInsensitiveDict
from samples import GCAI_ID, GCAI_PROJECT, GCORE_PROJECT, TASK_ID

from airflow_provider_projects._http.aio import AsyncTransport
from airflow_provider_projects._http.core import (
    Accept,
    GiveUp,
    HttpCore,
    Retry,
    RetryPolicy,
    parse_retry_after,
)
from airflow_provider_projects._http.dialect import Dialect, GcaiDialect, GcoreDialect
from airflow_provider_projects._http.flow import run_sync
from airflow_provider_projects._http.sync import SyncTransport
from airflow_provider_projects._http.wire import (
    DEFAULT_TIMEOUT,
    FailureKind,
    Network,
    Outcome,
    Request,
    Response,
    Secret,
    Timeout,
    TransportFailure,
)
from airflow_provider_projects.errors import (
    ApiUnreachableError,
    AuthenticationError,
    ConflictError,
    ConnectionSetupError,
    InvalidInputError,
    InvalidResponseError,
    LockConflictError,
    MethodNotAllowedError,
    NotFoundError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
    UnexpectedStatusError,
)
from airflow_provider_projects.models.base import ApiModel
from airflow_provider_projects.models.gcai import GcaiProject
from airflow_provider_projects.models.gcore import GcoreProject, GcoreTask

#: The wall clock during these tests: the virtual clock's start (1970-01-12T13:46:40Z). Not a
#: present-day epoch: at ~1.7e9 s the virtual event loop's timers stop firing (fakes.py adds the
#: loop's 1 ns clock resolution to a time whose float step is ~240 ns), so the async runs would hang.
NOW = START
BASE = "https://api.example.test"
PATH = "/cloud/v1/projects/42"
GCAI_PATH = f"/projects/{GCAI_ID}"
KEY = "core-test-key-0123456789"
#: The exact 409 text from API_NOTES.md (trailing space included).
LOCK_MESSAGE = (
    "Operation on resource `42` currently locked by running task `update_project` with id "
    f"`{TASK_ID}` (2026-05-01 12:00:00.123456) to prevent concurrent operations. Repeat request a little later. "
)


def http_date(offset: float) -> str:
    """An IMF-fixdate (``... GMT``) ``offset`` seconds from :data:`NOW`."""
    return formatdate(NOW + offset, usegmt=True)


#: The same instant as ``http_date(30)`` but written with a +01:00 offset.
DATE_PLUS_30_OFFSET = format_datetime(datetime.fromtimestamp(NOW + 30, tz=timezone(timedelta(hours=1))))
#: RFC 5322 "-0000" means "zone unknown": email.utils parses it into a naive datetime.
NAIVE_DATE_PLUS_30 = formatdate(NOW + 30)
assert NAIVE_DATE_PLUS_30.endswith("-0000")
assert datetime.fromtimestamp(NOW, tz=UTC).isoformat() == "1970-01-12T13:46:40+00:00"


@pytest.fixture(autouse=True)
def at_now(clock: VirtualClock) -> VirtualClock:
    """Every test runs at :data:`NOW` with no jitter unless it sets ``clock.jitter``."""
    clock.now = NOW
    clock.jitter = 0.0
    return clock


def make_core(
    *, policy: RetryPolicy | None = None, dialect: Dialect | None = None, key: str = KEY, **kwargs: Any
) -> HttpCore:
    return HttpCore(
        dialect=dialect or GcoreDialect(),
        base_url=BASE,
        api_key=Secret(key),
        user_agent="tests/1",
        policy=policy,
        **kwargs,
    )


def make_request(core: HttpCore, method: str = "GET", path: str = PATH) -> Request:
    if method in {"PUT", "PATCH"}:
        return core.request(method, path, json_body={"name": "abc", "description": None})
    return core.request(method, path)


def answer(status: int, retry_after: str | None = None, body: Any = b"{}", **headers: str) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = dict(headers)
    if retry_after is not None:
        all_headers["Retry-After"] = retry_after
    return Response(status, CaseInsensitiveDict(all_headers), raw)


# -- building requests ----------------------------------------------------------------------------


def test_a_request_carries_the_auth_user_agent_and_accept_headers() -> None:
    request = make_core().request("GET", PATH)
    assert request.method == "GET"
    assert request.url == BASE + PATH
    assert request.path == PATH
    assert dict(request.headers) == {
        "Authorization": f"APIKey {KEY}",
        "Accept": "application/json",
        "User-Agent": "tests/1",
    }
    assert request.body is None
    assert request.timeout == DEFAULT_TIMEOUT


def test_a_json_body_is_compact_utf8_with_its_content_type() -> None:
    request = make_core().request("PATCH", PATH, json_body={"name": "new name", "description": "caf\u00e9"})
    assert request.body == '{"name":"new name","description":"caf\u00e9"}'.encode()
    assert request.headers["Content-Type"] == "application/json"


def test_a_null_body_is_still_sent() -> None:
    request = make_core().request("PATCH", PATH, json_body=None)
    assert request.body == b"null"


def test_params_are_encoded_and_none_values_dropped() -> None:
    request = make_core().request("GET", "/cloud/v1/tasks", params={"state": "RUNNING", "page": None, "q": "a b"})
    assert request.url == f"{BASE}/cloud/v1/tasks?state=RUNNING&q=a+b"
    assert request.path == "/cloud/v1/tasks"


def test_the_base_url_loses_its_trailing_slash() -> None:
    core = HttpCore(dialect=GcoreDialect(), base_url=BASE + "/", api_key=Secret(KEY), user_agent="t")
    assert core.request("GET", PATH).url == BASE + PATH


def test_timeouts_come_from_the_core_or_the_call() -> None:
    core = make_core(timeout=Timeout(connect=4.0, read=8.0))
    assert core.request("GET", PATH).timeout == Timeout(connect=4.0, read=8.0)
    assert core.request("GET", PATH, timeout=Timeout(2.0, 7.0)).timeout == Timeout(2.0, 7.0)


def test_the_core_repr_hides_the_key() -> None:
    core = make_core()
    assert KEY not in repr(core)
    assert repr(core) == f"HttpCore(api='Gcore Cloud', base_url={BASE!r})"


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
        pytest.param(NAIVE_DATE_PLUS_30, 30.0, id="naive-date-is-gmt"),
        pytest.param("soon", None, id="garbage-word"),
        pytest.param("", None, id="garbage-empty"),
        pytest.param("   ", None, id="garbage-blank"),
        pytest.param("nan", None, id="garbage-nan"),
        pytest.param("inf", None, id="garbage-inf"),
        pytest.param("-inf", None, id="garbage-minus-inf"),
        pytest.param("2023-11-14T22:13:50Z", None, id="garbage-iso-date"),
        pytest.param("-5", None, id="garbage-negative"),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    result = parse_retry_after(value)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_a_retry_after_date_is_relative_to_the_clock(clock: VirtualClock) -> None:
    date = http_date(30)
    assert parse_retry_after(date) == pytest.approx(30.0)
    clock.now = NOW + 10
    assert parse_retry_after(date) == pytest.approx(20.0)
    clock.now = NOW + 100
    assert parse_retry_after(date) == 0.0


# -- the decision table ---------------------------------------------------------------------------

NEVER_RETRIED = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,  # Gcore dialect, a body naming no lock holder
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


def test_a_409_naming_the_lock_holder_is_not_retried_either() -> None:
    core = make_core()
    body = {"exception_class": "ConflictError", "message": LOCK_MESSAGE}
    decision = core.decide(make_request(core, "PATCH"), 1, answer(409, "1", body))
    assert isinstance(decision, GiveUp)
    assert type(decision.error) is LockConflictError


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success_is_accepted(status: int) -> None:
    core = make_core()
    response = answer(status)
    assert core.decide(make_request(core), 1, response) == Accept(response)


#: (method, status, attempt, Retry-After header, expected delay or None for GiveUp, error type)
#: Default policy: max_retries=4, backoff 1 s doubling, capped at 30 s, Retry-After cap 120 s; jitter 0.
DECISIONS = [
    # 429 without Retry-After: exponential backoff (jitter 0 gives half the ceiling), then give up.
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
    ("HEAD", 500, 1, None, 0.5, None),
    ("GET", 500, 4, None, 4.0, None),
    ("GET", 500, 5, None, None, ServerError),
    ("PUT", 500, 1, None, None, ServerError),
    ("PATCH", 500, 1, None, None, ServerError),
    ("PUT", 500, 1, "1", None, ServerError),
    # Other 5xx are not retried.
    ("GET", 501, 1, None, None, ServerError),
    ("GET", 599, 1, "1", None, ServerError),
    # Retry-After as delta seconds: the wait is exactly the server's figure (jitter 0).
    ("GET", 429, 1, "7", 7.0, None),
    ("PUT", 429, 3, "7", 7.0, None),
    ("GET", 429, 1, "0", 0.0, None),
    ("GET", 429, 1, "120", 120.0, None),
    ("GET", 503, 1, "2", 2.0, None),
    ("PATCH", 502, 2, "3", 3.0, None),
    ("GET", 504, 1, "5", 5.0, None),
    # Retry-After as an HTTP date, relative to the clock.
    ("GET", 429, 1, http_date(30), 30.0, None),
    ("GET", 503, 2, http_date(30), 30.0, None),
    ("GET", 429, 1, DATE_PLUS_30_OFFSET, 30.0, None),
    ("GET", 429, 1, http_date(-60), 0.0, None),
    # A date without a zone ("-0000", or RFC 9110's asctime form) is GMT, as every HTTP-date is.
    ("GET", 503, 2, NAIVE_DATE_PLUS_30, 30.0, None),
    # Garbage Retry-After: ignored, the backoff applies.
    ("GET", 429, 1, "soon", 0.5, None),
    ("GET", 429, 3, "soon", 2.0, None),
    ("GET", 429, 1, "", 0.5, None),
    ("GET", 429, 1, "nan", 0.5, None),
    ("GET", 429, 1, "inf", 0.5, None),
    ("GET", 429, 1, "-5", 0.5, None),
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
        assert decision.reason.endswith(", Retry-After") is (parse_retry_after(retry_after) is not None)


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
    assert f"(the server asked to wait {wait} s, more than the 120 s waited inside one call)" in message
    if isinstance(decision.error, RateLimitedError):
        assert decision.error.retry_after == pytest.approx(wait)


def test_the_retry_after_cap_comes_from_the_policy() -> None:
    core = make_core(policy=RetryPolicy(retry_after_cap=10.0))
    request = make_request(core)
    assert core.decide(request, 1, answer(429, "10")) == Retry(10.0, "HTTP 429, Retry-After")
    decision = core.decide(request, 1, answer(429, "11"))
    assert isinstance(decision, GiveUp)
    assert "wait 11 s, more than the 10 s" in str(decision.error)


@pytest.mark.parametrize(
    ("retry_after", "jitter", "delay"),
    [
        ("5", 0.0, 5.0),
        ("5", 1.0, 5.5),  # jitter is at most 10 % of the server's figure...
        ("5", 0.5, 5.25),
        ("30", 1.0, 31.0),  # ...and at most 1 s
        ("0", 1.0, 0.0),
    ],
)
def test_retry_after_jitter_bounds(clock: VirtualClock, retry_after: str, jitter: float, delay: float) -> None:
    clock.jitter = jitter
    core = make_core()
    decision = core.decide(make_request(core), 1, answer(429, retry_after))
    assert isinstance(decision, Retry)
    assert decision.delay == pytest.approx(delay)


# -- transport failures ---------------------------------------------------------------------------

RETRIED_KINDS = [kind for kind in FailureKind if kind is not FailureKind.TLS]


@pytest.mark.parametrize("kind", RETRIED_KINDS)
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
@pytest.mark.parametrize(("attempt", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, None)])
def test_transport_failures_are_retried_then_unreachable(
    kind: FailureKind, method: str, attempt: int, delay: float | None
) -> None:
    core = make_core()
    decision = core.decide(make_request(core, method), attempt, TransportFailure(kind, "OSError: boom"))
    if delay is not None:
        assert isinstance(decision, Retry)
        assert decision.delay == pytest.approx(delay)
        assert decision.reason == kind.value
        return
    assert isinstance(decision, GiveUp)
    error = decision.error
    assert type(error) is ApiUnreachableError
    assert error.status is None
    assert str(error) == f"Gcore Cloud {method} {PATH}: {kind.value} (OSError: boom) after 5 attempt(s)"
    assert error.method == method
    assert error.url == BASE + PATH


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_tls_failure_is_a_setup_error_and_never_retried(method: str) -> None:
    core = make_core()
    outcome = TransportFailure(FailureKind.TLS, "SSLError: certificate verify failed")
    decision = core.decide(make_request(core, method), 1, outcome)
    assert isinstance(decision, GiveUp)
    error = decision.error
    assert type(error) is ConnectionSetupError
    assert isinstance(error, AirflowFailException)
    assert "TLS verification failed (SSLError: certificate verify failed)" in str(error)
    assert "'verify'" in str(error)
    assert "'cert'" in str(error)
    assert (error.method, error.url) == (method, BASE + PATH)


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
def test_backoff_grows_exponentially_within_jitter_bounds(
    clock: VirtualClock, attempt: int, low: float, high: float
) -> None:
    core = make_core(policy=RetryPolicy(max_retries=20))
    delays = {}
    for jitter in (0.0, 0.5, 1.0):
        clock.jitter = jitter
        decision = core.decide(make_request(core), attempt, answer(503))
        assert isinstance(decision, Retry)
        delays[jitter] = decision.delay
    assert delays[0.0] == pytest.approx(low)
    assert delays[1.0] == pytest.approx(high)
    assert delays[0.5] == pytest.approx((low + high) / 2)


def test_backoff_follows_the_policy(clock: VirtualClock) -> None:
    clock.jitter = 1.0
    core = make_core(policy=RetryPolicy(max_retries=10, backoff_base=0.25, backoff_max=1.0))
    got = []
    for attempt in range(1, 6):
        decision = core.decide(make_request(core), attempt, TransportFailure(FailureKind.TIMEOUT, "t"))
        assert isinstance(decision, Retry)
        got.append(decision.delay)
    assert got == pytest.approx([0.25, 0.5, 1.0, 1.0, 1.0])


def test_backoff_is_the_same_for_both_dialects() -> None:
    gcore = make_core(dialect=GcoreDialect())
    gcai = make_core(dialect=GcaiDialect())
    for attempt in (1, 3):
        assert gcore.decide(make_request(gcore), attempt, answer(502)) == gcai.decide(
            make_request(gcai), attempt, answer(502)
        )


# -- the exchange loop ----------------------------------------------------------------------------


def drive(core: HttpCore, request: Request, outcomes: list[Outcome]) -> tuple[object, list[Request]]:
    """Run the exchange through the sync driver against canned outcomes: (result or error, sends)."""
    feed = iter(outcomes)
    sent: list[Request] = []

    def send(step_request: Request) -> Outcome:
        sent.append(step_request)
        return next(feed)

    try:
        return run_sync(core.exchange(request), send), sent
    except ProjectsApiError as error:
        return error, sent


def test_exchange_retries_then_returns_the_success(clock: VirtualClock) -> None:
    core = make_core()
    request = make_request(core)
    success = answer(200, body=b'{"ok": true}')
    outcomes: list[Outcome] = [answer(503), answer(429, "3"), TransportFailure(FailureKind.DROPPED, "x"), success]
    result, sent = drive(core, request, outcomes)
    assert result is success
    assert sent == [request] * 4
    assert clock.sleeps == pytest.approx([0.5, 3.0, 2.0])
    assert clock.now == pytest.approx(NOW + 5.5)


def test_exchange_gives_up_after_max_retries(clock: VirtualClock) -> None:
    core = make_core(policy=RetryPolicy(max_retries=2))
    result, sent = drive(core, make_request(core), [answer(504)] * 10)
    assert isinstance(result, ServerError)
    assert len(sent) == 3
    assert clock.sleeps == pytest.approx([0.5, 1.0])


def test_exchange_does_not_sleep_before_a_final_error(clock: VirtualClock) -> None:
    core = make_core()
    result, sent = drive(core, make_request(core, "PUT"), [answer(500)])
    assert isinstance(result, ServerError)
    assert (len(sent), clock.sleeps) == (1, [])


def test_exchange_logs_each_retry(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_projects._http.core")
    core = make_core()
    drive(core, make_request(core), [answer(503), answer(429, "2"), answer(200)])
    messages = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_projects._http.core"]
    assert messages == [
        f"GET {PATH}: HTTP 503; trying again in 0.5 s (retry 1 of 4)",
        f"GET {PATH}: HTTP 429, Retry-After; trying again in 2.0 s (retry 2 of 4)",
    ]


# -- error mapping per status ---------------------------------------------------------------------


def gcore_error(status: int, body: Any, method: str = "PUT", **headers: str) -> ProjectsApiError:
    core = make_core(dialect=GcoreDialect())
    return core.error_for(make_request(core, method), answer(status, None, body, **headers))


def gcai_error(status: int, body: Any, method: str = "PATCH", **headers: str) -> ProjectsApiError:
    core = make_core(dialect=GcaiDialect())
    return core.error_for(make_request(core, method, GCAI_PATH), answer(status, None, body, **headers))


STATUS_TYPES = [
    (400, InvalidInputError),
    (401, AuthenticationError),
    (403, AuthenticationError),
    (404, NotFoundError),
    (405, MethodNotAllowedError),
    (422, InvalidInputError),
    (429, RateLimitedError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
    (599, ServerError),
    (418, UnexpectedStatusError),
    (302, UnexpectedStatusError),
]


@pytest.mark.parametrize(("status", "error_type"), STATUS_TYPES)
def test_gcore_status_maps_to_type_with_all_fields(status: int, error_type: type[ProjectsApiError]) -> None:
    body = {"exception_class": "SomeError", "message": "something is wrong", "request_id": "req-7"}
    error = gcore_error(status, body)
    assert type(error) is error_type
    assert error.status == status
    assert error.api_code == "SomeError"
    assert error.api_message == "something is wrong"
    assert error.request_id == "req-7"
    assert error.method == "PUT"
    assert error.url == BASE + PATH
    text = str(error)
    assert text.startswith(f"Gcore Cloud PUT {PATH} failed: HTTP {status} SomeError: something is wrong")
    assert "(request id req-7)" in text


@pytest.mark.parametrize(("status", "error_type"), STATUS_TYPES)
def test_gcai_status_maps_to_type_with_all_fields(status: int, error_type: type[ProjectsApiError]) -> None:
    body = {"error": "Something failed", "code": "SOME_CODE", "message": "more words"}
    error = gcai_error(status, body, **{"x-request-id": "hdr-9"})
    assert type(error) is error_type
    assert error.status == status
    assert error.api_code == "SOME_CODE"
    assert error.api_message == "Something failed: more words"
    assert error.request_id == "hdr-9"
    assert error.method == "PATCH"
    assert error.url == BASE + GCAI_PATH
    assert f"GC AI PATCH {GCAI_PATH} failed: HTTP {status} SOME_CODE: Something failed: more words" in str(error)


def test_gcai_409_has_no_lock_meaning() -> None:
    error = gcai_error(409, {"error": "Conflict", "message": LOCK_MESSAGE})
    assert type(error) is UnexpectedStatusError


NOT_RETRIED = (
    "was not retried: the server may have applied it before failing, and a write is never sent twice blindly. "
    "Read the project again before retrying: the change may already be there; if it is not and this persists, "
    "check the API's status page and give its support the request id"
)


def test_a_message_with_only_the_status_stays_readable() -> None:
    error = gcai_error(500, {}, method="GET")
    assert str(error) == f"GC AI GET {GCAI_PATH} failed: HTTP 500"


def test_a_gcai_write_answered_500_says_why_it_was_not_retried_and_what_to_check() -> None:
    error = gcai_error(500, {"error": "Internal Server Error"})
    assert str(error) == f"GC AI PATCH {GCAI_PATH} failed: HTTP 500: Internal Server Error. The PATCH {NOT_RETRIED}"
    assert type(error) is ServerError


def test_a_gcore_write_answered_500_says_the_same() -> None:
    body = {"exception_class": "InternalError", "message": "boom", "request_id": "req-5"}
    error = gcore_error(500, body, method="PUT")
    assert (
        str(error)
        == f"Gcore Cloud PUT {PATH} failed: HTTP 500 InternalError: boom (request id req-5). The PUT {NOT_RETRIED}"
    )


@pytest.mark.parametrize(("method", "status"), [("GET", 500), ("PATCH", 503), ("PUT", 502), ("PATCH", 404)])
def test_an_error_retried_or_not_a_server_error_does_not_say_not_retried(method: str, status: int) -> None:
    assert "not retried" not in str(gcai_error(status, {"error": "x"}, method=method))


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("7", 7.0), ("soon", None), (None, None), (http_date(30), 30.0)],
)
def test_429_keeps_retry_after(retry_after: str | None, expected: float | None) -> None:
    core = make_core(dialect=GcaiDialect())
    response = answer(429, retry_after, {"error": "Too many requests", "code": "RATE_LIMITED"})
    error = core.error_for(make_request(core), response)
    assert type(error) is RateLimitedError
    assert error.retry_after == (None if expected is None else pytest.approx(expected))
    assert error.api_code == "RATE_LIMITED"


def test_a_lowercase_retry_after_header_is_read() -> None:
    core = make_core()
    decision = core.decide(make_request(core), 1, answer(429, None, **{"retry-after": "7"}))
    assert decision == Retry(7.0, "HTTP 429, Retry-After")


@pytest.mark.parametrize(
    ("status", "fails_at_once"),
    [
        *[(status, True) for status in (400, 401, 403, 404, 405, 422)],
        *[(status, False) for status in (409, 429, 500, 503, 418)],
    ],
)
def test_errors_a_retry_cannot_fix_fail_the_task_at_once(status: int, fails_at_once: bool) -> None:
    error = gcore_error(status, {"exception_class": "X", "message": "y"})
    assert isinstance(error, AirflowFailException) is fails_at_once


@pytest.mark.parametrize("make", [gcore_error, gcai_error])
@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 422, 429, 500, 503, 418])
def test_errors_made_by_the_core_survive_pickling(make: Any, status: int) -> None:
    body = {"exception_class": "ConflictError", "error": "e", "code": "C", "message": LOCK_MESSAGE, "request_id": "r"}
    error = make(status, body, **{"Retry-After": "9", "X-Request-Id": "r"})
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301
    assert type(copy) is type(error)
    assert vars(copy) == vars(error)
    assert str(copy) == str(error)
    assert repr(copy) == repr(error)


def test_a_pickled_error_keeps_the_over_cap_note() -> None:
    core = make_core(policy=RetryPolicy(max_retries=3))
    decision = core.decide(make_request(core), 1, answer(429, "500"))
    assert isinstance(decision, GiveUp)
    copy = pickle.loads(pickle.dumps(decision.error))  # noqa: S301
    assert "wait 500 s" in str(copy)
    assert copy.retry_after == 500.0


# -- the key never reaches an error ---------------------------------------------------------------


def test_the_key_is_removed_from_a_json_error_body() -> None:
    error = gcore_error(401, {"exception_class": "AuthError", "message": f"token {KEY} is not valid"})
    assert KEY not in str(error)
    assert KEY not in (error.api_message or "")
    assert "token *** is not valid" in str(error)


def test_the_masked_echo_of_the_key_is_removed() -> None:
    key = "SECRETWRONGKEY-gcore-7777"
    core = make_core(key=key)
    body = {"exception_class": "NotAuthenticated", "message": "Invalid <APIKey> authentication token: SECRE*****-7777"}
    error = core.error_for(make_request(core), answer(401, None, body))
    assert error.api_message == "Invalid <APIKey> authentication token: ***"
    assert "SECRE" not in str(error)
    assert "-7777" not in str(error)


def test_the_gcai_key_is_removed_from_details() -> None:
    key = "gcai_orgkey_0123456789"
    core = make_core(dialect=GcaiDialect(), key=key)
    body = {"error": "Invalid key", "details": {"received": key}}
    error = core.error_for(make_request(core), answer(403, None, body))
    assert key not in str(error)
    assert key not in (error.api_message or "")


def test_a_key_cut_by_the_snippet_does_not_leak_in_part() -> None:
    key = "ZZ-SECRET-7f3a9c"
    core = make_core(key=key)
    error = core.error_for(make_request(core), answer(502, None, ("x" * 190 + " " + key).encode()))
    assert key[:8] not in str(error)


def test_the_key_is_removed_from_a_transport_failure() -> None:
    core = make_core(policy=RetryPolicy(max_retries=0))
    outcome = TransportFailure(FailureKind.DROPPED, f"ProtocolError: bad header Authorization: APIKey {KEY}")
    decision = core.decide(make_request(core), 1, outcome)
    assert isinstance(decision, GiveUp)
    assert KEY not in str(decision.error)
    assert "APIKey ***" in str(decision.error)


# -- parsing success bodies -----------------------------------------------------------------------


def parse(model: Any, body: bytes, dialect: Dialect | None = None, path: str = PATH) -> Any:
    core = make_core(dialect=dialect)
    return core.parse(answer(200, None, body), model, core.request("GET", path))


def test_a_valid_body_parses() -> None:
    project = parse(GcoreProject, json.dumps(GCORE_PROJECT).encode())
    assert isinstance(project, GcoreProject)
    assert project.id == 42
    assert project.task_id is None
    assert project.to_xcom() == GCORE_PROJECT


@pytest.mark.parametrize("missing", ["name", "task_id", "client_id", "is_default"])
def test_a_missing_required_field_is_named(missing: str) -> None:
    body = {k: v for k, v in GCORE_PROJECT.items() if k != missing}
    with pytest.raises(InvalidResponseError) as caught:
        parse(GcoreProject, json.dumps(body).encode())
    error = caught.value
    assert f"{missing}: field required" in str(error)
    assert error.status == 200
    assert error.method == "GET"
    assert error.url == BASE + PATH
    assert f"GET {PATH}" in str(error)
    assert error.__cause__ is None  # pydantic's long traceback is not chained


@pytest.mark.parametrize("missing", ["my_access_level", "custom_instructions", "updated_at"])
def test_a_missing_required_nullable_gcai_field_is_named(missing: str) -> None:
    body = {k: v for k, v in GCAI_PROJECT.items() if k != missing}
    with pytest.raises(InvalidResponseError, match=f"{missing}: field required"):
        parse(GcaiProject, json.dumps(body).encode(), GcaiDialect(), GCAI_PATH)


def test_a_wrong_type_is_named() -> None:
    body = dict(GCORE_PROJECT, id="forty-two")
    with pytest.raises(InvalidResponseError, match=r"id: input should be a valid integer"):
        parse(GcoreProject, json.dumps(body).encode())


@pytest.mark.parametrize(
    "body",
    [json.dumps(GCORE_PROJECT).encode()[:40], b"", b"<html>OK</html>", b"{'id': 1}"],
    ids=["truncated", "empty", "html", "python-repr"],
)
def test_a_non_json_body_is_an_invalid_response(body: bytes) -> None:
    with pytest.raises(InvalidResponseError) as caught:
        parse(GcoreProject, body)
    assert "not valid JSON" in str(caught.value)
    assert f"({len(body)} bytes" in str(caught.value)
    assert not isinstance(caught.value, AirflowFailException)


def test_json_that_is_not_an_object_is_an_invalid_response() -> None:
    with pytest.raises(InvalidResponseError, match="HTTP 200 with an unusable body"):
        parse(GcoreProject, b"[]")


def test_unknown_fields_are_kept_in_xcom() -> None:
    body = dict(GCORE_PROJECT, region_id=76, labels={"team": "data"}, future=[1, 2])
    project = parse(GcoreProject, json.dumps(body).encode())
    assert project.to_xcom() == body
    json.dumps(project.to_xcom())  # JSON-safe


def test_unknown_task_fields_and_optional_defaults() -> None:
    body = {
        "id": TASK_ID,
        "user_id": 1,
        "task_type": "update_project",
        "state": "RUNNING",
        "created_on": "2026-01-01T00:00:00",
        "detailed_state": "WAITING",
    }
    task = parse(GcoreTask, json.dumps(body).encode(), path=f"/cloud/v1/tasks/{TASK_ID}")
    xcom = task.to_xcom()
    assert xcom["detailed_state"] == "WAITING"
    assert xcom["error"] is None
    assert task.finished is False


# -- one call, both transports: the same outcomes, requests and pauses ----------------------------

OK_BODY = json.dumps(GCORE_PROJECT).encode()
LOCK_BODY = json.dumps({"exception_class": "ConflictError", "message": LOCK_MESSAGE, "request_id": "r-409"}).encode()
KIND_TEXT = {kind.value for kind in FailureKind}
OK = ("ok", json.dumps(GCORE_PROJECT, sort_keys=True))
Step = Reply | TransportFailure


def outcome_of(result: ApiModel | ProjectsApiError) -> tuple[Any, ...]:
    if isinstance(result, ProjectsApiError):
        return (type(result).__name__, result.status, *sorted(k for k in KIND_TEXT if k in str(result)))
    return ("ok", json.dumps(result.to_xcom(), sort_keys=True))


def run_transport(
    api: FakeApi, clock: VirtualClock, transport_type: str, method: str, steps: list[Step]
) -> tuple[tuple[Any, ...], int, list[float]]:
    """One call through a transport whose ``send`` is the fake API; (outcome, requests sent, pauses)."""
    api.routes.clear()
    api.requests.clear()
    clock.sleeps.clear()
    api.on(method, PATH, *steps)
    core = make_core(policy=RetryPolicy(max_retries=2))
    body = {} if method == "GET" else {"json_body": {"name": "abc", "description": None}}
    result: ApiModel | ProjectsApiError
    try:
        if transport_type == "sync":
            result = SyncTransport(core).call(method, PATH, GcoreProject, **body)
        else:
            # Writes never go through a trigger, but the same flow driven by the async driver must decide alike.
            result = run_virtual(clock, AsyncTransport(core).run(core.call(method, PATH, GcoreProject, **body)))
    except ProjectsApiError as error:
        result = error
    return outcome_of(result), len(api.sent(method, PATH)), list(clock.sleeps)


#: (id, method, steps, expected outcome, expected request count, expected pauses); max_retries=2, jitter 0.
SCENARIOS = [
    ("200", "GET", [Reply(200, OK_BODY)], OK, 1, []),
    ("put-200", "PUT", [Reply(200, OK_BODY)], OK, 1, []),
    ("429-retry-after-then-200", "GET", [Reply(429, {}, {"Retry-After": "2"}), Reply(200, OK_BODY)], OK, 2, [2.0]),
    ("503-503-200", "GET", [Reply(503, {}), Reply(503, {}), Reply(200, OK_BODY)], OK, 3, [0.5, 1.0]),
    ("502-x3", "PATCH", [Reply(502, {})], ("ServerError", 502), 3, [0.5, 1.0]),
    ("429-x3", "GET", [Reply(429, {})], ("RateLimitedError", 429), 3, [0.5, 1.0]),
    ("429-over-cap", "GET", [Reply(429, {}, {"Retry-After": "500"})], ("RateLimitedError", 429), 1, []),
    ("500-get-retried", "GET", [Reply(500, {}), Reply(200, OK_BODY)], OK, 2, [0.5]),
    ("500-put-not-retried", "PUT", [Reply(500, {})], ("ServerError", 500), 1, []),
    ("404", "GET", [Reply(404, {})], ("NotFoundError", 404), 1, []),
    ("401", "PUT", [Reply(401, {})], ("AuthenticationError", 401), 1, []),
    ("405", "PUT", [Reply(405, {})], ("MethodNotAllowedError", 405), 1, []),
    ("409-lock", "PUT", [Reply(409, LOCK_BODY)], ("LockConflictError", 409), 1, []),
    ("409-other", "PATCH", [Reply(409, {"message": "name taken"})], ("ConflictError", 409), 1, []),
    ("422", "PATCH", [Reply(422, {})], ("InvalidInputError", 422), 1, []),
    ("302", "GET", [Reply(302, b"", {"Location": "https://elsewhere.test/"})], ("UnexpectedStatusError", 302), 1, []),
    ("connect-then-200", "GET", [failure(FailureKind.CONNECT), Reply(200, OK_BODY)], OK, 2, [0.5]),
    (
        "timeout-x3",
        "GET",
        [failure(FailureKind.TIMEOUT)],
        ("ApiUnreachableError", None, "read timed out"),
        3,
        [0.5, 1.0],
    ),
    (
        "connect-x3",
        "PUT",
        [failure(FailureKind.CONNECT)],
        ("ApiUnreachableError", None, "connection failed"),
        3,
        [0.5, 1.0],
    ),
    (
        "dropped-x3",
        "GET",
        [failure(FailureKind.DROPPED)],
        ("ApiUnreachableError", None, "connection dropped"),
        3,
        [0.5, 1.0],
    ),
    ("dropped-then-200", "PATCH", [failure(FailureKind.DROPPED), Reply(200, OK_BODY)], OK, 2, [0.5]),
    (
        "tls",
        "GET",
        [failure(FailureKind.TLS, "SSLError: certificate verify failed")],
        ("ConnectionSetupError", None, "TLS verification failed"),
        1,
        [],
    ),
    ("truncated-json", "GET", [Reply(200, OK_BODY[:30])], ("InvalidResponseError", 200), 1, []),
    ("missing-field", "GET", [Reply(200, b'{"id": 42}')], ("InvalidResponseError", 200), 1, []),
]


@pytest.mark.parametrize("transport_type", ["sync", "async"])
@pytest.mark.parametrize(
    ("method", "steps", "expected", "requests_sent", "pauses"),
    [pytest.param(*row[1:], id=row[0]) for row in SCENARIOS],
)
def test_scenario_table(
    *,
    api: FakeApi,
    clock: VirtualClock,
    transport_type: str,
    method: str,
    steps: list[Step],
    expected: tuple[Any, ...],
    requests_sent: int,
    pauses: list[float],
) -> None:
    outcome, count, slept = run_transport(api, clock, transport_type, method, steps)
    assert outcome == expected
    assert count == requests_sent
    assert slept == pytest.approx(pauses)


@pytest.mark.parametrize(("method", "steps"), [pytest.param(row[1], row[2], id=row[0]) for row in SCENARIOS])
def test_both_transports_agree(api: FakeApi, clock: VirtualClock, method: str, steps: list[Step]) -> None:
    assert run_transport(api, clock, "sync", method, steps) == run_transport(api, clock, "async", method, steps)


# -- real sockets: a certificate the client does not trust ends the call, on both transports ------


def _self_signed(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 signed by itself, and its key: (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """An HTTPS server on 127.0.0.1 answering ``{}`` to each request: (base URL, its certificate path)."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    cert_path, key_path = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:  # the listener was shut down: the test is over
                return
            raw.settimeout(10)  # a safety net only: every client here either talks or hangs up
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    received = b""
                    while b"\r\n\r\n" not in received:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        received += chunk
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            except OSError:  # the client refused the certificate and hung up
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", cert_path
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close() alone does not)
    listener.close()
    thread.join(timeout=10)
    assert not thread.is_alive()


def _call_over(transport_type: str, base: str, network: Network) -> ApiModel:
    core = HttpCore(
        dialect=GcoreDialect(),
        base_url=base,
        api_key=Secret(KEY),
        user_agent="tests/1",
        policy=RetryPolicy(max_retries=0),
    )
    if transport_type == "sync":
        sync = SyncTransport(core, network)
        try:
            return sync.call("GET", PATH, ApiModel)
        finally:
            sync.close()
    return asyncio.run(AsyncTransport(core, network).call("GET", PATH, ApiModel))


@pytest.mark.parametrize("transport_type", ["sync", "async"])
def test_an_untrusted_certificate_is_a_setup_error_at_once(
    tls_server: tuple[str, str], transport_type: str, clock: VirtualClock
) -> None:
    base, _cert = tls_server
    with pytest.raises(ConnectionSetupError) as caught:
        _call_over(transport_type, base, Network())
    assert FailureKind.TLS.value in str(caught.value)
    assert "'verify'" in str(caught.value)
    assert clock.sleeps == []


@pytest.mark.parametrize("transport_type", ["sync", "async"])
def test_a_ca_bundle_in_verify_makes_the_certificate_trusted(
    tls_server: tuple[str, str], transport_type: str, clock: VirtualClock
) -> None:
    base, cert = tls_server
    assert _call_over(transport_type, base, Network(verify=cert)).to_xcom() == {}


# -- what mutation testing found unpinned (issue 19) ------------------------------------------------


def test_an_http_date_without_a_zone_is_gmt_whatever_the_machines_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_retry_after(NAIVE_DATE_PLUS_30) == 30.0
    finally:
        monkeypatch.undo()
        time.tzset()


def test_only_a_trailing_slash_is_dropped_from_the_base_url() -> None:
    core = HttpCore(dialect=GcoreDialect(), base_url="https://api.example.test/X/", api_key=Secret(KEY), user_agent="t")
    assert core.base_url == "https://api.example.test/X"


def test_a_300_answer_is_an_error_not_a_success() -> None:
    core = make_core()
    decision = core.decide(make_request(core), 1, answer(300))
    assert isinstance(decision, GiveUp)
    assert isinstance(decision.error, UnexpectedStatusError)


def test_a_407_says_the_proxy_refused() -> None:
    core = make_core()
    error = core.error_for(make_request(core), answer(407, body=b""))
    assert str(error) == (
        f"Gcore Cloud GET {PATH} failed: HTTP 407: (empty body). "
        "The proxy refused the request: check the connection's 'proxy' extra and its credentials"
    )


def test_an_error_carries_its_dialects_hint() -> None:
    core = make_core()
    error = core.error_for(make_request(core), answer(403, body={"exception_class": "Forbidden", "message": "no"}))
    assert str(error) == (
        f"Gcore Cloud GET {PATH} failed: HTTP 403 Forbidden: no. "
        "The key is valid but may not do this: check its permissions in the Gcore portal"
    )


def test_a_note_is_added_to_the_whole_message() -> None:
    core = make_core()
    decision = core.decide(make_request(core), 1, answer(429, retry_after="600"))
    assert isinstance(decision, GiveUp)
    assert str(decision.error) == (
        f"Gcore Cloud GET {PATH} failed: HTTP 429 "
        "(the server asked to wait 600 s, more than the 120 s waited inside one call)"
    )


def test_a_key_escaped_in_the_json_of_an_error_is_hidden_too() -> None:
    # The raw body holds \\u-escapes, not the key's bytes: only the decoded message shows the key.
    core = make_core()
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)
    body = ('{"exception_class": "E", "message": "bad key ' + escaped + '"}').encode()
    error = core.error_for(make_request(core), answer(401, body=body))
    assert KEY not in str(error)
    assert error.api_message == "bad key ***"


def test_a_tls_failure_names_the_extras_to_check() -> None:
    core = make_core()
    decision = core.decide(make_request(core), 1, TransportFailure(FailureKind.TLS, "SSLError: unknown CA"))
    assert isinstance(decision, GiveUp)
    assert str(decision.error) == (
        f"Gcore Cloud GET {PATH}: TLS verification failed (SSLError: unknown CA); "
        "check the connection's 'verify' (a CA bundle path for an internal CA) and 'cert' extras"
    )


def test_an_unusable_body_names_the_first_five_problems_by_their_place() -> None:
    core = make_core()
    request = make_request(core)
    bad = {**GCORE_PROJECT, "id": "x", "client_id": "x", "name": 1, "created_at": 2, "is_default": "maybe", "state": 3}
    with pytest.raises(InvalidResponseError) as raised:
        core.parse(answer(200, body=bad), GcoreProject, request)
    problems = str(raised.value).split(": ", 1)[1]
    assert problems.count("; ") == 4  # five problems, not six
    assert problems.startswith("id: ")


def test_a_body_that_is_not_an_object_is_named_body() -> None:
    core = make_core()
    with pytest.raises(InvalidResponseError, match=r"\bbody: "):
        core.parse(answer(200, body=[1, 2]), GcoreProject, make_request(core))


def test_a_nested_problem_is_named_by_its_dotted_place() -> None:
    core = make_core(dialect=GcaiDialect())
    request = core.request("GET", "/me")
    from airflow_provider_projects.models.gcai import GcaiIdentity

    me = {"token_type": "organization", "api_key_id": "k", "organization": {"id": 1, "name": 5}, "user": None}
    with pytest.raises(InvalidResponseError, match=r"organization\.name: "):
        core.parse(answer(200, body=me), GcaiIdentity, request)


def test_a_call_sends_its_query_and_its_timeout(api: FakeApi) -> None:
    api.on("GET", PATH, Reply(200, GCORE_PROJECT))
    SyncTransport(make_core()).call("GET", PATH, GcoreProject, params={"q": "1"}, timeout=Timeout(2.0, 3.0))
    [sent] = api.requests
    assert sent.url == BASE + PATH + "?q=1"
    assert sent.timeout == Timeout(2.0, 3.0)


def test_an_unusable_body_reads_exactly() -> None:
    core = make_core()
    request = core.request("GET", "/x")
    with pytest.raises(InvalidResponseError) as not_an_object:
        core.parse(answer(200, body=[1, 2]), GcoreProject, request)
    assert (
        str(not_an_object.value)
        == "Gcore Cloud GET /x answered HTTP 200 with an unusable body: body: input should be an object"
    )
    with pytest.raises(InvalidResponseError) as two_problems:
        core.parse(answer(200, body={**GCORE_PROJECT, "id": "x", "name": 1}), GcoreProject, request)
    assert str(two_problems.value) == (
        "Gcore Cloud GET /x answered HTTP 200 with an unusable body: id: input should be a valid integer, "
        "unable to parse string as an integer; name: input should be a valid string"
    )


def test_a_call_sends_its_body(api: FakeApi) -> None:
    api.on("PATCH", PATH, Reply(200, GCORE_PROJECT))
    SyncTransport(make_core()).call("PATCH", PATH, GcoreProject, json_body={"name": "abc"})
    [sent] = api.requests
    assert sent.body == b'{"name":"abc"}'
