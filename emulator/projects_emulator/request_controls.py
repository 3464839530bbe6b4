"""``ProjectsEmulator``'s controls over requests: injected faults, stalled requests, and the journal."""

from __future__ import annotations

import re
from typing import Any, Unpack

from projects_emulator.backend import Backend
from projects_emulator.faults import Fault, FaultOptions, make_fault
from projects_emulator.journal import RecordedRequest


class RequestControls:
    """What ``ProjectsEmulator`` does to requests and remembers of them (see the ``faults`` module)."""

    _backend: Backend

    def add_fault(
        self, api: str, method: str, path_pattern: str | re.Pattern[str], **options: Unpack[FaultOptions]
    ) -> Fault:
        """Make the next ``times`` matching requests misbehave; returns a handle (see ``remove_fault``).

        ``api`` is gcore or gcai, ``method`` a method or ``*``, ``path_pattern`` a regex for the
        whole path without the GC AI prefix. Options (``faults.FaultOptions``): ``status``,
        ``headers``, ``body``, ``delay``, ``drop``, ``truncate``, ``times`` (default 1; None:
        until removed), ``stall`` and ``stall_timeout``. ``stall=True`` holds each matching
        request before the API sees it until ``release_stalled`` (then it is handled, with the
        other settings) or ``drop_stalled``/``stall_timeout``/reset/stop (then its connection is
        closed unanswered and nothing is applied).
        """
        fault = make_fault(api, method, path_pattern, **options)
        with self._backend.lock:
            return self._backend.faults.add(fault)

    def remove_fault(self, fault: Fault | int) -> None:
        """Withdraw a fault (the handle, or its ``id``) before it is used up."""
        with self._backend.lock:
            found = self._backend.faults.find(fault) if isinstance(fault, int) else fault
            if found is None:
                raise KeyError(f"fault {fault}")
            self._backend.faults.remove(found)

    def faults(self) -> list[Fault]:
        """The faults still waiting for requests, first added first."""
        with self._backend.lock:
            return self._backend.faults.active()

    def clear_faults(self) -> int:
        """Withdraw every fault; returns how many were withdrawn."""
        with self._backend.lock:
            return self._backend.faults.clear()

    def stalled(self) -> list[dict[str, Any]]:
        """The requests stall faults hold now: ``{"fault_id", "api", "method", "path"}``, oldest first."""
        return [stall.to_json() for stall in self._backend.stalls.held()]

    def wait_for_stalled(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests are held (True) or ``timeout`` seconds pass (False)."""
        return self._backend.stalls.wait_for(count, timeout)

    def release_stalled(self, fault: Fault | int | None = None) -> int:
        """Let held requests (of one fault, or all) reach the API and be answered; returns how many."""
        return self._backend.stalls.release(_fault_id(fault))

    def drop_stalled(self, fault: Fault | int | None = None) -> int:
        """Close held requests' connections unanswered (nothing applied); returns how many."""
        return self._backend.stalls.drop(_fault_id(fault))

    def requests(
        self, api: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[RecordedRequest]:
        """Journaled requests matching the filters (``path`` without base prefix), oldest first.

        Each carries the ``status`` it was answered with (None: no answer, or not yet), its
        arrival as ``wall_time`` (ISO 8601 UTC, to line up with Airflow's logs) and ``time`` (the
        emulator's clock, for ordering and intervals).
        """
        with self._backend.lock:
            return self._backend.journal.select(api=api, method=method, path=path)

    def clear_journal(self) -> int:
        """Forget every journaled request; returns how many were forgotten."""
        with self._backend.lock:
            return self._backend.journal.clear()


def _fault_id(fault: Fault | int | None) -> int | None:
    return fault.id if isinstance(fault, Fault) else fault
