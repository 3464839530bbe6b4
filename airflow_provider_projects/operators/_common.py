"""What the two operators share beyond ``_tasks.py``: how a change is told in the task log."""

from __future__ import annotations

from typing import Any

from airflow_provider_projects.validation import shown


def describe_change(before: dict[str, Any] | None, after: dict[str, Any], fields: tuple[str, ...]) -> str:
    """One log line of what changed: ``name 'a' -> 'b'; description unchanged``.

    With no ``before`` (nothing was read first), it says what was set.
    """
    parts = []
    for field in fields:
        new = shown(after.get(field))
        if before is None:
            parts.append(f"{field} = {new}")
        elif before.get(field) == after.get(field):
            parts.append(f"{field} unchanged")
        else:
            parts.append(f"{field} {shown(before.get(field))} -> {new}")
    return "; ".join(parts)
