"""Small helpers the operators and sensors share; cheap to import (DAG parsing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_projects.errors import InvalidInputError
from airflow_provider_projects.validation import shown

V = TypeVar("V")

_JINJA_MARKERS = ("{{", "{%", "{#")


def is_template(value: Any) -> bool:
    """True for a value Airflow will render later (a Jinja string or an XComArg-like object).

    Such values are validated after rendering, at execute time; literal ones at construction,
    so a wrong id or name fails the DAG import instead of the run.
    """
    if isinstance(value, str):
        return any(marker in value for marker in _JINJA_MARKERS)
    return hasattr(value, "resolve")


def checked_literal(task_id: Any, check: Callable[..., V], value: Any, *args: Any) -> V:
    """``check(value, *args)`` at DAG parse time, with the task named in the error.

    A DAG of forty tasks that fails to import with "name must be 3 to 63 characters long" leaves
    the author to guess which task; this says.
    """
    try:
        return check(value, *args)
    except InvalidInputError as error:
        raise InvalidInputError(f"Task {task_id!r}: {error}", field=error.field, rule=error.rule) from None


def checked_unless_template(task_id: Any, check: Callable[..., V], value: Any, *args: Any) -> Any:
    """A literal checked now (naming the task), or a template as it is: checked after rendering."""
    return value if is_template(value) else checked_literal(task_id, check, value, *args)


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, Airflow's switch for every deferrable operator."""
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - Airflow before the Task SDK owned the config
        from airflow.configuration import conf

    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


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
