"""The GC AI external API routes: projects (list, create, get, PATCH, delete), ``/ping``, ``/me``.

Behaviour follows the OpenAPI spec; where it is silent the choice is commented next to the code.
Every route answers only with statuses the spec documents for it (which is why a non-UUID id is a
404: ``GET /projects/{id}`` documents no 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from projects_emulator.gcai_state import ORGANIZATION_ID, ApiKey, GcaiProject, GcaiStore
from projects_emulator.gcore_api import phrase
from projects_emulator.messages import BodyError, Request, Response
from projects_emulator.params import ParamError, parse_int
from projects_emulator.ratelimit import SlidingWindowLimiter
from projects_emulator.timeline import js_iso

PREFIX = "/api/external/v1"
_KEY_FORM = re.compile(r"(u:)?gcai_[A-Za-z0-9_\-]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PROJECT = re.compile(r"/projects/(?P<raw>[^/]+)")
_NULLABLE_TEXT = ("description", "custom_instructions")


class _Invalid(Exception):
    """A 400 carrying per-field messages in ``details``."""

    def __init__(self, error: str, details: dict[str, list[str]]) -> None:
        super().__init__(error)
        self.error = error
        self.details = details


def error(status: int, message: str, *, code: str | None = None, details: Any = None) -> Response:
    """Build a GC AI error: ``{"error": ..., "code"?: ..., "details"?: ...}``."""
    body: dict[str, Any] = {"error": message}
    if code is not None:
        body["code"] = code
    if details is not None:
        body["details"] = details
    return Response(status, body)


def default_error(status: int) -> Response:
    """An error in GC AI's format for a bare status (used by faults given only a status)."""
    if status == 429:
        return error(429, "Rate limit exceeded", code="RATE_LIMITED")
    return error(status, phrase(status))


