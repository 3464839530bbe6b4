"""No trigger blocks the triggerer's event loop: 100 asset watches and 100 waits start in one loop.

A triggerer runs every trigger in one event loop; anything blocking in a trigger (a connection
read, a state-store read, a TLS context made per start) stalls every other wait meanwhile, and
Airflow logs "Triggerer's async thread was blocked". Here the triggers run over real HTTP against
the emulator on 127.0.0.1, in a process of its own (in this one, its server threads would take
the interpreter lock from the loop being measured), in a real event loop, beside a watchdog that
does what the triggerer's own does: it sleeps 10 ms at a time and records how late it woke.

A late wake-up has two causes: the loop was busy (a trigger ran without yielding: what this test
is about), or the operating system gave the core to another process (a busy CI machine). The
loop thread's own CPU time tells them apart: only the time it spent running counts as a stall.
The bound (0.1 s) is the one the issue sets; a blocking call per trigger start costs hundreds of
milliseconds, a whole poll of a thousand projects a few. Blocking I/O in the loop (a connection or
state-store read through a sync API) is ruled out where it would happen: the unit tests check that
the triggers read both through the async APIs (tests/unit/triggers).
"""

from __future__ import annotations

import asyncio
import gc
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger
from airflow_provider_projects.triggers.gcore_events import GcoreProjectUnlockedEventTrigger
from projects_emulator.control_client import ControlClient

pytestmark = pytest.mark.integration

WATCHES = 100
WAITS = 100
MAX_STALL = 0.1
#: Every lock clears after this; every wait and watch then has its one event.
LOCK_SECONDS = 2.0
#: A bound on the whole run, far above what it needs (about 4 s): a regression fails, never hangs.
RUN_LIMIT = 60.0


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[ControlClient]:
    """``projects-emulator serve`` in a child process; its printed exports set here."""
    child = subprocess.Popen(
        [sys.executable, "-m", "projects_emulator", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:  # the banner ends with "# Serving ..."
            if line.startswith("export "):
                name, _, value = shlex.split(line.removeprefix("export "))[0].partition("=")
                monkeypatch.setenv(name, value)
            if line.startswith("# Serving"):
                break
        yield ControlClient(os.environ["PROJECTS_EMULATOR_URL"])
    finally:
        child.terminate()
        child.communicate(timeout=20)


class AsyncAssetStore:
    """What the triggerer gives a watcher of one asset (3.3+): async reads and writes, here in memory."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        await asyncio.sleep(0)
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        await asyncio.sleep(0)
        self.values[key] = value

    async def adelete(self, key: str) -> None:
        await asyncio.sleep(0)
        self.values.pop(key, None)


async def watchdog(stalls: list[float], stop: asyncio.Event) -> None:
    """How long the loop ran other work while a coroutine that asked to sleep 10 ms waited, over and over.

    Each entry is the lateness of one wake-up, counted in the loop thread's CPU time: the time the
    loop kept the thread busy beyond the 10 ms, not the time another process held the core.
    """
    while not stop.is_set():
        asked, busy = time.perf_counter(), time.thread_time()
        await asyncio.sleep(0.01)
        late = time.perf_counter() - asked - 0.01
        stalls.append(min(late, time.thread_time() - busy))


async def run_until_every_event(triggers: list[Any]) -> tuple[list[float], int]:
    """Run the triggers beside the watchdog until each has fired once (or the limit); stalls and events."""
    stalls: list[float] = []
    stop = asyncio.Event()
    guard = asyncio.ensure_future(watchdog(stalls, stop))
    fired = asyncio.Event()
    events = 0

    async def drive(trigger: Any) -> None:
        nonlocal events
        async for _ in trigger.run():
            events += 1
            if events == len(triggers):
                fired.set()

    running = [asyncio.ensure_future(drive(t)) for t in triggers]
    try:
        await asyncio.wait_for(fired.wait(), RUN_LIMIT)
    finally:
        stop.set()
        for task in running:
            task.cancel()
        await asyncio.gather(guard, *running, return_exceptions=True)
    return stalls, events


def test_a_hundred_watches_and_a_hundred_waits_never_stall_the_loop(served: ControlClient) -> None:
    project_ids = served.call("POST", "/gcore/projects", {"count": WATCHES + WAITS, "name_prefix": "stall"})[
        "project_ids"
    ]
    served.call("POST", "/locks", {"project_ids": project_ids, "seconds": LOCK_SECONDS})
    deadline = time.time() + RUN_LIMIT
    triggers: list[Any] = []
    for project_id in project_ids[:WATCHES]:
        watch = GcoreProjectUnlockedEventTrigger(project_id=project_id, poll_interval=1)
        watch.asset_state_store = AsyncAssetStore()  # type: ignore[assignment]
        triggers.append(watch)
    triggers += [
        GcoreProjectUnlockedTrigger(project_id=project_id, deadline=deadline, poll_interval=1)
        for project_id in project_ids[WATCHES:]
    ]

    # A full collection of this process's heap (Airflow and pytest loaded) pauses every thread for
    # 0.1-0.2 s: the interpreter's cost, not a trigger's, so the heap built so far is set aside.
    gc.collect()
    gc.freeze()
    try:
        stalls, events = asyncio.run(run_until_every_event(triggers))
    finally:
        gc.unfreeze()

    # The locks cleared after 2 s: every wait ended and every watch fired, once.
    assert events == WATCHES + WAITS
    assert len(stalls) > LOCK_SECONDS / 0.05  # the watchdog ran all along
    assert max(stalls) <= MAX_STALL, f"the loop stalled {max(stalls):.3f} s"
