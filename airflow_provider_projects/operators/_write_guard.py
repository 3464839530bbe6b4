"""Keeps an Airflow retry of a write from undoing a change someone else made in between.

A task can crash after sending its write and before Airflow hears of it. Its next try must not
fail on the change it already applied, nor overwrite a newer change made meanwhile. Before each
write the operator records, in Airflow's task state store (3.3+: kept per task instance across
tries), what it is about to write and what it started from; after the write it deletes the
record. A later try that finds a record left by an earlier try knows a write may have happened
and compares before writing again. Without the store the guard finds nothing and the operators
keep their plain read-compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from airflow_provider_projects import _clock
from airflow_provider_projects.state_stores import TryRecord

GUARD_KEY: Final = "airflow_provider_projects.pending_write"
#: A record outlives any sensible run of retries; the store's collector removes it afterwards.
RETENTION: Final = timedelta(days=7)


@dataclass(frozen=True)
class EarlierWrite:
    """What an earlier try recorded before it crashed with a write in flight."""

    try_number: int | None
    desired: dict[str, Any]
    before: dict[str, Any] | None
    started_at: str | None


class WriteGuard:
    """The record of a write in flight for one task instance."""

    def __init__(self, context: Any) -> None:
        self._record = TryRecord(context, GUARD_KEY)

    def earlier_write(self) -> EarlierWrite | None:
        """The record an earlier try left behind (it crashed with a write in flight), or ``None``."""
        found = self._record.from_earlier_try()
        if found is None:
            return None
        try_number, value = found
        desired = value.get("desired")
        if not isinstance(desired, dict):
            return None
        before = value.get("before")
        started = value.get("started_at")
        return EarlierWrite(
            try_number,
            desired,
            before if isinstance(before, dict) else None,
            started if isinstance(started, str) else None,
        )

    def begin(self, *, desired: dict[str, Any], before: dict[str, Any] | None) -> None:
        """Record the write about to be sent (and the state it starts from, when known)."""
        started = datetime.fromtimestamp(_clock.now(), tz=UTC).isoformat()
        self._record.write({"desired": desired, "before": before, "started_at": started}, retention=RETENTION)

    def finish(self) -> None:
        """The write is settled (applied, found applied, or refused): forget the record."""
        self._record.clear()
