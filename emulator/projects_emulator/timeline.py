"""Time for the emulator: one injectable monotonic clock, mapped onto wall-clock timestamps.

Everything time-based (task progress, rate-limit windows, ``updated_at``) reads the injected
clock, so a test can move time forward without sleeping. Wall-clock timestamps are derived from it
(``wall start + elapsed clock``) so they advance exactly as the fake clock does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


class Timeline:
    """Reads the injected clock and turns its readings into UTC datetimes."""

    def __init__(self, clock: Callable[[], float], wall_start: float | None = None) -> None:
        self._clock = clock
        self._origin = clock()
        self._wall_origin = time.time() if wall_start is None else wall_start

    def now(self) -> float:
        """Return the current reading of the injected (monotonic) clock."""
        return self._clock()

    def epoch(self, at: float | None = None) -> float:
        """Return the wall-clock epoch seconds matching clock reading ``at`` (default: now)."""
        reading = self.now() if at is None else at
        return self._wall_origin + (reading - self._origin)

    def wall(self, at: float | None = None) -> datetime:
        """Return the UTC datetime matching clock reading ``at`` (default: now)."""
        return datetime.fromtimestamp(self.epoch(at), tz=UTC)


def iso_utc(epoch: float) -> str:
    """Format as ISO 8601 UTC to the microsecond (``2026-05-04T09:30:00.123456Z``), as Airflow's logs are."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def gcore_datetime(epoch: float) -> str:
    """Format like Gcore's Project timestamps (``2019-12-31T23:59:59``, naive UTC)."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def gcore_task_datetime(epoch: float) -> str:
    """Format like Gcore's Task timestamps (``2019-06-25T08:42:42Z``)."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def js_iso(epoch: float) -> str:
    """Format like JavaScript's ``Date.toISOString()`` (GC AI: ``2026-01-01T00:00:00.000Z``)."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
