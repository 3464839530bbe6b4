"""A transport exception's text made short without losing its reason: :func:`shorten`.

requests and aiohttp put the reason last, innermost ("... (Caused by ProxyError('Unable to
connect to proxy', NewConnectionError(... Connection refused)))"), after the pool, the host and
the URL. Cutting the text at a length cut that reason off; here the noise goes first (object
reprs, query strings, a host said twice, a message nested twice), then, if the text is still
long, its middle, so the start (what failed) and the end (why) both stay.

A leaf module: it runs on text already free of secrets (``wire.TransportFailure.of``).
"""

from __future__ import annotations

import re
from typing import Final

#: Longest text kept whole; a longer one loses its middle.
MAX_LENGTH: Final = 400
#: Characters kept from the start of a text cut in the middle (the rest of the budget is its end).
HEAD: Final = 120
ELLIPSIS: Final = "…"
#: aiohttp's connection key names its TLS setting (``ssl:default``, or a context by its repr), even
#: on plain http: the same noise in every message, never the reason.
_SSL_CONTEXT: Final = re.compile(r"\s*\bssl:(?:<[\w.]+ object at 0x[0-9a-fA-F]+>|default|True|False|None)(?=[\s\]]|$)")
#: Any other object repr (``<urllib3.connection.HTTPSConnection object at 0x7f...>``): its class says enough.
_OBJECT: Final = re.compile(r"<(?:[\w]+\.)*(\w+) object at 0x[0-9a-fA-F]+>")
#: A URL's query string: the request's own parameters, never the reason it failed.
_QUERY: Final = re.compile(r"(?<=[\w/])\?[^\s()'\"]+")
#: A URL or an absolute path too long to read at a glance.
_LONG_PATH: Final = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s()'\"]{60,}|(?<![\w/:])/[^\s()'\"]{60,}")
#: ``(host='api.gcore.com', port=443)`` as urllib3 renders a pool or a connection.
_HOST: Final = re.compile(r"\(host='[^']*', port=\d+\)")
#: A quoted message of some length, which urllib3 and aiohttp may nest in their own message again.
_QUOTED: Final = re.compile(r"(['\"])([^'\"]{24,})\1")


def shorten(text: str) -> str:
    """``text`` without its noise and at most :data:`MAX_LENGTH` characters, its end always kept."""
    text = _SSL_CONTEXT.sub("", text)
    text = _OBJECT.sub(r"\1", text)
    text = _QUERY.sub("?" + ELLIPSIS, text)
    text = _LONG_PATH.sub(lambda m: m.group()[:40] + ELLIPSIS + m.group()[-15:], text)
    text = _later_copies(_HOST, text, "(same host)")
    text = _later_copies(_QUOTED, text, None)
    if len(text) <= MAX_LENGTH:
        return text
    tail = MAX_LENGTH - HEAD - len(ELLIPSIS)
    return text[:HEAD] + ELLIPSIS + text[-tail:]


def _later_copies(pattern: re.Pattern[str], text: str, replacement: str | None) -> str:
    """``text`` with each match after the first identical one replaced (``None``: by its quotes around ``…``)."""
    seen: set[str] = set()

    def once(match: re.Match[str]) -> str:
        found = match.group()
        if found not in seen:
            seen.add(found)
            return found
        if replacement is not None:
            return replacement
        quote = match.group(1)
        return f"{quote}{ELLIPSIS}{quote}"

    return pattern.sub(once, text)
