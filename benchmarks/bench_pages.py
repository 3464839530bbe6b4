"""Section 5: the vendors' budget of lock waits, issue 20's figures: waits served from list pages.

Each row is a child process (``python bench_pages.py --child ...``) with its own ``fastserver.py``
process whose account holds ``size`` projects, so the list's ``count`` is what it would be on
Gcore. Waits (``GcoreProjectUnlockedTrigger``, as the sensors and the replace operator defer them)
start evenly over one interval in one event loop; a steady window counts every request that
reaches the server, by kind, and the client's CPU; then every lock is released at one instant
(stamped by the server with CLOCK_MONOTONIC) and each wait's event is timed against it.

Rows (the issue's table):

* 1,000 waits on distinct projects of a 1,000-project account, 1 s: <= 2 requests/s; the slowest
  event within one interval of its release;
* 10,000 waits on a 10,000-project account, 10 s: <= 1.5 requests/s; client CPU per wait per
  interval <= 0.1x that of the per-project poll it replaces (the same 10,000 waits in an account
  too long to page, measured beside it);
* 3 waits in a 5,000-project account, 1 s: 3 requests/s, no page read;
* 300 deferred replaces on distinct projects, 1 s: <= 2 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from typing import Any, Final

from bench_waits import (
    DEADLINE_S,
    LAG_S,
    ON_TIME,
    RAMP_S,
    Child,
    RssHigh,
    _cancel,
    _first_event,
    _freeze,
    _off_loop,
    _rss,
    _server,
    _spread,
)
from common import heading, median, quantile, table, verdict
from fastserver import DEFAULT_ACCOUNT, lock_task_id

WINDOW_S: Final = 5.0
#: (row, waits, account size, poll interval, window, budget s). The waits are on projects 1..N of
#: the account; the warm-up waits on a project past its end (read alone, never locked).
#: The triggers are deferred as the sensor and the operator defer them: the holder is read on the
#: worker when the task resumes, not in the triggerer.
ROWS: Final = [
    ("1000-of-1000", 1000, 1000, 1.0, WINDOW_S, 90.0),
    ("10000-of-10000", 10_000, 10_000, 10.0, 3 * 10.0, 300.0),
    ("10000-by-project", 10_000, DEFAULT_ACCOUNT, 10.0, 10.0, 300.0),
    ("3-of-5000", 3, 5000, 1.0, WINDOW_S, 60.0),
    ("300-replaces", 300, 1000, 1.0, WINDOW_S, 90.0),
]
GOAL_PAGES_1000: Final = 2.0
GOAL_PAGES_10000: Final = 1.5
GOAL_CPU_RATIO: Final = 0.1
GOAL_REPLACES: Final = 2.0


# -- child side -----------------------------------------------------------------------------------


async def _steady(server: Any, paged: bool, waits: int, timeout: float) -> float | None:
    """Seconds until every wait is being served: two page reads, or every project polled once."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        stats = await _off_loop(server.stats)
        if (stats["pages"] >= 2) if paged else (stats["projects_seen"] >= waits + 1):  # + the warm-up's
            return time.monotonic() - began
        await asyncio.sleep(0.1)
    return None


