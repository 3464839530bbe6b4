"""Section 3: a thousand lock waits in one event loop, as a triggerer runs them.

Every measurement runs in a fresh child process (``python bench_waits.py --child MODE``) that
starts its own server process, so the numbers hold only the waiting side's memory and CPU:

* ``tasks``: the memory baseline, N bare asyncio tasks each sleeping;
* ``triggers``: N ``GcoreProjectUnlockedTrigger.run()`` on N locked emulator projects, polling
  every ``POLL`` seconds. After a ramp-up, a steady window counts polls (emulator journal), new
  TCP connections and client CPU; then every lock is released at once (``finish_task``) and the
  delay from each unlock to its trigger's event is recorded;
* ``cpu``: the client CPU of one poll, the trigger's read path against a bare httpx GET,
  sequential, in alternating batches (A B B A);
* ``bare`` / ``gated`` (experiments, not in ``run()``): hand-written httpx poll loops with the
  provider's pool limits, without / with an ``asyncio.Semaphore`` gate.

``--server emulator`` is the emulator in its own process (real lock semantics, a
ThreadingHTTPServer); ``--server fast`` is ``fastserver.py`` (asyncio, canned answers, a lock
switch), which separates what the client costs from what the emulator can serve.

Memory comes from tracemalloc in separate runs (it slows every allocation, so CPU and delays
come from runs without it) and from the RSS high-water mark of the runs without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, Protocol

from common import HERE, PYTHON, heading, iqr, median, quantile, table, verdict

N: Final = 1000
POLL: Final = 1.0
RAMP_POLLS: Final = 2.0
WINDOW_POLLS: Final = 3.0
#: After the unlock, how long the waits get to report at most (then the rest count as missing).
SETTLE_S: Final = 8.0
DEADLINE_S: Final = 60.0
CPU_ROUNDS: Final = 8
CPU_BATCH: Final = 100
GOAL_KB: Final = 100.0
POOL: Final = 50
#: A second, lighter load: the demand (LIGHT_N polls per second) stays within what one loop can do here.
LIGHT_N: Final = 200
#: A second 1,000-wait run at half the provider's default poll interval (10 s).
BUSY_POLL: Final = 5.0


class Sampler:
    """Samples RSS and tracemalloc's current size every 50 ms; keeps the highs."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.rss0 = self._process.memory_info().rss
        self.rss_high = self.rss0
        self.traced_high = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.05)

    def sample(self) -> None:
        self.rss_high = max(self.rss_high, self._process.memory_info().rss)
        if tracemalloc.is_tracing():
            self.traced_high = max(self.traced_high, tracemalloc.get_traced_memory()[0])

    def stop(self) -> None:
        self.sample()
        if self._task is not None:
            self._task.cancel()

    def tcp_to(self, port: int) -> int:
        return sum(
            1
            for c in self._process.net_connections(kind="tcp")
            if c.raddr and c.raddr[1] == port and c.status == "ESTABLISHED"
        )


def _start_tracing(enabled: bool) -> int:
    gc.collect()
    if not enabled:
        return 0
    tracemalloc.start()
    tracemalloc.reset_peak()
    return tracemalloc.get_traced_memory()[0]


def _memory(sampler: Sampler, traced0: int, n: int) -> dict[str, float]:
    result = {"rss_per_wait_kb": (sampler.rss_high - sampler.rss0) / n / 1024}
    if tracemalloc.is_tracing():
        peak = max(tracemalloc.get_traced_memory()[1], sampler.traced_high)
        result["traced_peak_per_wait_kb"] = (peak - traced0) / n / 1024
        result["traced_steady_per_wait_kb"] = (sampler.traced_high - traced0) / n / 1024
    return result


async def _tasks_child(n: int, trace: bool) -> dict[str, Any]:
    sampler = Sampler()
    traced0 = _start_tracing(trace)
    sampler.start()
    tasks = [asyncio.create_task(asyncio.sleep(3600)) for _ in range(n)]
    await asyncio.sleep(0.5)
    sampler.stop()
    result = _memory(sampler, traced0, n)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return result


