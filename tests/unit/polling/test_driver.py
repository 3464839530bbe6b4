"""The one async wait driver: one poll per source per event loop, shared by every wait on it (``polling/``).

The first half drives :func:`joined` with a scripted read in virtual time (``run_virtual``):
each read records the virtual second it started, so every assertion is an exact poll count at
exact times. The second half runs the task trigger end to end (the HTTP core and the async
transport over the scripted API) for what only the HTTP layer shows: a shared 429, a rejected
key, a dropped connection, and which waits share a key.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakes import START, FakeApi, Reply, VirtualClock, failure, ok, run_virtual
from samples import GCORE_PROJECT

from airflow_provider_projects._http import aio
from airflow_provider_projects._http.wire import Outcome, Request
from airflow_provider_projects.errors import RateLimitedError, ServerError
from airflow_provider_projects.models.gcore import GcoreTask
from airflow_provider_projects.polling.driver import joined
from airflow_provider_projects.polling.listeners import WaitListener
from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger, GcoreTaskTrigger
from airflow_provider_projects.waiting import PollTolerance, Wait, WaitOutcome

TASK_ID = "7244e161-664c-4afd-a34e-7003eac4d949"
OTHER_TASK_ID = "0b7c1a52-9d7e-4c39-a9a5-5f4b8f4c2e10"


def task(state: str, task_id: str = TASK_ID) -> GcoreTask:
    return GcoreTask(id=task_id, user_id=1, task_type="update_project", state=state, created_on=None)


@dataclass
class Lines:
    """A logger that keeps the lines it is given (each wait logs to its own trigger's logger)."""

    lines: list[str] = field(default_factory=list)

    def info(self, message: str, *args: Any) -> None:
        self.lines.append(message % args)


@dataclass
class Resource:
    """A read for a shared poll: what the resource says at each virtual second, after ``latency``."""

    clock: VirtualClock
    says: Callable[[float], GcoreTask | Exception]
    latency: float = 0.0
    reads: list[float] = field(default_factory=list)

    async def __call__(self) -> GcoreTask:
        self.reads.append(self.clock.now - START)
        if self.latency:
            await asyncio.sleep(self.latency)
        said = self.says(self.clock.now - START)
        if isinstance(said, Exception):
            raise said
        return said


@dataclass
class SourceOf:
    """A poll's source over a scripted read; every wait here is on the one subject ``SUBJECT``."""

    read_once: Callable[[], Any]

    async def read(self, subjects: Any) -> dict[str, Any]:
        return {SUBJECT: await self.read_once()}


SUBJECT = "the resource"


async def wait_shared(key: str, read: Callable[[], Any], wait: Wait[Any], log: Any) -> Any:
    """Wait on the poll of ``key``, started with ``read`` if there is none."""
    listener: WaitListener[Any] = WaitListener(wait, SUBJECT, log)
    async with joined(key, lambda: SourceOf(read), listener):
        return await listener.done


def finishes_at(moment: float) -> Callable[[float], GcoreTask]:
    return lambda now: task("FINISHED" if now >= moment else "RUNNING")


def wait(deadline: float = 1_000.0, interval: float = 10.0, max_errors: int = 5) -> Wait[GcoreTask]:
    """A wait for the task to end, ``deadline`` seconds after the start of the virtual clock."""
    return Wait(
        what=f"Gcore task {TASK_ID}",
        is_done=lambda t: t.finished,
        deadline=START + deadline,
        poll_interval=interval,
        tolerance=PollTolerance(max_errors),
    )


# -- coalescing --------------------------------------------------------------------------------------


def test_a_hundred_waits_on_one_resource_cost_one_poll_per_interval(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(55.0))

    async def main() -> list[WaitOutcome[GcoreTask]]:
        waits = [asyncio.ensure_future(wait_shared("project 2", resource, wait(), Lines())) for _ in range(100)]
        outcomes = await asyncio.gather(*waits)
        await asyncio.sleep(100)  # the poll ended with its last wait: no read after it
        return outcomes

    outcomes = run_virtual(clock, main())
    assert resource.reads == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert {(o.status, o.polls, o.waited) for o in outcomes} == {("done", 7, 60.0)}


def test_waits_on_different_resources_poll_separately(clock: VirtualClock) -> None:
    first, second = Resource(clock, finishes_at(25.0)), Resource(clock, finishes_at(45.0))

    async def main() -> list[WaitOutcome[GcoreTask]]:
        waits = [
            asyncio.ensure_future(wait_shared(key, read, wait(), Lines()))
            for key, read in (("task a", first), ("task a", first), ("task b", second))
        ]
        return await asyncio.gather(*waits)

    outcomes = run_virtual(clock, main())
    assert first.reads == [0.0, 10.0, 20.0, 30.0]
    assert second.reads == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert [(o.status, o.polls) for o in outcomes] == [("done", 4), ("done", 4), ("done", 6)]


# -- the rate ---------------------------------------------------------------------------------------


def test_the_shortest_interval_among_the_waits_wins(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(35.0))

    async def main() -> list[WaitOutcome[GcoreTask]]:
        return await asyncio.gather(
            wait_shared("k", resource, wait(interval=30.0), Lines()),
            wait_shared("k", resource, wait(interval=10.0), Lines()),
        )

    outcomes = run_virtual(clock, main())
    assert resource.reads == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert [(o.status, o.polls) for o in outcomes] == [("done", 5), ("done", 5)]


def test_a_wait_joining_with_a_shorter_interval_brings_the_next_poll_forward(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(10_000.0))

    async def main() -> None:
        slow = asyncio.ensure_future(wait_shared("k", resource, wait(deadline=45.0, interval=30.0), Lines()))
        await asyncio.sleep(5)
        await asyncio.gather(slow, wait_shared("k", resource, wait(deadline=45.0, interval=10.0), Lines()))

    run_virtual(clock, main())
    assert resource.reads == [0.0, 10.0, 20.0, 30.0, 40.0, 45.0]


def test_polls_keep_a_fixed_rate_when_answers_take_time(clock: VirtualClock) -> None:
    # Each answer takes 3 s. Pausing an interval after each answer would poll every 13 s; the
    # grid starts at the first answer (+3) and the polls start on it: +13, +23, +33.
    resource = Resource(clock, finishes_at(30.0), latency=3.0)
    outcome = run_virtual(clock, wait_shared("k", resource, wait(), Lines()))
    assert resource.reads == [0.0, 13.0, 23.0, 33.0]
    assert (outcome.status, outcome.polls, outcome.waited) == ("done", 4, 33.0)


def test_ticks_missed_while_a_slow_poll_ran_are_skipped(clock: VirtualClock) -> None:
    # An answer that takes 25 s spans two ticks of a 10 s grid (phase +25): the next poll starts
    # on the next tick still ahead, never in a burst to catch up.
    resource = Resource(clock, finishes_at(100.0), latency=25.0)
    outcome = run_virtual(clock, wait_shared("k", resource, wait(), Lines()))
    assert resource.reads == [0.0, 35.0, 65.0, 95.0]
    assert (outcome.status, outcome.polls) == ("done", 4)


def test_a_retry_after_the_core_did_not_wait_out_holds_the_poll_back(clock: VirtualClock) -> None:
    # A 429 whose Retry-After outlasted the core's retries reaches the waits: the next poll of the
    # key comes after it, not on the grid, and the grid starts again from that poll.
    answers: list[GcoreTask | Exception] = [RateLimitedError("HTTP 429", status=429, retry_after=45.0), task("RUNNING")]
    resource = Resource(clock, lambda now: answers.pop(0) if answers else task("FINISHED"))
    outcome = run_virtual(clock, wait_shared("k", resource, wait(), Lines()))
    assert resource.reads == [0.0, 45.0, 55.0]
    assert (outcome.status, outcome.polls) == ("done", 3)


def test_a_retry_after_is_cut_at_a_waits_deadline(clock: VirtualClock) -> None:
    resource = Resource(clock, lambda now: RateLimitedError("HTTP 429", status=429, retry_after=300.0))
    outcome = run_virtual(clock, wait_shared("k", resource, wait(deadline=25.0), Lines()))
    assert resource.reads == [0.0, 25.0]
    assert (outcome.status, outcome.polls) == ("timeout", 2)


# -- each wait is its own --------------------------------------------------------------------------


def test_each_wait_keeps_its_own_deadline(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(10_000.0))

    async def main() -> list[WaitOutcome[GcoreTask]]:
        return await asyncio.gather(
            wait_shared("k", resource, wait(deadline=25.0), Lines()),
            wait_shared("k", resource, wait(deadline=60.0), Lines()),
        )

    short, long = run_virtual(clock, main())
    # One extra poll at the short wait's deadline; the grid of the other goes on unchanged.
    assert resource.reads == [0.0, 10.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0]
    assert (short.status, short.polls, short.waited, short.last_seen) == ("timeout", 4, 25.0, task("RUNNING"))
    assert (long.status, long.polls, long.waited) == ("timeout", 8, 60.0)


def test_a_wait_joining_with_a_deadline_before_the_next_tick_is_polled_at_its_deadline(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(10_000.0))

    async def main() -> tuple[WaitOutcome[GcoreTask], WaitOutcome[GcoreTask]]:
        first = asyncio.ensure_future(wait_shared("k", resource, wait(deadline=65.0, interval=30.0), Lines()))
        await asyncio.sleep(5)
        late = await wait_shared("k", resource, wait(deadline=12.0), Lines())
        return late, await first

    late, first = run_virtual(clock, main())
    # The late wait's 10 s interval brings the next tick forward (+10), then its deadline is polled
    # (+12); once it has left, the grid goes on at 30 s from +10, cut at the first wait's deadline.
    assert resource.reads == [0.0, 10.0, 12.0, 40.0, 65.0]
    assert (late.status, late.polls, late.waited) == ("timeout", 2, 2.0)
    assert (first.status, first.polls) == ("timeout", 5)


def test_each_wait_keeps_its_own_error_budget(clock: VirtualClock) -> None:
    def says(now: float) -> GcoreTask | Exception:
        if now < 30:
            return ServerError("Gcore Cloud GET /cloud/v1/tasks/x failed: HTTP 503", status=503)
        return task("FINISHED" if now >= 40 else "RUNNING")

    resource = Resource(clock, says)

    async def main() -> list[WaitOutcome[GcoreTask]]:
        return await asyncio.gather(
            wait_shared("k", resource, wait(max_errors=1), Lines()),
            wait_shared("k", resource, wait(max_errors=5), Lines()),
        )

    strict, patient = run_virtual(clock, main())
    assert (strict.status, strict.polls) == ("error", 2)
    assert isinstance(strict.error, ServerError)
    assert "2 failed polls in a row" in str(strict.error)
    assert (patient.status, patient.polls, patient.error) == ("done", 5, None)
    assert resource.reads == [0.0, 10.0, 20.0, 30.0, 40.0]


def test_progress_lines_go_to_each_waits_own_log_about_once_a_minute(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(10_000.0))
    early, late = Lines(), Lines()

    async def main() -> None:
        first = asyncio.ensure_future(wait_shared("k", resource, wait(deadline=150.0), early))
        await asyncio.sleep(25)
        await wait_shared("k", resource, wait(deadline=150.0), late)
        await first

    run_virtual(clock, main())
    assert len(resource.reads) == 16  # 0, 10, ... 150
    assert [line.split("; ")[1] for line in early.lines] == [
        "waited 0 s, 1 poll(s), 150 s left before the deadline",
        "waited 60 s, 7 poll(s), 90 s left before the deadline",
        "waited 120 s, 13 poll(s), 30 s left before the deadline",
    ]
    # The later wait's first poll is the shared poll's next tick (+30): its minute starts there.
    assert [line.split("; ")[1] for line in late.lines] == [
        "waited 0 s, 1 poll(s), 120 s left before the deadline",
        "waited 60 s, 7 poll(s), 60 s left before the deadline",
    ]


# -- leaving ----------------------------------------------------------------------------------------


def test_a_cancelled_wait_leaves_the_others_polling_and_the_last_one_ends_the_poll(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(10_000.0))

    async def main() -> tuple[bool, int]:
        leaving = asyncio.ensure_future(wait_shared("k", resource, wait(), Lines()))
        staying = asyncio.ensure_future(wait_shared("k", resource, wait(), Lines()))
        await asyncio.sleep(15)
        leaving.cancel()
        await asyncio.sleep(20)  # +35: the other still polls, at +20 and +30
        reads_with_one = len(resource.reads)
        staying.cancel()
        await asyncio.gather(leaving, staying, return_exceptions=True)
        await asyncio.sleep(100)
        return leaving.cancelled(), reads_with_one

    cancelled, reads_with_one = run_virtual(clock, main())
    assert cancelled
    assert reads_with_one == 4
    assert resource.reads == [0.0, 10.0, 20.0, 30.0]  # nothing after the last wait left


def test_nothing_shared_outlives_its_event_loop(clock: VirtualClock) -> None:
    old = Resource(clock, finishes_at(10_000.0))

    async def first_loop() -> None:
        pending = asyncio.ensure_future(wait_shared("k", old, wait(), Lines()))
        await asyncio.sleep(15)
        assert not pending.done()  # still waiting when the loop ends

    run_virtual(clock, first_loop())
    new = Resource(clock, finishes_at(0.0))
    # The same key in a new loop starts its own poll at once (the old loop's poll is gone with it).
    outcome = run_virtual(clock, wait_shared("k", new, wait(), Lines()))
    assert (outcome.status, outcome.polls) == ("done", 1)
    assert (old.reads, new.reads) == ([0.0, 10.0], [15.0])


def test_a_bug_in_the_read_reaches_every_wait_and_ends_the_poll(clock: VirtualClock) -> None:
    resource = Resource(clock, lambda now: ValueError("a bug, not an API error"))

    async def main() -> list[Any]:
        found = await asyncio.gather(
            wait_shared("k", resource, wait(), Lines()),
            wait_shared("k", resource, wait(), Lines()),
            return_exceptions=True,
        )
        await asyncio.sleep(100)  # the poll ended: no read after the bug
        return found

    found = run_virtual(clock, main())
    assert [type(f) for f in found] == [ValueError, ValueError]
    assert resource.reads == [0.0]


# -- through the triggers: the HTTP core under a shared poll ------------------------------------------

BASE = "https://gcore.test"
TASK_PATH = f"/cloud/v1/tasks/{TASK_ID}"


def connect(
    monkeypatch: pytest.MonkeyPatch, conn_id: str, host: str = BASE, key: str = "gcore-key-1", **extra: Any
) -> None:
    conn = {"conn_type": "gcore", "host": host, "password": key, "extra": {"max_retries": 0, **extra}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def sent_at(api: FakeApi, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str, str, str]]:
    """Every request the async transport sent: virtual second, host, key and path."""
    times: list[tuple[float, str, str, str]] = []
    inner = aio.AsyncTransport.send

    async def send(self: aio.AsyncTransport, request: Request) -> Outcome:
        times.append((clock.now - START, request.url.split("/")[2], request.headers["Authorization"], request.path))
        return await inner(self, request)

    monkeypatch.setattr(aio.AsyncTransport, "send", send)
    return times


def task_body(state: str, task_id: str = TASK_ID) -> dict[str, Any]:
    return task(state, task_id).to_xcom()


def trigger(conn_id: str = "gcore_a", task_id: str = TASK_ID, **kwargs: Any) -> GcoreTaskTrigger:
    kwargs.setdefault("deadline", START + 600)
    return GcoreTaskTrigger(gcore_task_id=task_id, gcore_conn_id=conn_id, **kwargs)


def run_triggers(clock: VirtualClock, *triggers: GcoreTaskTrigger) -> list[dict[str, Any]]:
    async def one(t: GcoreTaskTrigger) -> dict[str, Any]:
        [event] = [e.payload async for e in t.run()]
        return json.loads(json.dumps(event))

    async def main() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(one(t) for t in triggers)))

    return run_virtual(clock, main())


