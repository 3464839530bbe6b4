"""Differences between the Airflow versions this provider supports (3.2 and 3.3), in one place.

Every branch on what an Airflow version has or lacks lives here, so that removing support for a
version is a change to this module and its callers' imports, nothing else.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Connection


async def aextra_dejson(conn: Connection) -> dict[str, Any]:
    """A connection's extras, parsed with the async API where it exists (3.3+).

    3.3's ``extra_dejson`` may talk to the supervisor and block the triggerer's event loop;
    3.2 has no async twin, and there the extras are already on the object.
    """
    aextra = getattr(conn, "aextra_dejson", None)
    if aextra is not None:
        return await aextra()  # type: ignore[no-any-return]
    return conn.extra_dejson


def conn_field(extra: dict[str, Any], conn_type: str | None, name: str) -> Any:
    """A connection form field stored in the extras.

    Airflow 3.2+ forms store ``conn-fields`` under their own name; connections saved by the older
    forms (before 3.2, kept through upgrades) hold them as ``extra__<type>__<name>``.
    """
    return extra.get(name, extra.get(f"extra__{conn_type}__{name}"))


def task_state_store(context: Any) -> Any:
    """The running task instance's state store (3.3+), or ``None`` (3.2 has none)."""
    return context.get("task_state_store") if hasattr(context, "get") else None


def asset_state_store(trigger: Any) -> Any:
    """The state store the triggerer gives a watcher of one asset (3.3+), or ``None`` (3.2 has none)."""
    return getattr(trigger, "asset_state_store", None)
