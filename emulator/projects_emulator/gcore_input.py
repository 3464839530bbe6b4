"""What a Gcore request may carry: the list's query parameters and the write bodies, checked as the spec says.

Every refusal is a ``common.Invalid`` (or ``ParamError``) that ``gcore_api`` turns into Gcore's 400
``ValidationError`` with ``invalid_fields``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from projects_emulator.common import Invalid, bool_param, int_param
from projects_emulator.messages import BodyError, Request

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z 0-9._\-]{1,61}[a-zA-Z0-9._]$"
_NAME_RE = re.compile(NAME_PATTERN)
DESCRIPTION_MAX = 255
ORDER_BY = ("created_at.asc", "created_at.desc", "name.asc", "name.desc")
#: ``limit``: ``exclusiveMinimum: 0``, ``maximum: 1000`` in both editions; ``offset``: ``minimum: 0``, no maximum.
LIMIT_MAX = 1000

OrderField = Literal["created_at", "name"]


@dataclass(frozen=True)
class ListQuery:
    """``GET /cloud/v1/projects``'s parameters, checked, with the spec's defaults filled in."""

    limit: int = 100
    offset: int = 0
    include_deleted: bool = False
    #: Exact name to keep, or None for every name.
    name: str | None = None
    order_field: OrderField = "created_at"
    descending: bool = True

    @classmethod
    def read(cls, request: Request) -> ListQuery:
        """Check the query string; an unknown ``order_by`` (the empty one included) is refused."""
        order_by = request.param("order_by")
        if order_by is None:
            order_by = "created_at.desc"
        elif order_by not in ORDER_BY:
            raise Invalid({"order_by": [f"Input should be {', '.join(repr(o) for o in ORDER_BY)}"]})
        field, direction = order_by.split(".")
        # ``name``: the spec says only "Name to filter the results by"; exact match is the reading
        # that cannot return a project the caller did not name.
        return cls(
            limit=int_param(request, "limit", default=100, minimum=1, maximum=LIMIT_MAX),
            offset=int_param(request, "offset", default=0, minimum=0, maximum=None),
            include_deleted=bool_param(request, "include_deleted"),
            name=request.param("name"),
            order_field="name" if field == "name" else "created_at",
            descending=direction == "desc",
        )


def object_body(request: Request) -> dict[str, Any]:
    """The JSON object a write carries; none at all reads as ``{}`` (no spec marks it required)."""
    try:
        body = request.json_body()
    except BodyError as exc:
        raise Invalid({"body": [str(exc)]}) from exc
    if not isinstance(body, dict):
        raise Invalid({"body": ["Input should be a valid dictionary"]})
    return body


def validate_body(body: dict[str, Any], *, name_required: bool, description_nullable: bool) -> dict[str, Any]:
    """Check a write's fields against its serializer and return the ones present.

    Unknown keys are ignored, as the serializers do not forbid them. ``description`` is capped at
    255 characters on PATCH too (its schema omits the cap, but the stored Project's schema has it).
    """
    problems: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    if "name" in body:
        _check_name(body["name"], problems, fields)
    elif name_required:
        problems["name"] = ["Field required"]
    if "description" in body:
        _check_description(body["description"], description_nullable, problems, fields)
    if problems:
        raise Invalid(problems)
    return fields


def _check_name(name: Any, problems: dict[str, list[str]], fields: dict[str, Any]) -> None:
    if not isinstance(name, str):
        problems["name"] = ["Input should be a valid string"]
    elif not _NAME_RE.fullmatch(name):
        problems["name"] = [f"String should match pattern '{NAME_PATTERN}'"]
    else:
        fields["name"] = name


def _check_description(
    description: Any, nullable: bool, problems: dict[str, list[str]], fields: dict[str, Any]
) -> None:
    if description is None and nullable:
        fields["description"] = None
    elif not isinstance(description, str):
        problems["description"] = ["Input should be a valid string"]
    elif len(description) > DESCRIPTION_MAX:
        problems["description"] = [f"String should have at most {DESCRIPTION_MAX} characters"]
    else:
        fields["description"] = description
