"""Section 2: one write through a hook, against a bare ``requests.Session`` and the official SDK.

All clients talk to ``fastserver.py`` (its own process, canned answers, tens of microseconds per
request), so the client side is what the times compare. Each round times a batch of ``BATCH``
calls per variant, in forward order on even rounds and reverse order on odd ones (ABBA), and the
ratios are the medians of the per-round ratios, which cancels drift between rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any, Final

import requests
from common import heading, iqr, median, table, verdict
from emuctl import EmulatorProcess
from fastserver import FastServer

ROUNDS: Final = 60
MIN_ROUNDS: Final = 10
BUDGET_S: Final = 15.0
BATCH: Final = 25
WARMUP: Final = 50
REUSE_CALLS: Final = 100
GCORE_KEY: Final = "bench-gcore-key"
GCAI_KEY: Final = "gcai_bench_org_key"
GCAI_PREFIX: Final = "/api/external/v1"
NAME: Final = "bench-project"
DESCRIPTION: Final = "benchmark"
GOAL_BARE: Final = 1.2


def _connections(url: str) -> None:
    os.environ["AIRFLOW_CONN_BENCH_GCORE"] = json.dumps({"conn_type": "gcore", "host": url, "password": GCORE_KEY})
    os.environ["AIRFLOW_CONN_BENCH_GCAI"] = json.dumps(
        {"conn_type": "gcai", "host": url + GCAI_PREFIX, "password": GCAI_KEY}
    )


Call = Callable[[], object]


def _variants(url: str, gcai_project_id: str) -> dict[str, Call]:
    """The clients, each doing one complete call: send, check the status, parse the answer."""
    from gcore import Gcore
    from gcore.types.cloud import Project

    from airflow_provider_projects.hooks.base import user_agent
    from airflow_provider_projects.hooks.gcai import GcaiHook
    from airflow_provider_projects.hooks.gcore import GcoreHook

    gcore_hook = GcoreHook("bench_gcore")
    gcai_hook = GcaiHook("bench_gcai")
    session = requests.Session()
    sdk = Gcore(api_key=GCORE_KEY, base_url=url, max_retries=0, cloud_project_id=1)

    gcore_headers = {
        "Authorization": f"APIKey {GCORE_KEY}",
        "Accept": "application/json",
        "User-Agent": user_agent(),
        "Content-Type": "application/json",
    }
    gcai_headers = {**gcore_headers, "Authorization": GCAI_KEY}
    gcore_url = f"{url}/cloud/v1/projects/1"
    gcai_url = f"{url}{GCAI_PREFIX}/projects/{gcai_project_id}"
    gcore_body = json.dumps({"name": NAME, "description": DESCRIPTION}, separators=(",", ":")).encode()
    gcai_body = json.dumps({"description": DESCRIPTION}, separators=(",", ":")).encode()
    _check_same(gcore_hook, "/cloud/v1/projects/1", gcore_body, gcore_headers)
    _check_same(gcai_hook, f"/projects/{gcai_project_id}", gcai_body, gcai_headers)

    def bare(method: str, target: str, body: bytes, headers: dict[str, str]) -> Call:
        def call() -> object:
            answer = session.request(
                method, target, data=body, headers=headers, timeout=(10.0, 30.0), allow_redirects=False
            )
            answer.raise_for_status()
            return answer.json()

        return call

    return {
        "hook PUT": lambda: gcore_hook.replace_project(1, name=NAME, description=DESCRIPTION, method="PUT"),
        "bare PUT": bare("PUT", gcore_url, gcore_body, gcore_headers),
        "sdk PUT": lambda: sdk.put(
            "/cloud/v1/projects/1", body={"name": NAME, "description": DESCRIPTION}, cast_to=Project
        ),
        "hook PATCH": lambda: gcore_hook.replace_project(1, name=NAME, description=DESCRIPTION, method="PATCH"),
        "bare PATCH": bare("PATCH", gcore_url, gcore_body, gcore_headers),
        "sdk update": lambda: sdk.cloud.projects.update(project_id=1, name=NAME, description=DESCRIPTION),
        "gcai hook": lambda: gcai_hook.update_project(gcai_project_id, description=DESCRIPTION),
        "gcai bare": bare("PATCH", gcai_url, gcai_body, gcai_headers),
    }


def _check_same(hook: Any, path: str, body: bytes, headers: dict[str, str]) -> None:
    """The bare variant sends exactly the hook's headers and body (requests adds the same defaults)."""
    built = hook.transport.core.request("PATCH", path, json_body=json.loads(body))
    assert built.body == body, (built.body, body)
    assert dict(built.headers) == headers, "bare and hook headers differ"


