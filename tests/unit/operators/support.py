"""What the operators' tests share: Airflow's task state store as the operators use it, and a try's context."""

from __future__ import annotations

import json
from typing import Any


class FakeStore:
    """Airflow's task state store as the operators use it: get / set / delete of JSON values."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(initial or {})
        self.writes: list[tuple[str, str]] = []
        self.options: list[dict[str, Any]] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **options: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))  # the real store only takes JSON values
        self.writes.append(("set", key))
        self.options.append(options)

    def delete(self, key: str) -> None:
        self.values.pop(key, None)
        self.writes.append(("delete", key))


class FakeTI:
    def __init__(self, try_number: Any) -> None:
        self.try_number = try_number


def context(store: Any, try_number: Any) -> dict[str, Any]:
    return {"ti": FakeTI(try_number), "task_state_store": store}
