"""What the operators' tests share: Airflow's task state store as the operators use it, and a try's context."""

from __future__ import annotations

from typing import Any

from fakes import FakeStore

__all__ = ["FakeStore", "FakeTI", "context"]


class FakeTI:
    def __init__(self, try_number: Any) -> None:
        self.try_number = try_number


def context(store: Any, try_number: Any) -> dict[str, Any]:
    return {"ti": FakeTI(try_number), "task_state_store": store}
