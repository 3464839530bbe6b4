"""The two kinds of listener on a poll (``polling/listeners.py``): a wait and a watch."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakes import START, VirtualClock, run_virtual

from airflow_provider_projects.errors import ServerError
from airflow_provider_projects.models.gcore import GcoreTask
from airflow_provider_projects.polling.listeners import WaitListener, WatchListener
from airflow_provider_projects.waiting import PollTolerance, Wait, WaitOutcome

TASK_ID = "7244e161-664c-4afd-a34e-7003eac4d949"


def task(state: str) -> GcoreTask:
    return GcoreTask(id=TASK_ID, user_id=1, task_type="update_project", state=state, created_on=None)


@dataclass
class Lines:
    lines: list[str] = field(default_factory=list)

    def info(self, message: str, *args: Any) -> None:
        self.lines.append(message % args)


def a_wait(deadline: float = 100.0) -> Wait[GcoreTask]:
    return Wait(
        what="a task",
        is_done=lambda t: t.finished,
        deadline=START + deadline,
        poll_interval=10.0,
        tolerance=PollTolerance(1),
    )


def test_a_wait_listener_goes_on_until_its_wait_is_over_then_leaves(clock: VirtualClock) -> None:
    async def main() -> tuple[list[bool], WaitOutcome[GcoreTask]]:
        listener = WaitListener(a_wait(), TASK_ID, Lines())
        heard = [listener.hear(task("RUNNING"), START), listener.hear(task("FINISHED"), START + 10)]
        return heard, await listener.done

    heard, outcome = run_virtual(clock, main())
    assert heard == [False, True]
    assert (outcome.status, outcome.polls, outcome.waited) == ("done", 2, 10.0)


def test_a_wait_listener_says_its_interval_and_deadline_and_logs_progress(clock: VirtualClock) -> None:
    async def main() -> tuple[float, float, list[str]]:
        lines = Lines()
        listener = WaitListener(a_wait(deadline=50.0), TASK_ID, lines)
        listener.hear(task("RUNNING"), START)
        return listener.poll_interval, listener.deadline, lines.lines

    interval, deadline, lines = run_virtual(clock, main())
    assert (interval, deadline) == (10.0, START + 50.0)
    assert lines == [
        f"Waiting for a task: {task('RUNNING').summary()}; waited 0 s, 1 poll(s), 50 s left before the deadline"
    ]


def test_a_failed_poll_reaches_the_wait_as_its_error_and_a_second_outcome_is_ignored(clock: VirtualClock) -> None:
    async def main() -> Any:
        listener = WaitListener(a_wait(), TASK_ID, Lines())
        listener.fail(ValueError("a bug"))
        listener.fail(ValueError("another"))  # the first one stands
        return await listener.done

    with pytest.raises(ValueError, match="a bug"):
        run_virtual(clock, main())


@dataclass
class Watch:
    """Tells the trigger about every second outcome; wants polls every ``poll_interval``."""

    poll_interval: float = 10.0
    seen: int = 0

    def observe(self, outcome: Any) -> Any | None:
        self.seen += 1
        return outcome if self.seen % 2 == 0 else None


def test_a_watch_listener_never_leaves_and_queues_what_its_watch_tells(clock: VirtualClock) -> None:
    async def main() -> tuple[list[bool], list[Any]]:
        listener = WatchListener(Watch(), 2)
        heard = [listener.hear(n, START + n) for n in range(1, 5)]
        return heard, [await listener.next_notice(), await listener.next_notice()]

    heard, notices = run_virtual(clock, main())
    assert heard == [False] * 4
    assert notices == [2, 4]
    assert WatchListener(Watch(poll_interval=40.0), 2).deadline == math.inf


def test_a_watch_listener_follows_its_watchs_interval() -> None:
    watch = Watch()
    listener = WatchListener(watch, 2)
    watch.poll_interval = 80.0  # backing off
    assert listener.poll_interval == 80.0


def test_a_failed_poll_reaches_the_watch_when_it_asks_for_its_next_notice(clock: VirtualClock) -> None:
    async def main() -> Any:
        listener = WatchListener(Watch(), 2)
        listener.fail(ServerError("a bug in the poll"))
        return await listener.next_notice()

    with pytest.raises(ServerError, match="a bug in the poll"):
        run_virtual(clock, main())


def test_a_watch_listener_waits_for_a_notice(clock: VirtualClock) -> None:
    async def main() -> Any:
        listener = WatchListener(Watch(), 2)
        waiting = asyncio.ensure_future(listener.next_notice())
        await asyncio.sleep(5)
        assert not waiting.done()
        listener.hear("a", START)
        listener.hear("b", START)
        return await waiting

    assert run_virtual(clock, main()) == "b"


def test_each_listener_names_the_subject_it_listens_for(clock: VirtualClock) -> None:
    """The poll hands each listener the outcome of its own subject (a task id, a project id)."""

    async def main() -> tuple[object, object]:
        return WaitListener(a_wait(), TASK_ID, Lines()).subject, WatchListener(Watch(), 2).subject

    assert run_virtual(clock, main()) == (TASK_ID, 2)
