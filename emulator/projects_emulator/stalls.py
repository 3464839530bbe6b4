"""Requests held on purpose ("stall" faults) until a test or an operator releases them.

A stall is the chaos-testing tool for "the worker died between its read and its write": the
request has arrived (and is journaled) but the API has not seen it yet. Releasing it lets the API
handle it and answer, as if the network had only been slow; dropping it (reset, stop, or the
stall's timeout) closes the connection unanswered and the API never applies it.

The waiting happens on the request's own server thread, outside the emulator's lock, so a held
request blocks nothing else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

#: How long a stalled request waits for a release by default before its connection is dropped.
DEFAULT_STALL_TIMEOUT = 300.0


@dataclass(eq=False)
class Stall:
    """One held request; ``wait`` tells its server thread whether to go on (True) or drop it."""

    fault_id: int
    api: str
    method: str
    path: str
    timeout: float
    _event: threading.Event = field(default_factory=threading.Event, repr=False)
    _proceed: bool = False

    def to_json(self) -> dict[str, Any]:
        """What the control endpoint lists for a held request."""
        return {"fault_id": self.fault_id, "api": self.api, "method": self.method, "path": self.path}


class StallRoom:
    """Every request currently held, with release/drop and a bounded wait for arrivals."""

    def __init__(self) -> None:
        self._held: list[Stall] = []
        self._changed = threading.Condition()

    def hold(self, stall: Stall) -> bool:
        """Block the calling server thread until released (True) or dropped/timed out (False)."""
        with self._changed:
            self._held.append(stall)
            self._changed.notify_all()
        stall._event.wait(stall.timeout)
        with self._changed:
            if stall in self._held:
                self._held.remove(stall)
                self._changed.notify_all()
        return stall._proceed

    def held(self) -> list[Stall]:
        """The requests waiting now, oldest first."""
        with self._changed:
            return list(self._held)

    def release(self, fault_id: int | None = None) -> int:
        """Let held requests (of one fault, or all) reach the API; returns how many."""
        return self._end(fault_id, proceed=True)

    def drop(self, fault_id: int | None = None) -> int:
        """Close held requests' connections unanswered; the API never sees them. Returns how many."""
        return self._end(fault_id, proceed=False)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` requests are held; False if ``timeout`` seconds pass first."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._held) >= count, timeout)

    def _end(self, fault_id: int | None, *, proceed: bool) -> int:
        with self._changed:
            chosen = [s for s in self._held if fault_id is None or s.fault_id == fault_id]
            for stall in chosen:
                self._held.remove(stall)
                stall._proceed = proceed
                stall._event.set()
            self._changed.notify_all()
        return len(chosen)
