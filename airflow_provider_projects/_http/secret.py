"""A wrapper that keeps an API key out of reprs, logs and tracebacks' locals."""

from __future__ import annotations


class Secret:
    """Holds a key; only :meth:`reveal` gives it back, every rendering shows ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable: it must never leave the worker in serialized form")
