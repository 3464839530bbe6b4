"""Query-parameter parsing both APIs share; each API words the refusal in its own error format.

A parameter that is present must be a valid value of its type: an empty value (``offset=``,
``include_deleted=``) is refused, never read as "absent", because the specs type them as
integers and booleans and give no meaning to an empty string.
"""

from __future__ import annotations

import re

#: Digits of an int64 at most: longer is out of range anyway, and keeps ``int()`` cheap.
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class ParamError(ValueError):
    """A query parameter's value is not acceptable; the message completes "should be ..."."""


def parse_int(raw: str, *, minimum: int, maximum: int | None) -> int:
    """Read an integer within ``[minimum, maximum]`` (``maximum`` None: unbounded)."""
    if not _INTEGER.fullmatch(raw.strip()):
        raise ParamError("a valid integer")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        raise ParamError(f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}")
    return value


def parse_bool(raw: str) -> bool:
    """Read a boolean the way pydantic does for query strings (true/false, 1/0, yes/no, on/off)."""
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ParamError("a valid boolean")
