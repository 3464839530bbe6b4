"""One small adapter over Airflow's state stores (3.3+), best effort by design.

The task state store keeps values per task instance across tries and reschedules; the asset
state store keeps them per asset. This provider uses them as aids only (the write guard, the
reschedule-mode sensor, the asset watch): on Airflow 3.2, which has neither, or when a store
fails, every read finds nothing and every write is skipped, and the caller works as it would
without the store. The failure is logged once, then the store is left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_projects import version_compat

log = logging.getLogger(__name__)


class StateStore:
    """Best-effort get/set/delete, sync or async, over a store that may be missing or failing."""

    def __init__(self, store: Any, *, what: str) -> None:
        self._store = store
        self._what = what

    @classmethod
    def of_task(cls, context: Any) -> StateStore:
        """The running task instance's store (``context["task_state_store"]``), if any."""
        return cls(version_compat.task_state_store(context), what="task state store")

    @classmethod
    def of_watched_asset(cls, trigger: Any) -> StateStore:
        """The store of the one asset an event trigger watches (the triggerer sets it), if any."""
        return cls(version_compat.asset_state_store(trigger), what="asset state store")

    def get(self, key: str) -> Any:
        return self._use("get", key)

    def set(self, key: str, value: Any, **options: Any) -> None:
        self._use("set", key, value, **options)

    def delete(self, key: str) -> None:
        self._use("delete", key)

    async def aget(self, key: str) -> Any:
        return await self._ause("aget", key)

    async def aset(self, key: str, value: Any) -> None:
        await self._ause("aset", key, value)

    async def adelete(self, key: str) -> None:
        await self._ause("adelete", key)

    def _use(self, operation: str, *args: Any, **options: Any) -> Any:
        if self._store is None:
            return None
        try:
            return getattr(self._store, operation)(*args, **options)
        except Exception as error:  # an aid, never a reason to fail: see the module docstring
            self._give_up(operation, error)
            return None

    async def _ause(self, operation: str, *args: Any) -> Any:
        if self._store is None:
            return None
        try:
            return await getattr(self._store, operation)(*args)
        except Exception as error:
            self._give_up(operation, error)
            return None

    def _give_up(self, operation: str, error: Exception) -> None:
        log.warning("The %s failed (%s: %s); going on without it", self._what, operation, error)
        self._store = None


class TryRecord:
    """A value kept in the task state store under ``key``, stamped with the try that wrote it.

    The write guard wants what an *earlier* try left (it crashed mid-write); the reschedule-mode
    sensor wants what *this* try's earlier pokes saw. Both read through here.
    """

    def __init__(self, context: Any, key: str) -> None:
        self._store = StateStore.of_task(context)
        self._key = key
        number = getattr(context.get("ti"), "try_number", None)
        self.try_number = number if isinstance(number, int) else None

    def _read(self) -> tuple[int | None, dict[str, Any]] | None:
        record = self._store.get(self._key)
        if not isinstance(record, dict) or not isinstance(record.get("value"), dict):
            return None
        return record.get("try_number"), record["value"]

    def from_this_try(self) -> dict[str, Any] | None:
        found = self._read()
        return found[1] if found is not None and found[0] == self.try_number else None

    def from_earlier_try(self) -> tuple[int | None, dict[str, Any]] | None:
        found = self._read()
        return found if found is not None and found[0] != self.try_number else None

    def write(self, value: dict[str, Any], **options: Any) -> None:
        self._store.set(self._key, {"try_number": self.try_number, "value": value}, **options)

    def clear(self) -> None:
        self._store.delete(self._key)
