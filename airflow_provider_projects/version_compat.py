"""Differences between the Airflow versions this provider supports (3.2 and 3.3), in one place."""

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
