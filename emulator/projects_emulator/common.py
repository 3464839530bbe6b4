"""What both fake APIs share: reason phrases, refused input, query parameters, methods per route.

The checks live here once; each API words a refusal in its own error format (Gcore: a
``ValidationError`` with ``invalid_fields``; GC AI: ``{"error", "details"}``).

A query parameter that is present must be a valid value of its type: an empty value
(``offset=``, ``include_deleted=``) is refused, never read as "absent", because the specs type
them as integers and booleans and give no meaning to an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from http import HTTPStatus

from projects_emulator.messages import Request, Response

_INTEGER = re.compile(r"-?[0-9]+")
#: The longest integer Python converts from text by default (``sys.int_info.default_max_str_digits``):
#: a server written in Python refuses a longer one too, and no list is that long anyway.
MAX_DIGITS = 4300
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")

#: One route's answers, by method, in the order ``Allow`` names them.
Handlers = Mapping[str, Callable[[], Response]]


def check_keywords(given: Mapping[str, object], allowed: frozenset[str], where: str) -> None:
    """Refuse keyword arguments a ``**options`` signature does not define, as Python would."""
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(f"{where} got unexpected keyword arguments: {', '.join(unknown)}")


def phrase(status: int) -> str:
    """Return the standard reason phrase of a status code ("Error" for unregistered codes)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Invalid(Exception):
    """A 400: the request's input is wrong. ``fields`` maps each field to its problems."""

    def __init__(self, fields: dict[str, list[str]], summary: str = "Invalid request body") -> None:
        super().__init__(summary)
        self.fields = fields
        #: A one-line summary, for APIs whose error body has one (GC AI's ``error``).
        self.summary = summary


class ParamError(ValueError):
    """A query parameter's value is not acceptable; ``expected`` completes "should be ..."."""

    def __init__(self, name: str, expected: str) -> None:
        super().__init__(f"{name} should be {expected}")
        self.name = name
        self.expected = expected


def int_param(request: Request, name: str, *, default: int, minimum: int, maximum: int | None) -> int:
    """Read an integer query parameter within ``[minimum, maximum]`` (``maximum`` None: unbounded)."""
    raw = request.param(name)
    if raw is None:
        return default
    text = raw.strip()
    if not _INTEGER.fullmatch(text):
        raise ParamError(name, "a valid integer")
    in_range = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
    # Compare huge values by their digits, never by converting them: an unbounded ``offset`` may be
    # any length the spec allows, and a bounded one that long is out of range anyway.
    magnitude = text.lstrip("-").lstrip("0")
    if len(magnitude) > MAX_DIGITS:
        if text.startswith("-") or maximum is not None:
            raise ParamError(name, in_range)
        raise ParamError(name, f"an integer of at most {MAX_DIGITS} digits")
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        raise ParamError(name, in_range)
    return value


def bool_param(request: Request, name: str) -> bool:
    """Read a boolean query parameter the way pydantic does (true/false, 1/0, yes/no, on/off)."""
    raw = request.param(name)
    if raw is None:
        return False
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ParamError(name, "a valid boolean")


def by_method(method: str, handlers: Handlers, refuse: Callable[[int], Response]) -> Response:
    """Answer with the route's handler for ``method``, or refuse it with 405.

    RFC 9110 (15.5.6): a 405 MUST carry ``Allow`` with the methods the route supports, so a
    client can tell a PUT the current edition dropped from a route that never had one.
    """
    handler = handlers.get(method)
    if handler is not None:
        return handler()
    response = refuse(405)
    response.headers["Allow"] = ", ".join(handlers)
    return response
