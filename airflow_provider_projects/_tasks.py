"""What the operators and the sensors share: checks of their arguments, Airflow's deferrable default,
and the hook they open on first use and close when their run ends.

Imported at DAG parse time by every operator and sensor module: nothing heavy here (no hook, no
HTTP library), only the cheap validation rules.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_provider_projects.errors import InvalidInputError

if TYPE_CHECKING:
    from airflow_provider_projects.hooks.base import ProjectsApiHook

V = TypeVar("V")
H = TypeVar("H", bound="ProjectsApiHook")

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
    """``[operators] default_deferrable``, Airflow's switch for every deferrable operator.

    Airflow's own configuration defines it (``False``), so no fallback is needed here.
    """
    from airflow.sdk.configuration import conf

    return bool(conf.getboolean("operators", "default_deferrable"))


class HookOwner(Generic[H]):
    """An operator or sensor that opens its hook on first use and closes it when its run ends.

    The hook holds a keep-alive session: whoever opens it closes it, in ``execute`` and
    ``execute_complete`` alike (``try: ... finally: self.close_hook()``).
    """

    @abstractmethod
    def make_hook(self) -> H:
        """A new hook for this task's connection (imported there: hooks are not loaded at parse time)."""

    @cached_property
    def hook(self) -> H:
        return self.make_hook()

    def close_hook(self) -> None:
        """Close the hook's session if this run opened one; the next use opens a new hook."""
        hook = self.__dict__.pop("hook", None)
        if hook is not None:
            hook.close()