class GcaiApp:
    """Answers GC AI requests from a ``GcaiStore`` (the caller holds the emulator's lock)."""

    def __init__(self, store: GcaiStore, limiter: Callable[[], SlidingWindowLimiter | None]) -> None:
        self.store = store
        self.limiter = limiter

    def handle(self, request: Request) -> Response:
        """Authenticate, rate-limit, route and answer one request."""
        key = self._authenticate(request)
        if isinstance(key, Response):
            return key
        # Counted per organisation, after authentication (an unknown key names no organisation), on
        # every route: the spec documents the 429 for each of them.
        limiter = self.limiter()
        decision = limiter.hit(str(ORGANIZATION_ID), self.store.timeline.now()) if limiter else None
        if decision is not None and not decision.allowed:
            refused = error(429, "Rate limit exceeded", code="RATE_LIMITED")
            refused.headers.update(decision.headers())
            return refused
        try:
            response = self._route(request, key)
        except _Invalid as exc:
            response = error(400, exc.error, details=exc.details)
        if decision is not None:
            response.headers.update(decision.headers())
        return response

    def _authenticate(self, request: Request) -> ApiKey | Response:
        value = (request.header("authorization") or "").strip()
        # The raw key is the whole header value: "Bearer gcai_..." is malformed, hence 401 like a
        # missing key; a well-formed key the organisation does not know is 403.
        if not _KEY_FORM.fullmatch(value):
            return error(401, "Missing or malformed API key")
        key = self.store.keys.get(value)
        return key if key is not None else error(403, "Invalid API key")

    def _route(self, request: Request, key: ApiKey) -> Response:
        path, method = request.path, request.method
        if not request.url_path.startswith(PREFIX + "/"):
            return error(404, "Not found")
        if path == "/projects" and method == "POST":
            return self._create(request, key)
        if path in ("/ping", "/me", "/projects"):
            if method != "GET":
                return error(405, "Method not allowed")
            if path == "/ping":
                return Response(200, {"status": "pong", "timestamp": js_iso(self.store.timeline.epoch())})
            if path == "/me":
                return Response(200, key.identity())
            return self._list(request, key)
        if match := _PROJECT.fullmatch(path):
            if method not in ("GET", "PATCH", "DELETE"):
                return error(405, "Method not allowed")
            project = self._find(match["raw"], key)
            if project is None:
                return error(404, "Project not found")
            if method == "GET":
                return Response(200, project.to_json(key))
            if method == "DELETE":
                return self._delete(project, key)
            return self._patch(project, request, key)
        return error(404, "Not found")

    def _find(self, raw_id: str, key: ApiKey) -> GcaiProject | None:
        # Not a UUID: no project can have that id, so "not found" (GET documents no 400).
        if not _UUID.fullmatch(raw_id):
            return None
        project = self.store.projects.get(raw_id.lower())
        return project if project is not None and project.visible_to(key) else None

    def _list(self, request: Request, key: ApiKey) -> Response:
        limit = _int_param(request, "limit", default=100, minimum=1, maximum=500)
        offset = _int_param(request, "offset", default=0, minimum=0, maximum=None)
        search = (request.param("search") or "").casefold()
        # Newest first: the spec does not say; creation order is stable under PATCH.
        visible = sorted(
            (p for p in self.store.projects.values() if p.visible_to(key) and search in p.name.casefold()),
            key=lambda p: (p.created_at, p.id),
            reverse=True,
        )
        page = visible[offset : offset + limit]
        return Response(
            200,
            {
                "projects": [p.to_json(key) for p in page],
                "pagination": {"limit": limit, "offset": offset, "has_more": offset + len(page) < len(visible)},
            },
        )

    def _patch(self, project: GcaiProject, request: Request, key: ApiKey) -> Response:
        if not project.writable_by(key):
            return error(404, "Project not found or insufficient write access")
        changes = _validate_patch(_required_body(request))
        # ``{}`` (undocumented) is accepted as a no-op: 200 with the project unchanged, and
        # ``updated_at`` does not move because nothing was written.
        if changes:
            self.store.write(project, changes)
        return Response(200, project.to_json(key))

    def _create(self, request: Request, key: ApiKey) -> Response:
        body = _required_body(request)
        changes = _validate_patch(body)
        if "name" not in changes:
            raise _Invalid("Invalid request body", {"name": ["Required"]})
        controlled = body.get("is_access_controlled", key.user_id is not None)
        if not isinstance(controlled, bool):
            raise _Invalid("Invalid request body", {"is_access_controlled": ["Expected boolean"]})
        # A personal key's caller becomes the creator (admin); an org key defaults to org-wide.
        project = self.store.add_project(
            changes["name"],
            description=changes.get("description"),
            custom_instructions=changes.get("custom_instructions"),
            access_controlled=controlled,
            user_access="admin" if key.user_id is not None else None,
        )
        return Response(201, project.to_json(key))

    def _delete(self, project: GcaiProject, key: ApiKey) -> Response:
        allowed = not project.is_access_controlled or project.access_level(key) == "admin"
        if not allowed:
            return error(404, "Project not found or insufficient access")
        self.store.delete_project(project.id)
        return Response(204)


def _required_body(request: Request) -> Any:
    """The parsed body of a route whose spec marks ``requestBody`` required (PATCH and POST)."""
    if not request.body.strip():
        raise _Invalid("Invalid request body", {"body": ["Required"]})
    try:
        return request.json_body()
    except BodyError as exc:
        raise _Invalid("Invalid JSON body", {"body": [str(exc)]}) from exc


def _validate_patch(body: Any) -> dict[str, Any]:
    """Check an ``UpdateProjectRequest`` body and return the changes to apply.

    Unknown keys are ignored: the schema does not forbid them (no ``additionalProperties: false``),
    which is what its zod-generated form means. ``name`` is stored trimmed.
    """
    if not isinstance(body, dict):
        raise _Invalid("Invalid request body", {"body": ["Expected an object"]})
    problems: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str):
            problems["name"] = ["Expected string"]
        elif not name.strip():
            problems["name"] = ["Name must not be empty"]
        else:
            changes["name"] = name.strip()
    for field in _NULLABLE_TEXT:
        if field in body:
            value = body[field]
            if value is not None and not isinstance(value, str):
                problems[field] = ["Expected string or null"]
            else:
                changes[field] = value
    if problems:
        raise _Invalid("Invalid request body", problems)
    return changes


def _int_param(request: Request, name: str, *, default: int, minimum: int, maximum: int | None) -> int:
    raw = request.param(name)
    if raw is None:
        return default
    try:
        return parse_int(raw, minimum=minimum, maximum=maximum)
    except ParamError as exc:
        raise _Invalid("Invalid query parameters", {name: [f"Must be {exc}"]}) from exc