async def _account_child(args: argparse.Namespace) -> dict[str, Any]:
    n, poll = args.n, args.poll
    server = _server()
    try:
        server.account(args.size)

        async def wait(project_id: int) -> dict[str, Any]:
            from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger

            trigger = GcoreProjectUnlockedTrigger(
                project_id=project_id,
                lock_task_id=lock_task_id(project_id),
                read_holder=False,
                deadline=time.time() + DEADLINE_S,
                poll_interval=poll,
            )
            payload: dict[str, Any] = await _first_event(trigger)
            return payload

        await wait(args.size + 1)  # imports, the loop's session, its first connection: once per triggerer
        server.lock(1, n)
        _freeze()
        rss0, rss = _rss(), RssHigh()
        events: list[dict[str, Any] | None] = [None] * n
        ended = [0.0] * n

        async def one(i: int) -> None:
            events[i] = await wait(1 + i)
            ended[i] = time.monotonic()

        tasks = await _spread(n, poll, one)
        paged = args.size < DEFAULT_ACCOUNT and n >= 10
        lag = await _steady(server, paged, n, poll + LAG_S)
        await asyncio.sleep(RAMP_S + (poll if paged else 0.0))
        window = await _counted_window(server, args.window)
        rss_high = rss.stop()
        early = sum(1 for e in events if e is not None)
        before = await _off_loop(server.stats)
        unlocked_at: float = await _off_loop(server.unlock)
        await asyncio.wait(tasks, timeout=2 * poll + 5.0)
        after = await _off_loop(server.stats)
        await _cancel(tasks)
    finally:
        server.close()
    done = [i for i in range(n) if events[i] is not None]
    return {
        **window,
        "lag_s": lag,
        "load": os.getloadavg()[0],
        "kb_per_wait": (rss_high - rss0) / n / 1024,
        "early": early,
        "completed": len(done),
        "statuses": dict(Counter(str((events[i] or {}).get("status")) for i in done)),
        "delays": [round(ended[i] - unlocked_at, 4) for i in done],
        "after_unlock": {k: after[k] - before[k] for k in ("requests", "pages", "projects", "tasks", "counts")},
    }


async def _counted_window(server: Any, seconds: float) -> dict[str, Any]:
    """Requests reaching the server, by kind, and the client's CPU over ``seconds`` of steady waiting."""
    before = await _off_loop(server.stats)
    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = time.process_time(), time.monotonic()
    after = await _off_loop(server.stats)
    span = after["at"] - before["at"]  # the server's own span (see bench_waits._window)
    kinds = {k: after[k] - before[k] for k in ("requests", "pages", "projects", "tasks", "counts")}
    return {"window_s": t1 - t0, "cpu_s": cpu1 - cpu0, "rate": kinds["requests"] / span, "kinds": kinds}


def child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["account"], required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--poll", type=float, required=True)
    parser.add_argument("--window", type=float, default=WINDOW_S)
    args = parser.parse_args()
    from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger  # noqa: F401 - before "go"

    print("@@READY", flush=True)
    sys.stdin.readline()
    result = asyncio.run(_account_child(args))
    print("@@RESULT " + json.dumps(result), flush=True)
    os._exit(0)  # skip Airflow's slow interpreter shutdown


# -- parent side ----------------------------------------------------------------------------------


def _run_rows() -> dict[str, dict[str, Any] | str]:
    """Start every row's child, let each import, then run them one after another; errors become text."""
    children = []
    for name, n, size, poll, window, budget in ROWS:
        argv = ["--child", "account", "--n", str(n), "--size", str(size), "--poll", str(poll)]
        argv += ["--window", str(window)]
        children.append((name, n, poll, Child(name, argv, budget, script="bench_pages.py")))
    results: dict[str, dict[str, Any] | str] = {}
    try:
        began = time.monotonic()
        for *_, child in children:
            child.ready(began + 90.0)
        print(f"  {len(children)} children ready after {time.monotonic() - began:.0f} s; ran:", end="", flush=True)
        for name, n, poll, child in children:
            began = time.monotonic()
            try:
                results[name] = {**child.run(), "n": n, "poll": poll}
            except Exception as exc:  # a child that broke is a finding for its row, not the section's end
                results[name] = f"{type(exc).__name__}: {exc}"
            print(f" {name} {time.monotonic() - began:.0f} s", end="", flush=True)
        print("\n")
    finally:
        for *_, child in children:
            child.kill()
    return results


def _per_wait_interval_cpu(result: dict[str, Any]) -> float:
    """Client CPU per wait per poll interval: the window's CPU over (waits x intervals in it)."""
    return float(result["cpu_s"]) / (result["n"] * result["window_s"] / result["poll"])


def _events(result: dict[str, Any]) -> tuple[bool, str]:
    n, poll, delays = result["n"], result["poll"], result["delays"]
    slowest = max(delays, default=float("inf"))
    ok = result["completed"] == n and result["early"] == 0 and slowest <= poll * ON_TIME
    return ok, f"slowest event {slowest:.2f} s after its unlock ({result['completed']}/{n} events)"


