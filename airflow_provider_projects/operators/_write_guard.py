"""Keeps an Airflow retry of a write from undoing a change someone else made in between.

A task can crash after sending its write and before Airflow hears of it. Its next try must not
fail on the change it already applied, nor overwrite a newer change made meanwhile. Before each
write the operator records, in Airflow's task state store (3.3+: kept per task instance across
tries), what it is about to write and what it started from; after the write it deletes the
record. A later try that finds a record left by an earlier try knows a write may have happened
and compares before writing again. On an Airflow without the store the guard does nothing and
the operators keep their plain read-compare.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

log = logging.getLogger(__name__)

GUARD_KEY: Final = "airflow_provider_projects.pending_write"
#: A record outlives any sensible run of retries; the store's collector removes it afterwards.
RETENTION: Final = timedelta(days=7)


@dataclass
class WriteGuard:
    """The record of a write in flight for one task instance (``store`` is ``None`` when unavailable)."""

    store: Any
    try_number: int | None

    @classmethod
    def for_context(cls, context: Any) -> WriteGuard:
        ti = context.get("ti") if hasattr(context, "get") else None
        number = getattr(ti, "try_number", None)
        store = context.get("task_state_store") if hasattr(context, "get") else None
        return cls(store=store, try_number=number if isinstance(number, int) else None)

    def earlier_write(self) -> dict[str, Any] | None:
        """The record an earlier try left behind (it crashed with a write in flight), or ``None``."""
        if self.store is None:
            return None
        try:
            record = self.store.get(GUARD_KEY)
        except Exception as error:  # the store is an aid: without it, the operator still works
            log.debug("Task state store unavailable: %s", error)
            return None
        if not isinstance(record, dict) or record.get("try_number") == self.try_number:
            return None
        return record

    def begin(self, *, desired: dict[str, Any], before: dict[str, Any] | None) -> None:
        """Record the write about to be sent (and the state it starts from, when known)."""
        self._call(
            "set",
            GUARD_KEY,
            {
                "try_number": self.try_number,
                "desired": desired,
                "before": before,
                "started_at": datetime.now(tz=UTC).isoformat(),
            },
            retention=RETENTION,
        )

    def finish(self) -> None:
        """The write is settled (applied, found applied, or refused): forget the record."""
        self._call("delete", GUARD_KEY)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self.store is None:
            return
        try:
            getattr(self.store, method)(*args, **kwargs)
        except Exception as error:
            log.debug("Task state store %s failed: %s", method, error)
