"""The common base of every answer model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """An API object: tolerant of new fields, strict about the ones the spec requires."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def to_xcom(self) -> dict[str, Any]:
        """A JSON-safe dict with the API's own field names, unknown fields included."""
        return self.model_dump(mode="json")

    def summary(self) -> str:
        """A short description for logs and errors (models that wait is about say more)."""
        return type(self).__name__
