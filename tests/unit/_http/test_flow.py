"""The two flow drivers: what they send, what they pass back, and how they pause."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakes import START, VirtualClock, run_virtual

from airflow_provider_projects._http.flow import Flow, Send, Sleep, run_async, run_sync
from airflow_provider_projects._http.wire import (
    DEFAULT_TIMEOUT,
    FailureKind,
    Outcome,
    Request,
    Response,
    TransportFailure,
)


def request(path: str) -> Request:
    return Request("GET", f"https://api.test{path}", path, {}, None, DEFAULT_TIMEOUT)


FIRST = request("/first")
SECOND = request("/second")
ANSWER = Response(200, {}, b"{}")
DROPPED = TransportFailure(FailureKind.DROPPED, "ConnectionResetError: reset")


def two_sends_and_a_pause(pause: float = 2.5) -> Flow[list[Any]]:
    """Records everything the driver passes back, and returns it."""
    received: list[Any] = []
    received.append((yield Send(FIRST)))
    received.append((yield Sleep(pause)))
    received.append((yield Send(SECOND)))
    return received


class Script:
    """A send function answering from a list, recording what it was asked to send."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[Request] = []

    def __call__(self, sent: Request) -> Outcome:
        self.sent.append(sent)
        return self.outcomes.pop(0)

    async def asend(self, sent: Request) -> Outcome:
        await asyncio.sleep(0)
        return self(sent)


# -- run_sync -------------------------------------------------------------------------------------


def test_run_sync_sends_passes_outcomes_back_and_pauses_on_the_clock(clock: VirtualClock) -> None:
    script = Script(ANSWER, DROPPED)
    received = run_sync(two_sends_and_a_pause(), script)
    assert script.sent == [FIRST, SECOND]
    assert received == [ANSWER, None, DROPPED]  # a pause passes back None
    assert clock.sleeps == [2.5]
    assert clock.now == START + 2.5


def test_run_sync_returns_the_value_of_a_flow_without_steps(clock: VirtualClock) -> None:
    def nothing_to_do() -> Flow[str]:
        return "done"
        yield  # a generator that ends at once

    assert run_sync(nothing_to_do(), Script()) == "done"
    assert clock.sleeps == []


def test_run_sync_lets_an_error_of_the_flow_out(clock: VirtualClock) -> None:
    def failing() -> Flow[None]:
        yield Sleep(1.0)
        raise ValueError("the flow gave up")

    with pytest.raises(ValueError, match="the flow gave up"):
        run_sync(failing(), Script())
    assert clock.sleeps == [1.0]


def test_run_sync_lets_an_error_of_send_out(clock: VirtualClock) -> None:
    def send(_request: Request) -> Outcome:
        raise RuntimeError("the transport broke")

    with pytest.raises(RuntimeError, match="the transport broke"):
        run_sync(two_sends_and_a_pause(), send)
    assert clock.sleeps == []


# -- run_async ------------------------------------------------------------------------------------


def test_run_async_sends_passes_outcomes_back_and_pauses_on_the_clock(clock: VirtualClock) -> None:
    script = Script(ANSWER, DROPPED)
    received = run_virtual(clock, run_async(two_sends_and_a_pause(), script.asend))
    assert script.sent == [FIRST, SECOND]
    assert received == [ANSWER, None, DROPPED]
    assert clock.sleeps == [2.5]
    assert clock.now == START + 2.5


def test_run_async_lets_errors_out(clock: VirtualClock) -> None:
    async def send(_request: Request) -> Outcome:
        raise RuntimeError("the transport broke")

    with pytest.raises(RuntimeError, match="the transport broke"):
        run_virtual(clock, run_async(two_sends_and_a_pause(), send))


def test_run_async_pauses_let_other_flows_run(clock: VirtualClock) -> None:
    finished: list[tuple[str, float]] = []

    async def one(name: str, pause: float) -> None:
        await run_async(two_sends_and_a_pause(pause), Script(ANSWER, ANSWER).asend)
        finished.append((name, clock.now - START))

    async def both() -> None:
        await asyncio.gather(one("long", 10.0), one("short", 1.0))

    run_virtual(clock, both())
    # The pauses overlapped: the short flow ended first, and both together took the longer pause.
    assert finished == [("short", 1.0), ("long", 10.0)]
    assert sorted(clock.sleeps) == [1.0, 10.0]


def test_both_drivers_give_the_same_result(clock: VirtualClock) -> None:
    by_sync = run_sync(two_sends_and_a_pause(), Script(ANSWER, DROPPED))
    by_async = run_virtual(clock, run_async(two_sends_and_a_pause(), Script(ANSWER, DROPPED).asend))
    assert by_sync == by_async
    assert clock.sleeps == [2.5, 2.5]
