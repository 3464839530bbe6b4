"""``NOT_SET``: the marker for "argument not given", distinct from ``None`` ("clear this field").

GC AI's PATCH changes only the fields it receives and clears a field sent as JSON null, so the
provider must tell "leave it" from "clear it". The marker survives templating (Airflow renders
strings and containers, and leaves other objects alone), copying and pickling as the same object.
"""

from __future__ import annotations

from typing import Any, Final


class NotSet:
    """The type of :data:`NOT_SET`; there is only one instance."""

    _instance: NotSet | None = None

    def __new__(cls) -> NotSet:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_SET"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> NotSet:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> NotSet:
        return self

    def __reduce__(self) -> str:
        return "NOT_SET"


#: The one "argument not given" marker: the default of each GC AI field that may be left out.
NOT_SET: Final = NotSet()
