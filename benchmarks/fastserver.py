"""A minimal, fast HTTP/1.1 keep-alive server for the benchmarks (run as its own process).

It answers with canned JSON (a Gcore ``Project`` for ``/cloud/v1/projects/{id}``, a Gcore
``Task`` for ``/cloud/v1/tasks/{id}``, a GC AI ``ProjectResponse`` for anything else), built
once per resource and state and cached, so a request costs the server a few tens of microseconds
(the 10,000-wait benchmark sends it 1,000 polls a second) and a comparison sees the client's cost.

State the benchmarks drive, through control requests (their connections are not counted):

* ``POST /__lock?first=F&count=N[&status=404]``: projects F..F+N-1 are locked until the unlock:
  they answer ``task_id`` = :func:`lock_task_id` (that task answers ``RUNNING``), or 404 with
  ``status=404`` (what keeps ``HttpSensorTrigger``, which waits for "not 404", polling);
* ``POST /__account?size=N``: the account holds projects 1..N (default a billion: a list too long
  to pay off, so the triggers poll each project); ``GET /cloud/v1/projects?limit=&offset=`` answers
  that part of it, oldest first, with ``count`` = N;
* ``POST /__unlock``: every lock released at once; answers ``{"at": time.monotonic()}``
  (CLOCK_MONOTONIC is system-wide on Linux, so a client process can compare its own readings);
* ``POST /__429?path=P&retry_after=S``: the next request for path P answers 429 with
  ``Retry-After: S``; from then on the arrival time of every request for P is recorded;
* ``POST /__watch?path=P``: the arrival times of P's requests are recorded (no 429);
* ``GET /__429``: ``{P: {"sent_at": t | null, "after": [t, ...]}}`` for each armed or watched path;
* ``GET /__stats``: ``{"accepts", "requests", "projects", "tasks", "pages", "counts", "other",
  "projects_seen", "at"}``: connections that carried at least one API request, API requests by
  kind (a page of the list, or a one-project page asking for the count), distinct project paths;
* ``GET /__paths``: ``{"counts": {path: requests}}``.

Sections 2 and 3 lock from project 2 on and use project 1 for their warm-up. Usage: ``python
benchmarks/fastserver.py`` prints ``PORT <n>`` on stdout, then serves on 127.0.0.1 until stdin
closes (so it ends with its parent).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

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
#: A task id that is not a lock of this server's: it answers ``FINISHED``.
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
_PROJECTS: Final = "/cloud/v1/projects/"
_LIST: Final = "/cloud/v1/projects?"
#: Projects in the account unless told otherwise: so many that the triggers never page the list.
DEFAULT_ACCOUNT: Final = 1_000_000_000
_TASKS: Final = "/cloud/v1/tasks/"
_LOCK_PREFIX: Final = "00000000-0000-4000-8000-"
#: Arrival times kept per throttled path (bounds the server's memory if a client floods it).
_TIMELINE_CAP: Final = 10_000


def lock_task_id(project_id: int) -> str:
    """The task holding project ``project_id``'s lock (one task per project, as on Gcore)."""
    return f"{_LOCK_PREFIX}{project_id:012d}"