# -- the servers ----------------------------------------------------------------------------------


class LockServer(Protocol):
    """What a wait benchmark needs from a server: locked projects, counters and one unlock."""

    url: str
    key: str
    port: int

    def lock(self, n: int) -> tuple[list[int], list[str]]: ...
    def mark(self) -> None: ...
    def since_mark(self) -> tuple[int, int]:
        """Requests and accepted connections since ``mark()``."""
        ...

    def unlock(self, tasks: list[str]) -> list[float]:
        """Release every lock; the ``time.monotonic()`` of each release."""
        ...

    def close(self) -> None: ...


class EmulatorLocks:
    """The emulator: N new projects, each locked by its own task until ``finish_task``."""

    def __init__(self) -> None:
        from emuctl import EmulatorProcess

        self._emu = EmulatorProcess()
        self.url: str = self._emu.info["gcore_url"]
        self.key: str = self._emu.info["gcore_key"]
        self.port = int(self.url.rsplit(":", 1)[1])
        os.environ.update(self._emu.env)
        self._accepts0 = 0

    def lock(self, n: int) -> tuple[list[int], list[str]]:
        ids: list[int] = self._emu.call("add_projects", count=n)["ids"]
        return ids, self._emu.call("lock", ids=ids)["tasks"]

    def mark(self) -> None:
        self._emu.call("clear")  # the journal keeps 10,000 entries: count from empty
        self._accepts0 = self._emu.call("accepts").get("gcore", 0)

    def since_mark(self) -> tuple[int, int]:
        count = self._emu.call("count", api="gcore")["count"]
        return count, self._emu.call("accepts").get("gcore", 0) - self._accepts0

    def unlock(self, tasks: list[str]) -> list[float]:
        stamps: list[float] = self._emu.call("finish", tasks=tasks)["at"]
        return stamps

    def close(self) -> None:
        self._emu.close()


class FastLocks:
    """``fastserver.py``: projects 1..N locked by one task id until a single unlock."""

    def __init__(self) -> None:
        from fastserver import FastServer

        self._server = FastServer()
        self.url = self._server.url
        self.key = "bench-gcore-key"
        self.port = self._server.port
        os.environ["AIRFLOW_CONN_GCORE_DEFAULT"] = json.dumps(
            {"conn_type": "gcore", "host": self.url, "password": self.key}
        )
        self._stats0: dict[str, int] = {}

    def lock(self, n: int) -> tuple[list[int], list[str]]:
        from fastserver import LOCK_TASK_ID

        self._server.control("POST", f"/__lock/{n}")
        return list(range(2, n + 2)), [LOCK_TASK_ID] * n  # project 1 stays unlocked for the warm-up

    def mark(self) -> None:
        self._stats0 = self._server.stats()

    def since_mark(self) -> tuple[int, int]:
        now = self._server.stats()
        return now["requests"] - self._stats0["requests"], now["accepts"] - self._stats0["accepts"]

    def unlock(self, tasks: list[str]) -> list[float]:
        at = float(self._server.control("POST", "/__unlock")["at"])
        return [at] * len(tasks)

    def close(self) -> None:
        self._server.close()


# -- the waits ------------------------------------------------------------------------------------

Wait = Callable[[int, str], Coroutine[Any, Any, dict[str, Any]]]


def _trigger_waits(poll: float) -> tuple[Wait, Callable[[], Awaitable[object]]]:
    from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger

    async def wait(project_id: int, task_id: str) -> dict[str, Any]:
        trigger = GcoreProjectUnlockedTrigger(
            project_id=project_id, lock_task_id=task_id or None, deadline=time.time() + DEADLINE_S, poll_interval=poll
        )
        async for event in trigger.run():
            payload: dict[str, Any] = event.payload
            return payload
        raise AssertionError("the trigger ended without an event")

    return wait, lambda: wait(1, "")


