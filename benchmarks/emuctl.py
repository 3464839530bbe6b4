"""The emulator in a process of its own, driven by JSON lines on stdin (one answer line each).

A benchmark that measures a client's CPU time or memory must not share its process (and GIL)
with the emulator's server threads, so :class:`EmulatorProcess` starts this module as a child
and calls the few controls the benchmarks need. Every call is a request/answer pair::

    {"op": "add_projects", "count": 1000}         -> {"ids": [...]}
    {"op": "lock", "ids": [...]}                  -> {"tasks": [...]}       (held until finished)
    {"op": "finish", "tasks": [...]}              -> {"at": [...]}          (time.monotonic() per task)
    {"op": "count", "api": "gcore"}               -> {"count": N, "now": t} (journaled requests)
    {"op": "methods"}                             -> {"GET": N, ...}        (journal by method)
    {"op": "accepts"}                             -> {"gcore": N, ...}      (TCP connections accepted)
    {"op": "clear"}                               -> {}
    {"op": "stop"}                                -> {} and the process ends

``time.monotonic()`` reads CLOCK_MONOTONIC, which is system-wide on Linux, so the parent can
compare the unlock times with its own event times.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent


def serve() -> None:
    """Child side: start the emulator, print its env, answer commands until ``stop`` or EOF."""
    from projects_emulator import ProjectsEmulator
    from projects_emulator.server import ApiServer

    # Count accepted connections per API (the emulator keeps no such counter): wrap the server's
    # per-connection entry point in this process only.
    accepts: Counter[str] = Counter()
    original = ApiServer.process_request

    def counting(server: ApiServer, request: Any, client_address: Any) -> None:
        accepts[server.api] += 1
        original(server, request, client_address)

    setattr(ApiServer, "process_request", counting)  # noqa: B010 - a method replaced on purpose
    emu = ProjectsEmulator().start()
    info = {
        "env": emu.airflow_connection_env(),
        "gcore_url": emu.gcore_url,
        "gcai_url": emu.gcai_url,
        "gcore_key": emu.gcore_key,
        "gcai_key": emu.gcai_org_key,
        "gcai_project_ids": list(emu.gcai_project_ids),
    }
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        answer: dict[str, Any] = {}
        if op == "add_projects":
            answer["ids"] = [emu.add_gcore_project(f"wait-{i:05d}") for i in range(command["count"])]
        elif op == "lock":
            answer["tasks"] = [emu.lock_gcore_project(pid) for pid in command["ids"]]
        elif op == "finish":
            stamps = []
            for task_id in command["tasks"]:
                emu.finish_task(task_id)
                stamps.append(time.monotonic())
            answer["at"] = stamps
        elif op == "count":
            answer["count"] = len(emu.requests(api=command.get("api")))
            answer["now"] = time.monotonic()
        elif op == "methods":
            answer.update(Counter(r.method for r in emu.requests(api=command.get("api"))))
        elif op == "accepts":
            answer.update(accepts)
        elif op == "clear":
            emu.clear_journal()
        elif op == "stop":
            print("{}", flush=True)
            break
        print(json.dumps(answer), flush=True)
    emu.stop()


class EmulatorProcess:
    """Parent side: a running emulator child and its controls."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "emuctl.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env if env is not None else dict(os.environ),
        )
        self.info: dict[str, Any] = json.loads(self._out.readline())
        self.env: dict[str, str] = self.info["env"]

    @property
    def _out(self) -> IO[str]:
        assert self._proc.stdout is not None
        return self._proc.stdout

    def call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        """Send one command and return its answer."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        self._proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self._out.readline())
        return answer

    def close(self) -> None:
        """Stop the emulator and wait for the child to end."""
        if self._proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, ValueError):
                self.call("stop")
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve()