def test_a_429_is_waited_out_once_for_every_wait_on_the_key(
    clock: VirtualClock, api: FakeApi, sent_at: list[tuple[float, str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, "gcore_a", max_retries=2)
    api.on("GET", TASK_PATH, Reply(429, {"message": "slow down"}, {"Retry-After": "5"}), ok(task_body("RUNNING")))
    api.on("GET", TASK_PATH, ok(task_body("FINISHED")))
    events = run_triggers(clock, trigger(), trigger(), trigger())
    # Retry-After 5 plus the core's jitter (0.5 x 0.5 s): nothing is sent on the key for 5 s.
    assert [at for at, *_ in sent_at] == [0.0, 5.25, 15.25]
    assert [(e["status"], e["value"]["state"], e["polls"]) for e in events] == [("done", "FINISHED", 2)] * 3


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_ends_every_wait_on_the_key_with_the_same_error(
    clock: VirtualClock, api: FakeApi, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    connect(monkeypatch, "gcore_a", max_retries=4)
    api.on("GET", TASK_PATH, Reply(status, {"exception_class": "Error", "message": "Invalid <APIKey> token"}))
    api.on("GET", TASK_PATH, ok(task_body("FINISHED")))
    events = run_triggers(clock, trigger(), trigger(max_consecutive_errors=9), trigger())
    assert len(api.sent("GET", TASK_PATH)) == 1
    assert [e["status"] for e in events] == ["error"] * 3
    errors = [e["error"] for e in events]
    assert errors[0]["type"] == "AuthenticationError"
    assert errors[0]["fields"]["status"] == status
    assert errors[0]["message"].startswith(f"Gcore Cloud GET {TASK_PATH} failed: HTTP {status}")
    assert errors[1] == errors[0] == errors[2]
    assert clock.now == START


def test_a_dropped_connection_costs_one_poll_not_the_waits(
    clock: VirtualClock, api: FakeApi, sent_at: list[tuple[float, str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, "gcore_a")
    api.on("GET", TASK_PATH, failure(), ok(task_body("RUNNING")), ok(task_body("FINISHED")))
    events = run_triggers(clock, trigger(), trigger(max_consecutive_errors=1))
    assert [at for at, *_ in sent_at] == [0.0, 10.0, 20.0]
    assert [(e["status"], e["polls"]) for e in events] == [("done", 3), ("done", 3)]


def test_a_dropped_connection_retried_inside_the_core_is_not_a_failed_poll(
    clock: VirtualClock, api: FakeApi, sent_at: list[tuple[float, str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, "gcore_a", max_retries=1)
    api.on("GET", TASK_PATH, failure(), ok(task_body("RUNNING")), ok(task_body("FINISHED")))
    events = run_triggers(clock, trigger(max_consecutive_errors=0), trigger(max_consecutive_errors=0))
    # The retry comes after the core's back-off (0.5 + 0.5 x 0.5 s); the grid starts at that answer.
    assert [at for at, *_ in sent_at] == [0.0, 0.75, 10.75]
    assert [(e["status"], e["polls"]) for e in events] == [("done", 2), ("done", 2)]


def test_waits_share_a_poll_only_on_the_same_base_url_key_and_path(
    clock: VirtualClock, api: FakeApi, sent_at: list[tuple[float, str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, "gcore_a")
    connect(monkeypatch, "gcore_a_again")  # another connection id, same base URL and key: the same poll
    connect(monkeypatch, "gcore_other_key", key="gcore-key-2")
    connect(monkeypatch, "gcore_other_url", host="https://gcore-eu.test")
    other_path = f"/cloud/v1/tasks/{OTHER_TASK_ID}"

    def state(task_id: str) -> Callable[[Request], Reply]:
        return lambda request: ok(task_body("FINISHED" if clock.now >= START + 10 else "RUNNING", task_id))

    api.on("GET", TASK_PATH, state(TASK_ID))
    api.on("GET", other_path, state(OTHER_TASK_ID))
    triggers = [
        trigger("gcore_a"),
        trigger("gcore_a_again"),
        trigger("gcore_other_key"),
        trigger("gcore_other_url"),
        trigger("gcore_a", task_id=OTHER_TASK_ID),
    ]
    events = run_triggers(clock, *triggers)
    assert [(e["status"], e["polls"]) for e in events] == [("done", 2)] * 5
    polls: dict[tuple[str, str, str], list[float]] = {}
    for at, host, key, path in sent_at:
        polls.setdefault((host, key, path), []).append(at)
    assert polls == {
        ("gcore.test", "APIKey gcore-key-1", TASK_PATH): [0.0, 10.0],  # gcore_a and gcore_a_again
        ("gcore.test", "APIKey gcore-key-2", TASK_PATH): [0.0, 10.0],
        ("gcore-eu.test", "APIKey gcore-key-1", TASK_PATH): [0.0, 10.0],
        ("gcore.test", "APIKey gcore-key-1", other_path): [0.0, 10.0],
    }


def test_a_hundred_project_triggers_cost_one_request_per_interval(
    clock: VirtualClock, api: FakeApi, sent_at: list[tuple[float, str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, "gcore_a")
    project_path = "/cloud/v1/projects/42"
    locked = {**GCORE_PROJECT, "task_id": TASK_ID}
    api.on("GET", project_path, lambda request: ok(locked if clock.now < START + 35 else GCORE_PROJECT))
    api.on("GET", TASK_PATH, ok(task_body("FINISHED")))
    triggers = [
        GcoreProjectUnlockedTrigger(project_id=42, deadline=START + 600, gcore_conn_id="gcore_a") for _ in range(100)
    ]

    async def one(t: GcoreProjectUnlockedTrigger) -> dict[str, Any]:
        [event] = [e.payload async for e in t.run()]
        return event

    async def main() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(one(t) for t in triggers)))

    events = run_virtual(clock, main())
    # The project every 10 s; its lock holder (a lock of under a minute) once, when it cleared.
    assert [(at, path) for at, _, _, path in sent_at] == [
        (0.0, project_path),
        (10.0, project_path),
        (20.0, project_path),
        (30.0, project_path),
        (40.0, project_path),
        (40.0, TASK_PATH),
    ]
    assert {(e["status"], e["polls"], e["value"]["holder"]["state"]) for e in events} == {("done", 5, "FINISHED")}


def test_trigger_polls_keep_a_fixed_rate_when_answers_take_time(
    clock: VirtualClock, api: FakeApi, sent_at: list[tuple[float, str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(monkeypatch, "gcore_a")
    timed = aio.AsyncTransport.send

    async def slow(self: aio.AsyncTransport, request: Request) -> Outcome:
        outcome = await timed(self, request)
        await asyncio.sleep(3.0)  # the answer takes 3 s of virtual time
        return outcome

    monkeypatch.setattr(aio.AsyncTransport, "send", slow)
    api.on("GET", TASK_PATH, lambda request: ok(task_body("FINISHED" if clock.now >= START + 30 else "RUNNING")))
    [event] = run_triggers(clock, trigger())
    # First answer at +3: the grid is +13, +23, +33 (not +16, +29 as pausing after each answer would).
    assert [at for at, *_ in sent_at] == [0.0, 13.0, 23.0, 33.0]
    assert (event["status"], event["polls"], event["waited"]) == ("done", 4, 33.0)


# -- the poll's own workings ----------------------------------------------------------------------


def test_a_poll_that_ended_leaves_its_key_to_the_next_wait_in_the_same_loop(clock: VirtualClock) -> None:
    first, second = Resource(clock, finishes_at(0.0)), Resource(clock, finishes_at(25.0))

    async def main() -> WaitOutcome[GcoreTask]:
        await wait_shared("k", first, wait(), Lines())  # done at once: its poll ends
        await asyncio.sleep(5)
        return await wait_shared("k", second, wait(), Lines())  # a poll of its own, at once

    outcome = run_virtual(clock, main())
    assert (first.reads, second.reads) == ([0.0], [5.0, 15.0, 25.0])
    assert (outcome.status, outcome.polls) == ("done", 3)


def test_a_polls_task_says_what_it_polls(clock: VirtualClock) -> None:
    """For asyncio's debug output and a stack dump of a busy triggerer."""
    resource = Resource(clock, finishes_at(10.0))

    async def main() -> set[str]:
        waiting = asyncio.ensure_future(wait_shared("project 2", resource, wait(), Lines()))
        await asyncio.sleep(1)
        names = {task.get_name() for task in asyncio.all_tasks()}
        await waiting
        return names

    assert "poll 'project 2'" in run_virtual(clock, main())


@dataclass
class Subjects:
    """A source that answers for exactly the subjects it is asked about, after ``latency``."""

    clock: VirtualClock
    latency: float = 0.0
    asked: list[set[str]] = field(default_factory=list)

    async def read(self, subjects: Any) -> dict[str, Any]:
        self.asked.append(set(subjects))
        await asyncio.sleep(self.latency)
        return {s: task("FINISHED" if self.clock.now - START >= 20 else "RUNNING") for s in subjects}


async def on_subject(key: str, source: Subjects, subject: str, **options: Any) -> WaitOutcome[GcoreTask]:
    listener: WaitListener[GcoreTask] = WaitListener(wait(**options), subject, Lines())
    async with joined(key, lambda: source, listener):
        return await listener.done


def test_a_source_is_asked_for_its_listeners_subjects_and_each_hears_its_own(clock: VirtualClock) -> None:
    source = Subjects(clock, latency=1.0)

    async def main() -> list[WaitOutcome[GcoreTask]]:
        first = [asyncio.ensure_future(on_subject("k", source, s)) for s in ("a", "b")]
        await asyncio.sleep(0.5)  # the first read (for a and b) is in flight until +1
        late = asyncio.ensure_future(on_subject("k", source, "c"))
        return list(await asyncio.gather(*first, late))

    a, b, c = run_virtual(clock, main())
    assert source.asked == [{"a", "b"}, {"a", "b", "c"}, {"a", "b", "c"}]  # c from the read after it joined
    assert [(o.status, o.polls) for o in (a, b, c)] == [("done", 3), ("done", 3), ("done", 2)]


def test_a_listener_that_left_during_a_read_hears_nothing_and_the_others_hear_it(clock: VirtualClock) -> None:
    source = Subjects(clock, latency=1.0)

    async def main() -> tuple[bool, WaitOutcome[GcoreTask]]:
        leaving = asyncio.ensure_future(on_subject("k", source, "a"))
        staying = asyncio.ensure_future(on_subject("k", source, "b"))
        await asyncio.sleep(0.5)  # the first read is in flight
        leaving.cancel()
        await asyncio.gather(leaving, return_exceptions=True)
        return leaving.cancelled(), await staying

    cancelled, staying = run_virtual(clock, main())
    assert cancelled
    assert (staying.status, staying.polls) == ("done", 3)  # it heard the read the other left during


def test_a_poll_may_wait_before_its_first_read(clock: VirtualClock) -> None:
    from airflow_provider_projects.polling.driver import Poll

    resource = Resource(clock, finishes_at(0.0))

    async def main() -> WaitOutcome[GcoreTask]:
        registry: dict[Any, Poll] = {}
        listener = WaitListener(wait(), SUBJECT, Lines())
        poll = Poll("k", SourceOf(resource), registry, first_read_at=START + 7)
        poll.attach(listener)
        try:
            return await listener.done
        finally:
            poll.detach(listener)

    assert run_virtual(clock, main()).status == "done"
    assert resource.reads == [7.0]


def test_a_listener_joining_before_the_first_read_with_an_earlier_deadline_is_polled_then(
    clock: VirtualClock,
) -> None:
    from airflow_provider_projects.polling.driver import Poll

    resource = Resource(clock, finishes_at(10_000.0))

    async def main() -> tuple[WaitOutcome[GcoreTask], WaitOutcome[GcoreTask]]:
        registry: dict[Any, Poll] = {}
        patient = WaitListener(wait(), SUBJECT, Lines())
        hurried = WaitListener(wait(deadline=3.0), SUBJECT, Lines())
        poll = Poll("k", SourceOf(resource), registry, first_read_at=START + 7)
        poll.attach(patient)
        await asyncio.sleep(1)
        poll.attach(hurried)  # while the poll waits for its first read
        try:
            return await hurried.done, patient.done.result() if patient.done.done() else WaitOutcome("timeout")
        finally:
            poll.detach(hurried)
            poll.detach(patient)

    hurried, _ = run_virtual(clock, main())
    assert (hurried.status, hurried.polls) == ("timeout", 1)
    assert resource.reads == [3.0]  # at its deadline, before the planned first read


def test_waits_joining_a_sleeping_poll_with_nothing_sooner_do_not_wake_it(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(25.0))

    async def main() -> None:
        first = asyncio.ensure_future(wait_shared("k", resource, wait(), Lines()))
        await asyncio.sleep(1)
        others = [asyncio.ensure_future(wait_shared("k", resource, wait(), Lines())) for _ in range(50)]
        await asyncio.gather(first, *others)

    run_virtual(clock, main())
    assert resource.reads == [0.0, 10.0, 20.0, 30.0]
    # One sleep per tick: fifty joins with the same interval and later deadlines did not each wake
    # the poll to plan again (each wake would be another, shorter sleep).
    assert clock.sleeps == [10.0, 10.0, 10.0]


def test_each_join_that_needs_a_sooner_poll_wakes_the_poll(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(10_000.0))

    async def main() -> list[WaitOutcome[GcoreTask]]:
        first = asyncio.ensure_future(wait_shared("k", resource, wait(deadline=100.0), Lines()))
        await asyncio.sleep(1)
        second = asyncio.ensure_future(wait_shared("k", resource, wait(deadline=4.0), Lines()))
        await asyncio.sleep(5)  # +6: the second has ended at its deadline (+4)
        third = asyncio.ensure_future(wait_shared("k", resource, wait(deadline=8.0), Lines()))
        ended = list(await asyncio.gather(second, third))
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        return ended

    second, third = run_virtual(clock, main())
    assert resource.reads[:3] == [0.0, 4.0, 8.0]  # each late joiner polled at its own deadline
    assert (second.status, third.status) == ("timeout", "timeout")


def test_a_join_while_a_read_is_in_flight_does_not_cut_the_read(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(15.0), latency=2.0)

    async def main() -> list[WaitOutcome[GcoreTask]]:
        first = asyncio.ensure_future(wait_shared("k", resource, wait(), Lines()))
        await asyncio.sleep(1)  # the first read is in flight until +2
        second = asyncio.ensure_future(wait_shared("k", resource, wait(deadline=5.0), Lines()))
        return list(await asyncio.gather(first, second))

    first, second = run_virtual(clock, main())
    # +5: the joiner's deadline; the grid from the first answer (+2) goes on: +12, +22 (done at +24).
    assert resource.reads == [0.0, 5.0, 12.0, 22.0]
    assert (first.status, second.status) == ("done", "timeout")


def test_a_read_as_long_as_the_interval_is_followed_by_the_next_tick_at_once(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(35.0), latency=10.0)
    outcome = run_virtual(clock, wait_shared("k", resource, wait(), Lines()))
    # The grid starts at the first answer (+10): a read at +20 answers at +30, the very tick due
    # then, which is polled at once, not skipped to +40.
    assert resource.reads == [0.0, 20.0, 30.0]
    assert outcome.status == "done"
    assert 0.0 not in clock.sleeps  # a poll due now does not sleep at all


def test_sub_second_intervals_keep_their_rate(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(2.0))
    outcome = run_virtual(clock, wait_shared("k", resource, wait(interval=0.5), Lines()))
    assert resource.reads == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert (outcome.status, outcome.polls) == ("done", 5)


def test_a_wait_whose_deadline_has_passed_is_polled_once_then_times_out(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(10_000.0))

    async def main() -> WaitOutcome[GcoreTask]:
        await asyncio.sleep(5)
        return await wait_shared("k", resource, wait(deadline=2.0), Lines())

    outcome = run_virtual(clock, main())
    assert resource.reads == [5.0]
    assert (outcome.status, outcome.polls) == ("timeout", 1)


def test_a_poll_cancelled_for_real_while_a_join_wakes_it_ends(clock: VirtualClock) -> None:
    """The loop closing (or the last wait leaving) at the instant a join wakes the poll must end it."""
    from airflow_provider_projects.polling.driver import Poll

    resource = Resource(clock, finishes_at(10_000.0))

    async def main() -> bool:
        registry: dict[Any, Poll] = {}
        patient = WaitListener(wait(), SUBJECT, Lines())
        poll = Poll("k", SourceOf(resource), registry)
        poll.attach(patient)
        await asyncio.sleep(1)  # read at +0; sleeping until +10
        poll.attach(WaitListener(wait(deadline=3.0), SUBJECT, Lines()))  # wakes it...
        poll._task.cancel()  # ...and the loop cancels it in the same instant
        await asyncio.sleep(30)
        return poll._task.cancelled()

    assert run_virtual(clock, main()) is True
    assert resource.reads == [0.0]  # no read after the real cancel


def test_listeners_joining_before_the_first_read_with_nothing_sooner_do_not_wake_the_poll(
    clock: VirtualClock,
) -> None:
    from airflow_provider_projects.polling.driver import Poll

    resource = Resource(clock, finishes_at(0.0))

    async def main() -> None:
        registry: dict[Any, Poll] = {}
        listeners = [WaitListener(wait(), SUBJECT, Lines()) for _ in range(3)]
        poll = Poll("k", SourceOf(resource), registry, first_read_at=START + 7)
        poll.attach(listeners[0])
        await asyncio.sleep(1)
        for listener in listeners[1:]:  # same interval, later deadlines: nothing to bring forward
            poll.attach(listener)
        await asyncio.gather(*(listener.done for listener in listeners))
        for listener in listeners:
            poll.detach(listener)

    run_virtual(clock, main())
    assert resource.reads == [7.0]
    assert clock.sleeps == [7.0]  # one sleep, never cut short to plan again


def test_a_listener_whose_deadline_is_the_planned_wake_does_not_wake_the_poll(clock: VirtualClock) -> None:
    resource = Resource(clock, finishes_at(10_000.0))

    async def main() -> WaitOutcome[GcoreTask]:
        first = asyncio.ensure_future(wait_shared("k", resource, wait(deadline=25.0), Lines()))
        await asyncio.sleep(1)  # the poll sleeps until its next tick, +10
        second = await wait_shared("k", resource, wait(deadline=10.0), Lines())
        await first
        return second

    second = run_virtual(clock, main())
    assert (second.status, second.polls) == ("timeout", 1)  # polled at +10, its deadline and the tick
    assert resource.reads == [0.0, 10.0, 20.0, 25.0]
    assert clock.sleeps == [10.0, 10.0, 5.0]  # no extra sleep: the join woke nothing
