"""A minimal, fast HTTP/1.1 keep-alive server for the per-call benchmark (run as its own process).

It answers every request with a canned JSON body (a Gcore ``Project`` for
``/cloud/v1/projects/{id}``, a finished Gcore ``Task`` for ``/cloud/v1/tasks/{id}``, a GC AI
``ProjectResponse`` for anything else), so the server side costs a few tens of microseconds and
the client's cost is what a comparison sees. Controls (their connections are not counted):

* ``GET /__stats``: ``{"accepts": N, "requests": M}``, counting only connections that carried at
  least one API request;
* ``POST /__lock/<n>``: projects 2..n+1 answer with ``task_id`` set (a lock) until
* ``POST /__unlock``: every project unlocked at once; answers ``{"at": time.monotonic()}``
  (CLOCK_MONOTONIC is system-wide on Linux, so a client process can compare its own readings).

Usage: ``python benchmarks/fastserver.py`` prints ``PORT <n>`` on stdout, then serves on
127.0.0.1 until stdin closes (so it ends with its parent).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

GCORE_PROJECT: Final = {
    "id": 1,
    "client_id": 1,
    "name": "bench-project",
    "description": "benchmark",
    "created_at": "2026-01-01T00:00:00",
    "deleted_at": None,
    "is_default": True,
    "state": "ACTIVE",
    "task_id": None,
}
GCAI_PROJECT_ID: Final = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
GCAI_PROJECT: Final = {
    "id": GCAI_PROJECT_ID,
    "name": "Vendor: Acme MSA",
    "description": "benchmark",
    "custom_instructions": None,
    "is_access_controlled": False,
    "my_access_level": None,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-02T00:00:00Z",
}
LOCK_TASK_ID: Final = "7244e161-664c-4afd-a34e-7003eac4d949"
GCORE_TASK: Final = {
    "id": LOCK_TASK_ID,
    "user_id": 1,
    "task_type": "update_project",
    "state": "FINISHED",
    "created_on": "2026-01-01T00:00:00",
    "finished_on": "2026-01-01T00:00:05",
    "error": None,
}
_MAX_HEAD: Final = 64 * 1024
_PROJECT_PREFIX: Final = "/cloud/v1/projects/"


def _response(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


_GCORE: Final = _response(json.dumps(GCORE_PROJECT).encode())
_GCAI: Final = _response(json.dumps(GCAI_PROJECT).encode())
_TASK: Final = _response(json.dumps(GCORE_TASK).encode())


class Stats:
    """Connections that served API requests, how many requests they served, and the locks."""

    def __init__(self) -> None:
        self.accepts = 0
        self.requests = 0
        self.locked_up_to = 0
        self._locked: dict[str, bytes] = {}

    def answer(self) -> bytes:
        return _response(json.dumps({"accepts": self.accepts, "requests": self.requests}).encode())

    def control(self, target: str) -> bytes:
        if target.startswith("/__lock/"):
            self.locked_up_to = int(target.rsplit("/", 1)[1])
            return self.answer()
        if target == "/__unlock":
            self.locked_up_to = 0
            self._locked.clear()
            return _response(json.dumps({"at": time.monotonic()}).encode())
        return self.answer()

    def project(self, target: str) -> bytes:
        """A project's answer: locked (``task_id`` set) while its id is in 2..n+1 (project 1 never is)."""
        raw_id = target[len(_PROJECT_PREFIX) :]
        if not raw_id.isdigit() or not 2 <= int(raw_id) <= self.locked_up_to + 1:
            return _GCORE
        cached = self._locked.get(raw_id)
        if cached is None:
            body = {**GCORE_PROJECT, "id": int(raw_id), "is_default": False, "task_id": LOCK_TASK_ID}
            cached = self._locked[raw_id] = _response(json.dumps(body).encode())
        return cached


class _Connection(asyncio.Protocol):
    """Parses pipelined or sequential requests (Content-Length bodies only) and answers each."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD and self.transport is not None:
                    self.transport.close()
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            self._answer(head.split(" ", 2)[1])

    def _answer(self, target: str) -> None:
        assert self.transport is not None
        if target.startswith("/__"):
            self.transport.write(self.stats.control(target))
            return
        if not self.counted:
            self.counted = True
            self.stats.accepts += 1
        self.stats.requests += 1
        if target.startswith(_PROJECT_PREFIX):
            self.transport.write(self.stats.project(target))
        elif target.startswith("/cloud/v1/tasks/"):
            self.transport.write(_TASK)
        else:
            self.transport.write(_GCAI)


class FastServer:
    """Parent side: this server in a child process, with its controls."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.port = int(self._proc.stdout.readline().split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def control(self, method: str, path: str) -> dict[str, Any]:
        """One control request on a connection of its own (not counted in the stats)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path)
            answer: dict[str, Any] = json.loads(conn.getresponse().read())
            return answer
        finally:
            conn.close()

    def stats(self) -> dict[str, int]:
        return self.control("GET", "/__stats")

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


async def serve() -> None:
    """Serve on an ephemeral port of 127.0.0.1 until stdin reaches end of file."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    server = await loop.create_server(lambda: _Connection(stats), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Ends when the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve())
