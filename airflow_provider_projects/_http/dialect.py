"""What differs between the two APIs on the wire: the auth header and the shape of errors.

Everything else (timeouts, retries, parsing) is the core's and is the same for both.
"""

from __future__ import annotations

import html
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Final

from airflow_provider_projects._http.wire import Request, Response
from airflow_provider_projects.errors import ConflictError, LockConflictError, ProjectsApiError

_SNIPPET_CHARS: Final = 200
_TAGS: Final = re.compile(r"<[^>]*>")
_SPACES: Final = re.compile(r"\s+")
#: Gcore's 409 text: "Operation on resource `<id>` currently locked by running task `<type>` with id
#: `<uuid>` (<timestamp>) to prevent concurrent operations. Repeat request a little later. "
GCORE_LOCK_MESSAGE: Final = re.compile(
    r"resource `(?P<resource>[^`]*)` currently locked by running task `(?P<task_type>[^`]*)` "
    r"with id `(?P<task_id>[0-9a-fA-F-]{36})`"
)


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """The API's own account of an error."""

    api_code: str | None
    message: str
    request_id: str | None


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _snippet(body: bytes) -> str:
    """A readable excerpt of a non-JSON body (often an HTML page from a proxy)."""
    text = body[: _SNIPPET_CHARS * 20].decode("utf-8", errors="replace")
    text = _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", text))).strip()
    return text[:_SNIPPET_CHARS] or "(empty body)"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Dialect(ABC):
    """One API's wire conventions."""

    name: str

    @abstractmethod
    def authorization(self, key: str) -> str:
        """The ``Authorization`` header value for this key."""

    @abstractmethod
    def error_details(self, response: Response) -> ErrorDetails:
        """Read the API's error body (or a snippet of a foreign one)."""

    def special_error(self, request: Request, details: ErrorDetails, fields: dict[str, Any]) -> ProjectsApiError | None:
        """An error type this API needs beyond the status mapping, or ``None``.

        ``fields`` are the error's own fields (status, API code and message, request id, method,
        URL), built once by the core for whichever error type is chosen.
        """
        return None

    def hint(self, request: Request, status: int) -> str | None:
        """A sentence on how to fix this failure, or ``None``."""
        return None


class GcoreDialect(Dialect):
    """Gcore Cloud: ``Authorization: APIKey <key>``; errors ``{exception_class, message, request_id}``."""

    name = "Gcore Cloud"

    def authorization(self, key: str) -> str:
        return f"APIKey {key}"

    def error_details(self, response: Response) -> ErrorDetails:
        body = _json_object(response.body)
        header_id = response.headers.get("X-Request-Id")
        if body is None:
            return ErrorDetails(None, _snippet(response.body), header_id)
        message = _text(body.get("message")) or _text(body.get("detail")) or ""
        invalid = body.get("invalid_fields")
        if isinstance(invalid, dict) and invalid:
            message += " " + "; ".join(f"{k}: {v}" for k, v in invalid.items())
        return ErrorDetails(
            _text(body.get("exception_class")), message.strip(), _text(body.get("request_id")) or header_id
        )

    def special_error(self, request: Request, details: ErrorDetails, fields: dict[str, Any]) -> ProjectsApiError | None:
        """A 409 is judged here, once: a lock when the message names its holder, else another conflict."""
        if fields["status"] != 409:
            return None
        where = f"{self.name} {request.method} {request.path}"
        match = GCORE_LOCK_MESSAGE.search(details.message)
        if match is None:  # a lock in other words, or another conflict (e.g. a taken name)
            return ConflictError(
                f"{where} answered 409 Conflict naming no lock holder, so there is no task to wait for; "
                f"nothing was written. API said: {details.message}",
                **fields,
            )
        holder = match.groupdict()
        return LockConflictError(
            f"{where}: the resource is locked by task {holder['task_id']} ({holder['task_type']}); the write "
            f"can be repeated once that task ends. API said: {details.message}",
            task_id=holder["task_id"],
            task_type=holder["task_type"],
            resource_id=holder["resource"],
            **fields,
        )

    def hint(self, request: Request, status: int) -> str | None:
        if status == 401:
            return (
                "Check the Gcore connection: its password field must hold the API token alone "
                "(the provider sends it as 'APIKey <token>')"
            )
        if status == 403:
            return "The key is valid but may not do this: check its permissions in the Gcore portal"
        if status == 405 and request.method == "PUT":
            return (
                "Gcore deprecated PUT /cloud/v1/projects/{project_id} (2025-12) and this endpoint no longer "
                "accepts it; its successor is PATCH /cloud/v1/projects/{project_id}. "
                "Use method='PATCH' (the default) or method='auto' on GcoreReplaceProjectOperator"
            )
        return None


class GcaiDialect(Dialect):
    """GC AI: the raw key in ``Authorization``; errors ``{error, code?, message?, details?}``."""

    name = "GC AI"

    def authorization(self, key: str) -> str:
        return key

    def error_details(self, response: Response) -> ErrorDetails:
        body = _json_object(response.body)
        request_id = response.headers.get("X-Request-Id")
        if body is None:
            return ErrorDetails(None, _snippet(response.body), request_id)
        parts = [_text(body.get("error")), _text(body.get("message"))]
        details = body.get("details")
        if isinstance(details, dict) and details:
            parts.append(json.dumps(details, ensure_ascii=False)[:_SNIPPET_CHARS])
        return ErrorDetails(_text(body.get("code")), ": ".join(p for p in parts if p), request_id)

    def hint(self, request: Request, status: int) -> str | None:
        if status == 401:
            return (
                "The key is missing or malformed: put the GC AI key alone in the connection's password "
                "field, as 'gcai_...' (organisation key) or 'u:gcai_...' (personal key), without 'Bearer'"
            )
        if status == 403:
            return "The key is not valid (revoked or mistyped): create a new one in GC AI under Settings -> API"
        if status == 404 and request.method == "GET":
            return (
                "GC AI answers 404 both when the project does not exist and when this key cannot see it "
                "(organisation keys do not see access-controlled projects)"
            )
        if status == 404:
            return (
                "GC AI answers 404 both when the project does not exist and when this key has no write "
                "access to it (organisation keys can only change projects that are not access-controlled)"
            )
        return None