def _response(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode("ascii") + body


def _json(value: object, status: str = "200 OK", extra: str = "") -> bytes:
    return _response(json.dumps(value).encode(), status, extra)


_GCAI: Final = _json(GCAI_PROJECT)
_TASK: Final = _json(GCORE_TASK)


class State:
    """Locks, counters and the 429 injections, shared by every connection of this server."""

    def __init__(self) -> None:
        self.accepts = 0
        self.requests = 0
        self.kinds: Counter[str] = Counter(projects=0, tasks=0, pages=0, counts=0, other=0)
        self.size = DEFAULT_ACCOUNT
        self.paths: Counter[str] = Counter()
        self.first = 0
        self.last = -1  # locked: first <= id <= last
        self.missing = False
        self._answers: dict[tuple[str, bool], bytes] = {}
        self.armed: dict[str, str] = {}
        self.timelines: dict[str, dict[str, Any]] = {}

    def locked(self, project_id: int) -> bool:
        return self.first <= project_id <= self.last

    # -- controls -----------------------------------------------------------------------------

    def control(self, method: str, target: str) -> bytes:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        if path == "/__lock" and method == "POST":
            self.first = int(query["first"])
            self.last = self.first + int(query["count"]) - 1
            self.missing = query.get("status") == "404"
            self._answers.clear()
        elif path == "/__account" and method == "POST":
            self.size = int(query["size"])
            self._answers.clear()
        elif path == "/__unlock" and method == "POST":
            self.last = self.first - 1
            self._answers.clear()
            return _json({"at": time.monotonic()})
        elif path == "/__429" and method == "POST":
            self.armed[query["path"]] = query.get("retry_after", "5")
            self.timelines[query["path"]] = {"sent_at": None, "after": []}
            return _json({})
        elif path == "/__watch" and method == "POST":
            self.timelines[query["path"]] = {"sent_at": None, "after": []}
            return _json({})
        elif path == "/__429":
            return _json(self.timelines)
        elif path == "/__paths":
            return _json({"counts": self.paths})
        seen = sum(1 for p in self.paths if p.startswith(_PROJECTS))  # at a control call only: off the hot path
        counts = {"accepts": self.accepts, "requests": self.requests, **self.kinds, "projects_seen": seen}
        return _json({**counts, "at": time.monotonic()})

    # -- API answers ----------------------------------------------------------------------------

    def answer(self, target: str) -> bytes:
        self.requests += 1
        self.paths[target] += 1
        if self.timelines:  # only while a 429 is armed or watched: the hot path stays a dict miss
            timeline = self.timelines.get(target)
            if timeline is not None:
                retry_after = self.armed.pop(target, None)
                now = time.monotonic()
                if retry_after is not None:
                    timeline["sent_at"] = now
                    body = {"exception_class": "TooManyRequests", "message": "Too many requests"}
                    return _json(body, "429 Too Many Requests", f"Retry-After: {retry_after}\r\n")
                if len(timeline["after"]) < _TIMELINE_CAP:
                    timeline["after"].append(now)
        if target.startswith(_PROJECTS):
            self.kinds["projects"] += 1
            return self._cached(target, self._project)
        if target.startswith(_LIST):
            return self._page(target)
        if target.startswith(_TASKS):
            self.kinds["tasks"] += 1
            return self._cached(target, self._task)
        self.kinds["other"] += 1
        return _GCAI

    def _cached(self, target: str, build: Any) -> bytes:
        raw = target.rsplit("/", 1)[1]
        resource = int(raw[len(_LOCK_PREFIX) :]) if raw.startswith(_LOCK_PREFIX) else int(raw) if raw.isdigit() else 0
        key = (target, self.locked(resource))
        cached = self._answers.get(key)
        if cached is None:
            cached = self._answers[key] = build(raw, resource, key[1])
        return cached

    def _project(self, raw: str, project_id: int, locked: bool) -> bytes:
        if not raw.isdigit():
            return _json({"exception_class": "NotFound", "message": f"Project {raw} not found"}, "404 Not Found")
        if locked and self.missing:
            body = {"exception_class": "ProjectNotFound", "message": f"Project {project_id} not found (benchmark)"}
            return _json(body, "404 Not Found")
        task = lock_task_id(project_id) if locked else None
        return _json({**GCORE_PROJECT, "id": project_id, "is_default": project_id == 1, "task_id": task})

    def _page(self, target: str) -> bytes:
        """A page of the account's projects, oldest (lowest id) first; built once per lock state."""
        cached = self._answers.get((target, False))
        query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        limit, offset = int(query.get("limit", 100)), int(query.get("offset", 0))
        self.kinds["counts" if limit == 1 else "pages"] += 1
        if cached is None:
            ids = range(offset + 1, min(offset + limit, self.size) + 1)
            results = [
                {**GCORE_PROJECT, "id": i, "is_default": i == 1, "task_id": lock_task_id(i) if self.locked(i) else None}
                for i in ids
            ]
            cached = self._answers[(target, False)] = _json({"count": self.size, "results": results})
        return cached

    def _task(self, raw: str, project_id: int, locked: bool) -> bytes:
        if not raw.startswith(_LOCK_PREFIX):
            return _TASK
        state = "RUNNING" if locked else "FINISHED"
        finished = None if locked else GCORE_TASK["finished_on"]
        return _json({**GCORE_TASK, "id": raw, "state": state, "finished_on": finished})


class _Connection(asyncio.Protocol):
    """Parses pipelined or sequential requests (Content-Length bodies only) and answers each."""

    def __init__(self, state: State) -> None:
        self.state = state
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
            at = head.lower().find("\r\ncontent-length:")  # one search, not a loop over every header
            if at >= 0:
                length = int(head[at + 17 :].split("\r\n", 1)[0])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            method, target, _version = head.split(" ", 2)
            self._answer(method, target)

    def _answer(self, method: str, target: str) -> None:
        assert self.transport is not None
        if target.startswith("/__"):
            self.transport.write(self.state.control(method, target))
            return
        if not self.counted:
            self.counted = True
            self.state.accepts += 1
        self.transport.write(self.state.answer(target))


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

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "/__stats")

    def lock(self, first: int, count: int, *, status: int = 200) -> None:
        self.control("POST", f"/__lock?first={first}&count={count}&status={status}")

    def account(self, size: int) -> None:
        """The account holds projects 1..size (the list's ``count``)."""
        self.control("POST", f"/__account?size={size}")

    def unlock(self) -> float:
        """Release every lock; the server's ``time.monotonic()`` at that instant."""
        return float(self.control("POST", "/__unlock")["at"])

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
    state = State()
    server = await loop.create_server(lambda: _Connection(state), "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Ends when the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve())
