"""The emulator's whole state behind one lock, and the dispatch every received request goes through.

Order of a request: journal it (redacted) -> let a matching fault answer or drop it -> otherwise
let the API app answer (auth, rate limit, routing) -> apply the fault's extra headers, delay and
truncation. The socket work (waiting, dropping, writing) happens outside the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from projects_emulator import gcai_api, gcore_api
from projects_emulator.editions import Edition
from projects_emulator.faults import Fault, FaultBook
from projects_emulator.gcai_api import GcaiApp
from projects_emulator.gcai_state import GcaiStore
from projects_emulator.gcore_api import GcoreApp
from projects_emulator.gcore_state import GcoreStore
from projects_emulator.journal import Journal
from projects_emulator.messages import Request, Response
from projects_emulator.ratelimit import SlidingWindowLimiter
from projects_emulator.server import Outcome
from projects_emulator.stalls import Stall, StallRoom
from projects_emulator.timeline import Timeline, iso_utc

GCORE_KEY = "emu-gcore-key-0001"


class Backend:
    """State of both APIs, the journal and the faults; every access holds ``self.lock``."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        edition: Edition,
        rate_limit: tuple[int, float] | None,
    ) -> None:
        self.lock = threading.RLock()
        self.timeline = Timeline(clock)
        self.journal = Journal()
        self.faults = FaultBook()
        self.stalls = StallRoom()
        self.gcore_key = GCORE_KEY
        self.gcore = GcoreStore(self.timeline)
        self.gcai = GcaiStore(self.timeline)
        self.limiter: SlidingWindowLimiter | None = None
        self.set_rate_limit(rate_limit)
        self.gcore_app = GcoreApp(self.gcore, lambda: frozenset({self.gcore_key}), edition=edition)
        self.gcai_app = GcaiApp(self.gcai, lambda: self.limiter)

    def set_rate_limit(self, rate_limit: tuple[int, float] | None) -> None:
        """Install a fresh GC AI limiter of ``(limit, window_seconds)``, or none."""
        with self.lock:
            self.limiter = None if rate_limit is None else SlidingWindowLimiter(*rate_limit)

    def secrets(self) -> tuple[str, ...]:
        """Every key the emulator accepts (scrubbed from the journal wherever it appears)."""
        return (self.gcore_key, *self.gcai.keys)

    def dispatch(self, api: str, request: Request) -> Outcome:
        """Journal, fault-check and answer one request (``Dispatcher`` protocol of the server)."""
        with self.lock:
            fault = self.faults.take(api, request.method, request.path)
            now = self.timeline.now()
            number = self.journal.record(
                api, request, now, iso_utc(self.timeline.epoch(now)), faulted=fault is not None, secrets=self.secrets()
            )
            if fault is None or not fault.stall:
                outcome = Outcome(self._answer(api, request)) if fault is None else self._faulted(api, request, fault)
                return self._journaled(number, outcome)
        stall = Stall(fault.id, api, request.method, request.path, fault.stall_timeout)

        def after_the_stall() -> Outcome:
            outcome = self._faulted(api, request, fault) if self.stalls.hold(stall) else Outcome(None)
            return self._journaled(number, outcome)

        return Outcome(None, deferred=after_the_stall)

    def _journaled(self, number: int, outcome: Outcome) -> Outcome:
        """Note the outcome's status in the journal entry of request ``number``, and return it."""
        with self.lock:
            self.journal.answered(number, None if outcome.response is None else outcome.response.status)
        return outcome

    def _faulted(self, api: str, request: Request, fault: Fault) -> Outcome:
        """Carry out a fault's answer: drop, replace, or the API's answer with headers/delay/cut."""
        with self.lock:
            delay = fault.delay or 0.0
            if fault.drop:
                return Outcome(None, delay=delay)
            if fault.replaces_response:
                response = self._fault_response(api, fault)
            else:
                response = self._answer(api, request)
                response.headers.update(fault.headers)
            return Outcome(response, delay=delay, truncate=fault.truncate)

    def _answer(self, api: str, request: Request) -> Response:
        return self.gcore_app.handle(request) if api == "gcore" else self.gcai_app.handle(request)

    def error(self, api: str, status: int) -> Response:
        """An error for a bare status in the API's own format (``Dispatcher`` protocol)."""
        return gcore_api.default_error(status) if api == "gcore" else gcai_api.default_error(status)

    def _fault_response(self, api: str, fault: Fault) -> Response:
        if fault.body is None:
            response = self.error(api, fault.status if fault.status is not None else 500)
        else:
            raw = fault.raw_body()
            status = fault.status if fault.status is not None else 200
            response = Response(status, None if raw is not None else fault.body, raw=raw)
        response.headers.update(fault.headers)
        return response
