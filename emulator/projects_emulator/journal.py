"""The request journal: what each emulated API received, with credentials redacted.

Tests assert on what a client actually sent (method, body, headers, retries). The journal keeps
everything except secrets: the ``Authorization`` value is replaced before it is stored, and any
known emulator key found elsewhere (query, body, other headers) is scrubbed too.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import OrderedDict
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
    #: Reading of the emulator's (injectable, monotonic) clock when the request arrived: for
    #: ordering requests and measuring the time between them.
    time: float
    #: True when an injected fault answered or altered this request.
    faulted: bool
    #: When the request arrived, as ISO 8601 UTC (``2026-05-04T09:30:00.123456Z``), to line up with
    #: Airflow's logs. It follows the injected clock (wall time at start + the clock's progress).
    wall_time: str
    #: The status it was answered with (a fault's included); None while a stall holds it, or when
    #: its connection was closed without an answer (``drop``).
    status: int | None = None


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
        self._max = max_entries
        #: Entries by arrival number, oldest first; the number finds an entry again to add its status.
        self._entries: OrderedDict[int, RecordedRequest] = OrderedDict()
        self._arrivals = itertools.count()

    def record(
        self, api: str, request: Request, at: float, wall_time: str, *, faulted: bool, secrets: Iterable[str]
    ) -> int:
        """Store a redacted copy of ``request``; returns its number, for ``answered``."""
        known = tuple(secrets)
        entry = RecordedRequest(
            api=api,
            method=request.method,
            path=_scrub(request.path, known),
            url_path=_scrub(request.url_path, known),
            query={name: [_scrub(v, known) for v in values] for name, values in request.query.items()},
            headers={name: _header_value(name, value, known) for name, value in request.headers.items()},
            body=_body_value(request.body, known),
            time=at,
            faulted=faulted,
            wall_time=wall_time,
        )
        number = next(self._arrivals)
        self._entries[number] = entry
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return number

    def answered(self, number: int, status: int | None) -> None:
        """Note the status request ``number`` was answered with (None: closed unanswered)."""
        entry = self._entries.get(number)
        if entry is not None:
            self._entries[number] = dataclasses.replace(entry, status=status)

    def select(
        self, api: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[RecordedRequest]:
        """Return the entries matching every given filter, oldest first (``method`` ignores case)."""
        return [
            entry
            for entry in self._entries.values()
            if (api is None or entry.api == api)
            and (method is None or entry.method == method.upper())
            and (path is None or entry.path == path)
        ]

    def clear(self) -> int:
        """Forget every entry; returns how many there were."""
        count = len(self._entries)
        self._entries.clear()
        return count


def _header_value(name: str, value: str, secrets: tuple[str, ...]) -> str:
    if name in ("authorization", "proxy-authorization"):
        return redact_authorization(value)
    return REDACTED if name in _SECRET_HEADERS else _scrub(value, secrets)