def _detail(results: dict[str, dict[str, Any] | str]) -> None:
    rows: list[list[object]] = []
    for name, n, size, poll, _window, _budget in ROWS:
        result = results.get(name)
        if not isinstance(result, dict):
            rows.append([name, f"could not run: {str(result).splitlines()[0]}"])
            continue
        kinds, delays = result["kinds"], result["delays"]
        spread = f"{median(delays):.2f} / {quantile(delays, 0.99):.2f} / {max(delays):.2f}" if delays else "-"
        rows.append(
            [
                f"{n:,} waits, account {size:,}, {poll:g} s",
                f"{result['rate']:.2f}",
                f"{kinds['pages']} / {kinds['projects']} / {kinds['tasks']} / {kinds['counts']}",
                f"{_per_wait_interval_cpu(result) * 1e6:.1f}",
                f"{result['kb_per_wait']:.1f}",
                f"{result['completed']}/{n}",
                spread,
                "{requests} ({tasks} holder reads)".format(**result["after_unlock"]),
                f"{result['load']:.1f}",
            ]
        )
    header = ["waits", "requests/s", "pages / GETs / tasks / counts", "CPU us/wait/interval", "RSS KB/wait"]
    table([*header, "events", "unlock->event s: median / p99 / max", "requests after unlock", "load"], rows)
    print()


def run() -> dict[str, Any]:
    heading("5. The vendors' budget: lock waits served from the projects list (each row its own processes)")
    results = _run_rows()
    _detail(results)
    figures: list[list[object]] = []

    def row(name: str) -> dict[str, Any] | None:
        result = results.get(name)
        return result if isinstance(result, dict) else None

    if (one := row("1000-of-1000")) is not None:
        ok, events = _events(one)
        figures.append(
            [
                "1,000 waits on distinct projects of one 1,000-project account, 1 s",
                f"{one['rate']:.2f} requests/s; {events}",
                f"<= {GOAL_PAGES_1000:g}/s; within one interval (+5%)",
                verdict(ok and one["rate"] <= GOAL_PAGES_1000),
            ]
        )
    big, by_project = row("10000-of-10000"), row("10000-by-project")
    if big is not None and by_project is not None:
        # What one per-project poll costs: the window's CPU over the polls actually sent (a loop that
        # falls behind its 1,000 polls/s sends fewer, and spreading its CPU over every wait would
        # flatter the list).
        per_poll = by_project["cpu_s"] / max(by_project["kinds"]["requests"], 1)
        ratio = _per_wait_interval_cpu(big) / per_poll
        ok, events = _events(big)
        figures.append(
            [
                "10,000 waits on a 10,000-project account, 10 s",
                f"{big['rate']:.2f} requests/s; CPU per wait per interval {ratio:.3f}x the per-project "
                f"poll's; {events}",
                f"<= {GOAL_PAGES_10000:g}/s; <= {GOAL_CPU_RATIO:g}x",
                verdict(ok and big["rate"] <= GOAL_PAGES_10000 and ratio <= GOAL_CPU_RATIO),
            ]
        )
    if (few := row("3-of-5000")) is not None:
        pages = few["kinds"]["pages"]
        figures.append(
            [
                "3 waits in a 5,000-project account, 1 s",
                f"{few['rate']:.2f} requests/s, {pages} page reads",
                "3/s, no page read",
                verdict(abs(few["rate"] - 3.0) <= 3.0 * (ON_TIME - 1) and pages == 0),
            ]
        )
    if (replaces := row("300-replaces")) is not None:
        figures.append(
            [
                "300 deferred replaces on distinct projects, 1 s",
                f"{replaces['rate']:.2f} requests/s",
                f"<= {GOAL_REPLACES:g}/s",
                verdict(replaces["rate"] <= GOAL_REPLACES),
            ]
        )
    print("  Figures of issue 20 (counts and ratios from this run):")
    table(["figure", "measured", "goal", ""], figures)
    return {"figures": figures, "results": results}


if __name__ == "__main__":
    child_main()
