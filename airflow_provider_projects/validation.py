"""Input rules of both APIs, checked before any request is sent.

Pure Python on purpose: operators call these at construction time (during DAG parsing) for
literal values, so this module must stay cheap to import (no pydantic, no HTTP library).
Each function returns the value in the form the API wants or raises :class:`InvalidInputError`
naming the field and the rule.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any, Final

from airflow_provider_projects.errors import InvalidInputError
from airflow_provider_projects.unset import NOT_SET, NotSet

# From the Gcore OpenAPI extract (NameDescriptionSerializer.name): 3-63 characters, starts with a
# letter or digit, ends with a letter, digit, dot or underscore.
GCORE_NAME_PATTERN: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z 0-9._\-]{1,61}[a-zA-Z0-9._]$")
GCORE_DESCRIPTION_MAX: Final = 255
_DIGITS: Final = re.compile(r"[0-9]+")
#: The hyphenated 8-4-4-4-12 form the APIs hand out (uuid.UUID alone also takes "urn:..." and other shapes).
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SHOWN_CHARS: Final = 60


def shown(value: Any) -> str:
    """A short, safe rendering of a rejected value for an error message."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def refusal(field: str, rule: str, value: Any) -> InvalidInputError:
    """The error for ``value`` breaking ``rule``, naming the field and showing the value, shortened."""
    return InvalidInputError(f"{field} {rule} (got {shown(value)})", field=field, rule=rule)


def gcore_project_id(value: Any, field: str = "project_id") -> int:
    """A Gcore project id: a positive integer, or its decimal text (templates render to text)."""
    rule = "must be a positive integer"
    if isinstance(value, bool):
        raise refusal(field, rule, value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise refusal(field, rule, value)
    if number <= 0 or number >= 2**63:  # int64 in the spec
        raise refusal(field, rule + " below 2**63", value)
    return number


def gcore_task_id(value: Any, field: str = "gcore_task_id") -> str:
    """A Gcore task id: the UUID text the API hands out."""
    return _uuid_text(value, field)


def gcore_name(value: Any, field: str = "name") -> str:
    """A Gcore project name: 3-63 characters matching the API's pattern."""
    if not isinstance(value, str):
        raise refusal(field, "must be a string", value)
    if not 3 <= len(value) <= 63:
        raise refusal(field, f"must be 3 to 63 characters long, not {len(value)}", value)
    if not GCORE_NAME_PATTERN.fullmatch(value):  # not .match: '$' also matches before a final newline
        raise refusal(
            field,
            "must start with a letter or digit, contain only letters, digits, spaces, '.', '_' or '-', "
            "and end with a letter, digit, '.' or '_'",
            value,
        )
    return value


def gcore_description(value: Any, field: str = "description") -> str | None:
    """A Gcore project description: None (cleared) or at most 255 characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise refusal(field, "must be a string or None", value)
    if len(value) > GCORE_DESCRIPTION_MAX:
        raise refusal(field, f"must be at most {GCORE_DESCRIPTION_MAX} characters, not {len(value)}", value)
    return value


#: How GcoreReplaceProjectOperator sends a replacement: see ``GcoreHook.replace_project``.
GCORE_REPLACE_METHODS: Final = ("auto", "PUT", "PATCH")


def gcore_replace_method(value: Any, field: str = "method") -> str:
    """``PATCH`` (the default), ``PUT``, or ``auto`` (PUT, then PATCH on 405)."""
    if value not in GCORE_REPLACE_METHODS:
        raise refusal(field, f"must be one of {', '.join(map(repr, GCORE_REPLACE_METHODS))}", value)
    return str(value)


def gcai_project_id(value: Any, field: str = "project_id") -> str:
    """A GC AI project id: a UUID, sent in its canonical lower-case hyphenated form."""
    return _uuid_text(value, field)


def gcai_name(value: Any, field: str = "name") -> str:
    """A GC AI project name: any string that is not empty after trimming (sent as given)."""
    if not isinstance(value, str):
        raise refusal(field, "must be a string", value)
    if not value.strip():
        raise refusal(field, "must not be empty after trimming whitespace", value)
    return value


def gcai_optional_text(value: Any, field: str) -> str | None:
    """GC AI ``description`` / ``custom_instructions``: a string, or None to clear the field.

    The spec sets no maximum length for these; the API is left to judge long values.
    """
    if value is None or isinstance(value, str):
        return value
    raise refusal(field, "must be a string, or None to clear it", value)


def gcai_update_body(
    *,
    name: str | NotSet = NOT_SET,
    description: str | NotSet | None = NOT_SET,
    custom_instructions: str | NotSet | None = NOT_SET,
) -> dict[str, str | None]:
    """The exact PATCH body: fields not given are left out; ``None`` is sent as null (clears).

    Raises :class:`InvalidInputError` naming the field for a bad value, or when nothing would be
    sent: the spec leaves ``{}`` undocumented, so the provider refuses to guess what it does.
    """
    body: dict[str, str | None] = {}
    if not isinstance(name, NotSet):
        body["name"] = gcai_name(name)
    if not isinstance(description, NotSet):
        body["description"] = gcai_optional_text(description, "description")
    if not isinstance(custom_instructions, NotSet):
        body["custom_instructions"] = gcai_optional_text(custom_instructions, "custom_instructions")
    if not body:
        raise InvalidInputError(
            "nothing to update: give at least one of name, description, custom_instructions "
            "(None clears description or custom_instructions)",
            field="name, description, custom_instructions",
            rule="at least one field",
        )
    return body


def positive_seconds(value: Any, field: str) -> float:
    """A duration in seconds that must be greater than zero."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise refusal(field, "must be a finite number of seconds greater than 0", value)
    return float(value)


def error_count(value: Any, field: str) -> int:
    """A number of tolerated failures: a whole number, zero or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise refusal(field, "must be a whole number, 0 or more", value)
    return value


def _uuid_text(value: Any, field: str) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and _UUID.fullmatch(value):
        return str(uuid.UUID(value))
    raise refusal(field, "must be a UUID like '3c90c3cc-0d44-4b50-8888-8dd25736052a'", value)