def _bare_waits(
    poll: float, url: str, key: str, keepalive: int, gated: bool
) -> tuple[Wait, Callable[[], Awaitable[object]]]:
    import httpx

    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=keepalive))
    headers = {"Authorization": f"APIKey {key}", "Accept": "application/json"}
    gate: contextlib.AbstractAsyncContextManager[Any] = asyncio.Semaphore(POOL) if gated else contextlib.nullcontext()

    async def wait(project_id: int, task_id: str) -> dict[str, Any]:
        while True:
            async with gate:
                answer = await client.get(f"{url}/cloud/v1/projects/{project_id}", headers=headers)
            answer.raise_for_status()
            project = answer.json()
            if project["task_id"] is None:
                return {"status": "success", "project": project}
            await asyncio.sleep(poll)

    return wait, lambda: wait(1, "")


async def _off_loop(call: Callable[[], Any]) -> Any:
    """A blocking server control call in a thread, so the waits keep running meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(None, call)


async def _waits_child(args: argparse.Namespace) -> dict[str, Any]:
    kind, n, poll, trace = args.child, args.n, args.poll, args.tracemalloc
    server: LockServer = EmulatorLocks() if args.server == "emulator" else FastLocks()
    try:
        ids, locks = server.lock(n)
        if kind.startswith("triggers"):
            wait, warm = _trigger_waits(poll)
        else:
            gated = kind == "gated" if args.gate is None else args.gate == "on"
            keepalive = (POOL if gated else 20) if args.keepalive is None else args.keepalive
            wait, warm = _bare_waits(poll, server.url, server.key, keepalive, gated)
        await warm()  # imports, the loop's shared client and its first connection: paid once per triggerer

        sampler = Sampler()
        traced0 = _start_tracing(trace)
        sampler.start()
        events: list[dict[str, Any] | None] = [None] * n
        ended = [0.0] * n

        async def one(i: int) -> None:
            events[i] = await wait(ids[i], locks[i])
            ended[i] = time.monotonic()

        started = time.monotonic()
        waits = [asyncio.create_task(one(i)) for i in range(n)]
        await asyncio.sleep(RAMP_POLLS * poll)

        await _off_loop(server.mark)
        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.sleep(WINDOW_POLLS * poll)
        cpu1, t1 = time.process_time(), time.monotonic()
        polls, accepts = await _off_loop(server.since_mark)
        tcp = sampler.tcp_to(server.port)

        await _off_loop(server.mark)
        unlock_began = time.monotonic()
        unlocked: list[float] = await _off_loop(lambda: server.unlock(locks))
        unlock_s = time.monotonic() - unlock_began
        await asyncio.wait(waits, timeout=max(SETTLE_S, 2 * poll))
        after_unlock, _ = await _off_loop(server.since_mark)
        sampler.stop()
        memory = _memory(sampler, traced0, n)
        tracemalloc.stop()
        for task in waits:
            task.cancel()
    finally:
        server.close()

    done = [i for i in range(n) if events[i] is not None]
    return {
        **memory,
        "ramp_s": t0 - started,
        "window_s": t1 - t0,
        "polls": polls,
        "cpu_s": cpu1 - cpu0,
        "accepts_in_window": accepts,
        "tcp_connections": tcp,
        "statuses": dict(Counter(str((events[i] or {}).get("status")) for i in done)),
        "completed": len(done),
        "delays": [ended[i] - unlocked[i] for i in done],
        "requests_after_unlock": after_unlock,
        "unlock_s": unlock_s,
    }


async def _cpu_child(args: argparse.Namespace) -> dict[str, Any]:
    """Client CPU of one poll, the trigger's read path against a bare httpx GET, one after another.

    Concurrency is left out on purpose (the 1000-wait runs show it): here the per-poll work alone
    is compared, sequentially on one keep-alive connection each, against the fast server, in
    batches of ``CPU_BATCH`` polls taking turns A B B A for ``CPU_ROUNDS`` rounds. The trigger's
    poll is ``GcoreHook.aget_project`` (HTTP core, async transport, shared client, pydantic model)
    plus the wait loop's check; the bare one is ``client.get`` + ``json()`` + the same check.
    """
    import httpx

    from airflow_provider_projects.hooks.gcore import GcoreHook

    server = FastLocks()
    try:
        ids, _locks = server.lock(1)
        project_id = ids[0]
        hook = GcoreHook()
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=20))
        url = f"{server.url}/cloud/v1/projects/{project_id}"
        headers = {"Authorization": f"APIKey {server.key}", "Accept": "application/json"}

        async def trigger_poll() -> bool:
            return (await hook.aget_project(project_id)).task_id is None

        async def httpx_poll() -> bool:
            answer = await client.get(url, headers=headers)
            answer.raise_for_status()
            return answer.json()["task_id"] is None

        variants = {"trigger": trigger_poll, "httpx": httpx_poll}
        per_poll: dict[str, list[float]] = {name: [] for name in variants}
        for warm in variants.values():  # warm-up: imports, connections, validators
            for _ in range(CPU_BATCH):
                await warm()
        for _round in range(CPU_ROUNDS):
            for name in ["trigger", "httpx", "httpx", "trigger"]:
                poll = variants[name]
                cpu0 = time.process_time()
                for _ in range(CPU_BATCH):
                    await poll()
                per_poll[name].append((time.process_time() - cpu0) / CPU_BATCH)
        await client.aclose()
    finally:
        server.close()
    return {"per_poll": per_poll}


def child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["tasks", "triggers", "bare", "gated", "cpu"], required=True)
    parser.add_argument("--server", choices=["emulator", "fast"], default="emulator")
    parser.add_argument("--n", type=int, default=N)
    parser.add_argument("--poll", type=float, default=POLL)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--keepalive", type=int, help="bare/gated: max_keepalive_connections (experiments)")
    parser.add_argument("--gate", choices=["on", "off"], help="bare/gated: the asyncio.Semaphore (experiments)")
    args = parser.parse_args()
    if args.child == "tasks":
        result = asyncio.run(_tasks_child(args.n, args.tracemalloc))
    elif args.child == "cpu":
        result = asyncio.run(_cpu_child(args))
    else:
        result = asyncio.run(_waits_child(args))
    print("@@RESULT " + json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip Airflow's slow interpreter shutdown


# -- the parent -----------------------------------------------------------------------------------


def _child(
    mode: str, server: str = "emulator", *, trace: bool = False, n: int = N, poll: float = POLL
) -> dict[str, Any]:
    command = [PYTHON, str(HERE / "bench_waits.py"), "--child", mode, "--server", server]
    command += ["--n", str(n), "--poll", str(poll)]
    if trace:
        command.append("--tracemalloc")
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=180)
    for line in done.stdout.splitlines():
        if line.startswith("@@RESULT "):
            result: dict[str, Any] = json.loads(line[len("@@RESULT ") :])
            result["n"] = n
            result["poll"] = poll
            return result
    raise RuntimeError(f"child {mode}/{server} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def _polling_rows(results: list[tuple[str, dict[str, Any]]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for label, result in results:
        n = result["n"]
        rate = result["polls"] / result["window_s"]
        delays = result["delays"]
        within = sum(1 for d in delays if d <= result["poll"])
        spread = f"{median(delays):.2f} / {quantile(delays, 0.95):.2f} / {max(delays):.2f}" if delays else "-"
        rows.append(
            [
                label,
                f"{rate:.0f}/s",
                f"{n / rate:.2f} s (of {result['poll']:g})" if rate else "-",
                f"{result['cpu_s'] / max(result['polls'], 1) * 1e6:.0f}",
                result["accepts_in_window"],
                result["tcp_connections"],
                f"{result['completed']}/{n}",
                spread,
                f"{within}/{n}",
                result["requests_after_unlock"],
            ]
        )
    return rows


_POLL_HEADER: Final = [
    "waits",
    "poll rate",
    "eff. interval",
    "client CPU us/poll",
    "new conns",
    "open conns",
    "events",
    "unlock->event s: median / p95 / max",
    "<= 1 poll",
    "requests after unlock",
]


def run() -> dict[str, Any]:
    heading(f"3. Waiting: {N} concurrent lock waits in one event loop (poll {POLL:g} s, servers in their own process)")
    tasks_tm = _child("tasks", trace=True)
    tasks_rss = _child("tasks")
    trig_tm = _child("triggers", trace=True)
    results = [
        ("trigger as shipped -> emulator", _child("triggers")),
        (f"trigger as shipped -> emulator, N={LIGHT_N}", _child("triggers", n=LIGHT_N)),
        # Half the default 10 s interval: 200 polls/s, which one loop on this 2-core box can serve.
        (f"trigger as shipped -> emulator, poll {BUSY_POLL:g} s", _child("triggers", poll=BUSY_POLL)),
    ]
    alternating = _child("cpu", "fast", n=1)

    base_kb = tasks_tm["traced_peak_per_wait_kb"]
    wait_kb = trig_tm["traced_peak_per_wait_kb"]
    print(f"  Memory per wait, KB (growth of the process after the {N} waits started, divided by {N}):")
    table(
        ["", "tracemalloc peak", "tracemalloc while polling", "RSS high-water (no tracemalloc)"],
        [
            ["bare asyncio task sleeping (baseline)", f"{base_kb:.2f}", "-", f"{tasks_rss['rss_per_wait_kb']:.2f}"],
            [
                "GcoreProjectUnlockedTrigger.run() -> emulator",
                f"{wait_kb:.2f}",
                f"{trig_tm['traced_steady_per_wait_kb']:.2f}",
                f"{results[0][1]['rss_per_wait_kb']:.2f}",
            ],
        ],
    )
    print(
        f"  RATIO trigger / bare sleeping task (tracemalloc peak) = {wait_kb / base_kb:.1f}x; "
        f"{wait_kb:.1f} KB per wait (goal <= {GOAL_KB:g} KB)  {verdict(wait_kb <= GOAL_KB)}"
    )

    print()
    print(
        f"  Polling: a steady window of {WINDOW_POLLS * POLL:g} s after a {RAMP_POLLS * POLL:g} s ramp (runs without "
        f"tracemalloc; ideal rate N/{POLL:g} s), then every lock released at once, up to {SETTLE_S:g} s for the events:"
    )
    table(_POLL_HEADER, _polling_rows(results))
    summary: dict[str, Any] = {"kb_per_wait": wait_kb}
    for label, result in results:
        delays = result["delays"]
        within = sum(1 for d in delays if d <= result["poll"])
        ok = result["completed"] == result["n"] and within == result["n"]
        summary[label] = ok
        over = f"; slowest event {max(delays):.2f} s after its unlock" if delays else ""
        print(
            f"  every event within one poll interval ({result['poll']:g} s) of its unlock, {label}: {verdict(ok)}{over}"
        )

    per_poll = alternating["per_poll"]
    pairs = [t / h for t, h in zip(per_poll["trigger"], per_poll["httpx"], strict=True)]
    ratio = median(pairs)
    print()
    print(
        f"  Client CPU of one poll, sequential on one keep-alive connection (fast server, {CPU_ROUNDS} ABBA rounds of "
        f"{CPU_BATCH} polls): trigger's read (hook.aget_project + check) {median(per_poll['trigger']) * 1e6:.0f} us, "
        f"bare httpx GET + json() {median(per_poll['httpx']) * 1e6:.0f} us"
    )
    print(f"  RATIO trigger poll / bare httpx poll = {ratio:.2f} (IQR {iqr(pairs)})")
    summary["cpu_ratio"] = ratio
    return summary


if __name__ == "__main__":
    child_main()
