"""Transport-neutral request and response values shared by the HTTP server and both API apps.

Keeping socket handling out of the API modules makes each API a plain function of
``(state, Request) -> Response`` that can be read without knowing anything about ``http.server``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

#: A value as returned by ``json.loads`` (kept as ``Any``: JSON has no precise static type here).
JSON = Any


class BodyError(ValueError):
    """The request body is not the JSON the route needs (answered as a 400 by the API apps)."""


@dataclass(frozen=True)
class Request:
    """One HTTP request as the API apps see it."""

    method: str
    #: Path the API routes on: percent-decoded, without the API's base prefix (``/projects/<id>``
    #: for GC AI), query string removed.
    path: str
    #: Path exactly as sent, query string removed.
    url_path: str
    query: dict[str, list[str]]
    #: Header names lower-cased; a repeated header keeps its last value.
    headers: dict[str, str]
    body: bytes = b""
    #: False when the path lies outside the API's base prefix: then no route of the API matches it.
    under_prefix: bool = True

    def header(self, name: str) -> str | None:
        """Return a header value by case-insensitive name."""
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        """Return the first value of a query parameter, or None when absent."""
        values = self.query.get(name)
        return values[0] if values else None

    def json_body(self) -> JSON:
        """Parse the body as JSON; an empty body reads as an empty object (``requests`` sends none)."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BodyError(f"Malformed JSON body: {exc}") from exc


@dataclass
class Response:
    """One HTTP response produced by an API app or a fault."""

    status: int
    body: JSON = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Bytes sent verbatim instead of ``body`` (faults use it to send malformed JSON).
    raw: bytes | None = None

    def encode(self) -> bytes:
        """Serialise the body; ``None`` means an empty body."""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body).encode()


def new_request_id() -> str:
    """Return a fresh request id, as both APIs put one in error bodies."""
    return str(uuid.uuid4())