def _batch(call: Call, count: int) -> tuple[float, float]:
    """Seconds per call: wall clock, and this process's CPU time (steadier on a loaded machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        call()
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


Times = dict[str, list[tuple[float, float]]]


def _interleaved(variants: dict[str, Call], rounds: int, batch: int, budget: float = BUDGET_S) -> Times:
    """Up to ``rounds`` ABBA rounds; stops early (after ``MIN_ROUNDS``) once ``budget`` seconds are spent."""
    for call in variants.values():
        _batch(call, WARMUP)
    times: Times = {name: [] for name in variants}
    names = list(variants)
    start = time.perf_counter()
    for rnd in range(rounds):
        for name in names if rnd % 2 == 0 else reversed(names):
            times[name].append(_batch(variants[name], batch))
        if rnd + 1 >= MIN_ROUNDS and rnd % 2 == 1 and time.perf_counter() - start > budget:
            break
    return times


def _ratios(times: Times, a: str, b: str, which: int) -> list[float]:
    return [x[which] / y[which] for x, y in zip(times[a], times[b], strict=True)]


def _us(times: list[tuple[float, float]], which: int) -> str:
    values = [t[which] for t in times]
    return f"{median(values) * 1e6:.0f} ({min(values) * 1e6:.0f}..{max(values) * 1e6:.0f})"


def _reuse(server: FastServer, gcai_project_id: str) -> list[list[object]]:
    """Accepted connections for REUSE_CALLS calls of a fresh client instance."""
    from gcore import Gcore

    from airflow_provider_projects.hooks.gcai import GcaiHook
    from airflow_provider_projects.hooks.gcore import GcoreHook

    rows: list[list[object]] = []

    def measure(label: str, calls: Callable[[], None]) -> None:
        before = server.stats()
        calls()
        after = server.stats()
        accepts = after["accepts"] - before["accepts"]
        served = after["requests"] - before["requests"]
        rows.append([label, served, accepts, verdict(accepts == 1)])

    def gcore_calls() -> None:
        hook = GcoreHook("bench_gcore")
        for _ in range(REUSE_CALLS):
            hook.replace_project(1, name=NAME, description=DESCRIPTION)
        hook.close()

    def gcai_calls() -> None:
        hook = GcaiHook("bench_gcai")
        for _ in range(REUSE_CALLS):
            hook.update_project(gcai_project_id, description=DESCRIPTION)
        hook.close()

    def async_calls() -> None:
        async def polls() -> None:
            hook = GcoreHook("bench_gcore")
            for _ in range(REUSE_CALLS):
                await hook.aget_project(1)

        asyncio.run(polls())

    def sdk_calls() -> None:
        with Gcore(api_key=GCORE_KEY, base_url=server.url, max_retries=0) as sdk:
            for _ in range(REUSE_CALLS):
                sdk.cloud.projects.update(project_id=1, name=NAME, description=DESCRIPTION)

    measure("GcoreHook.replace_project (one hook instance)", gcore_calls)
    measure("GcaiHook.update_project (one hook instance)", gcai_calls)
    measure("GcoreHook.aget_project (trigger path, one event loop)", async_calls)
    measure("gcore SDK projects.update (one client)", sdk_calls)
    return rows


def _emulator_share() -> tuple[float, float]:
    """Per-call time of the bare client against the emulator (own process) and the fast server."""
    server = FastServer()
    try:
        with EmulatorProcess() as emu:
            session = requests.Session()
            headers = {"Authorization": f"APIKey {emu.info['gcore_key']}", "Content-Type": "application/json"}
            body = json.dumps({"name": NAME, "description": DESCRIPTION}).encode()

            def against(base: str) -> Call:
                return lambda: session.put(f"{base}/cloud/v1/projects/1", data=body, headers=headers).json()

            variants = {"emulator": against(emu.info["gcore_url"]), "fast": against(server.url)}
            times = _interleaved(variants, 12, BATCH, budget=4.0)
    finally:
        server.close()
    return median([t[0] for t in times["emulator"]]), median([t[0] for t in times["fast"]])


def run() -> dict[str, Any]:
    heading("2. Per call: hook vs bare requests.Session vs the official gcore SDK (local keep-alive server)")
    import gcore

    emu_s, fast_s = _emulator_share()
    print(
        f"  server: benchmarks/fastserver.py (asyncio, own process, canned JSON answers). A bare PUT costs "
        f"{emu_s * 1e6:.0f} us against the emulator (own process) vs {fast_s * 1e6:.0f} us against it "
        f"({emu_s / fast_s:.1f}x): the emulator's own handling would be added to every call and dilute the ratios."
    )
    server = FastServer()
    try:
        from fastserver import GCAI_PROJECT_ID

        _connections(server.url)
        variants = _variants(server.url, GCAI_PROJECT_ID)
        times = _interleaved(variants, ROUNDS, BATCH)
        reuse = _reuse(server, GCAI_PROJECT_ID)
    finally:
        server.close()
    rounds = len(next(iter(times.values())))
    print(
        f"  {rounds} rounds x {BATCH} calls per variant, ABBA order; gcore SDK {gcore.__version__} "
        "(max_retries=0, base_url = the local server); each call sends, checks the status and parses the JSON"
    )
    table(
        ["variant", "wall us/call: median (min..max)", "client CPU us/call: median (min..max)"],
        [[name, _us(t, 0), _us(t, 1)] for name, t in times.items()],
    )
    pairs = [
        ("Gcore PUT: hook / bare requests", "hook PUT", "bare PUT", GOAL_BARE),
        ("Gcore PUT: hook / SDK client.put", "hook PUT", "sdk PUT", 1.0),
        ("Gcore PATCH: hook(method='PATCH') / bare requests", "hook PATCH", "bare PATCH", GOAL_BARE),
        ("Gcore PATCH: hook(method='PATCH') / SDK projects.update", "hook PATCH", "sdk update", 1.0),
        ("GC AI PATCH: hook / bare requests", "gcai hook", "gcai bare", GOAL_BARE),
    ]
    rows = []
    summary: dict[str, Any] = {}
    for label, a, b, goal in pairs:
        wall = _ratios(times, a, b, 0)
        cpu = _ratios(times, a, b, 1)
        summary[label] = (median(wall), median(cpu))
        sign = "<=" if goal > 1 else "<"
        ok = all((r <= goal if goal > 1 else r < goal) for r in (median(wall), median(cpu)))
        rows.append(
            [label, f"{median(wall):.3f} {iqr(wall)}", f"{median(cpu):.3f} {iqr(cpu)}", f"{sign} {goal}", verdict(ok)]
        )
    print()
    table(["RATIO (median of per-round ratios, IQR)", "wall clock", "client CPU time", "goal", ""], rows)
    print()
    print(f"  TCP connections accepted by the server for {REUSE_CALLS} calls of one fresh client:")
    table(["client", "requests", "connections accepted", "one connection"], reuse)
    summary["reuse_ok"] = all(row[2] == 1 for row in reuse[:3])
    return summary
