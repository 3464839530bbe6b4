"""Faults injected on demand, per route: error statuses, delays, dropped connections, cut bodies.

A fault sits "in front of" the emulated API, like a flaky gateway:

* ``status`` and/or ``body`` given: the API never sees the request; that answer is sent instead.
  ``body`` may be JSON-able (encoded) or ``str``/``bytes`` (sent verbatim, e.g. malformed JSON).
  With a ``status`` but no ``body``, a default error body in the API's own error format is used.
* ``drop``: the API never sees the request; the connection is closed without any answer.
* ``headers`` alone: added to the real answer.
* ``delay``: the answer (faulted or real) is held back that many seconds. Without ``status``,
  ``body`` or ``drop`` the request IS handled first, which is the realistic "the server did it,
  but the client timed out" case.
* ``truncate``: the body that would be sent is cut in half (``Content-Length`` matches the cut
  body), so the client gets a complete HTTP message whose JSON does not parse.
* ``stall``: the request is held BEFORE the API sees it, until released (then everything above
  applies as usual) or dropped (``stall_timeout``, reset or stop: no answer, nothing applied).
  See ``stalls``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack

from projects_emulator.common import check_keywords
from projects_emulator.stalls import DEFAULT_STALL_TIMEOUT

Api = Literal["gcore", "gcai"]
APIS: tuple[Api, ...] = ("gcore", "gcai")


@dataclass(eq=False)
class Fault:
    """One injected fault; also the handle returned by ``add_fault`` (see ``remove_fault``)."""

    api: Api
    #: HTTP method to match (upper case) or ``"*"`` for any.
    method: str
    #: Regex that must match the WHOLE path (without base prefix and query), e.g. ``/projects/.*``.
    path_pattern: re.Pattern[str]
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float | None = None
    drop: bool = False
    truncate: bool = False
    #: How many more requests this fault applies to; None means forever.
    remaining: int | None = 1
    #: How many requests it has applied to so far.
    hits: int = 0
    stall: bool = False
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    #: Set by the ``FaultBook``: how the control endpoint names this fault.
    id: int = 0

    @property
    def replaces_response(self) -> bool:
        """True when the API must not handle the request (the fault answers or drops it)."""
        return self.drop or self.status is not None or self.body is not None

    @property
    def exhausted(self) -> bool:
        """True once the fault has been used ``times`` times."""
        return self.remaining is not None and self.remaining <= 0

    def matches(self, api: str, method: str, path: str) -> bool:
        """Tell whether this fault applies to a request."""
        return (
            not self.exhausted
            and self.api == api
            and self.method in ("*", method.upper())
            and self.path_pattern.fullmatch(path) is not None
        )

    def to_json(self) -> dict[str, Any]:
        """How the control endpoint describes the fault."""
        return {
            "id": self.id,
            "api": self.api,
            "method": self.method,
            "path": self.path_pattern.pattern,
            "status": self.status,
            "headers": self.headers,
            "body": self._shown_body(),
            "delay": self.delay,
            "drop": self.drop,
            "truncate": self.truncate,
            "stall": self.stall,
            "stall_timeout": self.stall_timeout,
            "remaining": self.remaining,
            "hits": self.hits,
        }

    def _shown_body(self) -> Any:
        # JSON carries no bytes: a verbatim body is shown as the text it sends.
        raw = self.raw_body()
        return self.body if raw is None else raw.decode("utf-8", errors="replace")

    def raw_body(self) -> bytes | None:
        """Return the verbatim body for ``str``/``bytes`` bodies, else None (JSON-encoded later)."""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return None


class FaultOptions(TypedDict, total=False):
    """How a fault misbehaves: ``add_fault``'s keyword arguments, described in this module's docstring."""

    #: Answer this status instead of the API (with the API's error body unless ``body`` is given).
    status: int | None
    #: Headers added to the answer, faulted or real.
    headers: dict[str, str] | None
    #: Answer this body instead of the API: JSON-able, or ``str``/``bytes`` sent verbatim.
    body: Any
    #: Seconds to hold the answer back.
    delay: float | None
    #: Close the connection without an answer.
    drop: bool
    #: Cut the answer's body in half.
    truncate: bool
    #: How many matching requests the fault applies to (default 1); None: until removed.
    times: int | None
    #: Hold each matching request before the API sees it, until released or dropped.
    stall: bool
    #: Seconds a stalled request waits before it is dropped (default 300).
    stall_timeout: float | None


def make_fault(api: str, method: str, path_pattern: str | re.Pattern[str], **options: Unpack[FaultOptions]) -> Fault:
    """Validate the arguments of ``add_fault`` and build the Fault."""
    check_keywords(options, FaultOptions.__optional_keys__, "add_fault()")
    if api not in APIS:
        raise ValueError(f"api must be one of {APIS}, not {api!r}")
    times = options.get("times", 1)
    if times is not None and times < 1:
        raise ValueError("times must be >= 1 (or None for a permanent fault)")
    status = options.get("status")
    if status is not None and not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status code, not {status}")
    delay = options.get("delay")
    if delay is not None and delay < 0:
        raise ValueError("delay must be >= 0 seconds")
    stall_timeout = options.get("stall_timeout")
    if stall_timeout is not None and stall_timeout <= 0:
        raise ValueError("stall_timeout must be > 0 seconds")
    return Fault(
        api="gcore" if api == "gcore" else "gcai",
        method=method.upper(),
        path_pattern=path_pattern if isinstance(path_pattern, re.Pattern) else re.compile(path_pattern),
        status=status,
        headers=dict(options.get("headers") or {}),
        body=options.get("body"),
        delay=delay,
        drop=options.get("drop", False),
        truncate=options.get("truncate", False),
        remaining=times,
        stall=options.get("stall", False),
        stall_timeout=DEFAULT_STALL_TIMEOUT if stall_timeout is None else stall_timeout,
    )


class FaultBook:
    """The active faults, first added first matched (the owner serialises access with its lock)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, fault: Fault) -> Fault:
        """Register a fault, give it an id, and return it as its own handle."""
        fault.id, self._next_id = self._next_id, self._next_id + 1
        self._faults.append(fault)
        return fault

    def find(self, fault_id: int) -> Fault | None:
        """The active fault with this id, if it is not used up or withdrawn."""
        return next((f for f in self._faults if f.id == fault_id), None)

    def active(self) -> list[Fault]:
        """The faults still waiting for requests, first added first."""
        return list(self._faults)

    def remove(self, fault: Fault) -> None:
        """Withdraw a fault (no error if it is already gone)."""
        self._faults = [f for f in self._faults if f is not fault]

    def clear(self) -> int:
        """Withdraw every fault; returns how many there were."""
        count = len(self._faults)
        self._faults.clear()
        return count

    def take(self, api: str, method: str, path: str) -> Fault | None:
        """Return the first fault matching the request and count one use of it."""
        for fault in self._faults:
            if fault.matches(api, method, path):
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                if fault.exhausted:
                    self.remove(fault)
                return fault
        return None
