"""The request journal: what each emulated API received, with credentials redacted.

Tests assert on what a client actually sent (method, body, headers, retries). The journal keeps
everything except secrets: the ``Authorization`` value is replaced before it is stored, and any
known emulator key found elsewhere (query, body, other headers) is scrubbed too.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from projects_emulator.messages import Request

REDACTED = "<redacted>"

#: Headers whose whole value is a credential.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
#: Scheme words kept in front of a redacted Authorization value, so tests can check the scheme.
_SCHEMES = frozenset({"apikey", "bearer", "basic", "token", "digest"})


@dataclass(frozen=True)
class RecordedRequest:
    """One received request; ``headers`` have lower-cased names and redacted credentials."""

    api: str
    method: str
    #: Path without the API's base prefix (what fault patterns and ``requests(path=...)`` match).
    path: str
    #: Path as sent, query string removed.
    url_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    #: Parsed JSON body, the raw text when it is not JSON, or None when empty.
    body: Any
    #: Reading of the emulator's (injectable, monotonic) clock when the request arrived.
    time: float
    #: True when an injected fault answered or altered this request.
    faulted: bool


def redact_authorization(value: str) -> str:
    """Keep only a known scheme word (``APIKey <redacted>``); never keep any part of the key."""
    scheme, sep, _rest = value.strip().partition(" ")
    if sep and scheme.lower() in _SCHEMES:
        return f"{scheme} {REDACTED}"
    return REDACTED


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _body_value(raw: bytes, secrets: Iterable[str]) -> Any:
    if not raw:
        return None
    text = _scrub(raw.decode("utf-8", errors="replace"), secrets)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class Journal:
    """Bounded, in-order record of received requests (the owner serialises access with its lock)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: deque[RecordedRequest] = deque(maxlen=max_entries)

    def record(
        self, api: str, request: Request, at: float, *, faulted: bool, secrets: Iterable[str]
    ) -> RecordedRequest:
        """Store a redacted copy of ``request`` and return it."""
        known = tuple(secrets)
        headers = {
            name: (
                redact_authorization(value)
                if name in ("authorization", "proxy-authorization")
                else REDACTED
                if name in _SECRET_HEADERS
                else _scrub(value, known)
            )
            for name, value in request.headers.items()
        }
        query = {name: [_scrub(v, known) for v in values] for name, values in request.query.items()}
        entry = RecordedRequest(
            api=api,
            method=request.method,
            path=_scrub(request.path, known),
            url_path=_scrub(request.url_path, known),
            query=query,
            headers=headers,
            body=_body_value(request.body, known),
            time=at,
            faulted=faulted,
        )
        self._entries.append(entry)
        return entry

    def select(
        self, api: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[RecordedRequest]:
        """Return the entries matching every given filter, oldest first (``method`` ignores case)."""
        return [
            entry
            for entry in self._entries
            if (api is None or entry.api == api)
            and (method is None or entry.method == method.upper())
            and (path is None or entry.path == path)
        ]

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
