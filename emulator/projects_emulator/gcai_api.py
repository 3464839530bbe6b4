"""The GC AI external API routes: projects (list, create, get, PATCH, delete), ``/ping``, ``/me``.

Behaviour follows the OpenAPI spec; where it is silent the choice is commented next to the code.
Every route answers only with statuses the spec documents for it (which is why a non-UUID id is a
404: ``GET /projects/{id}`` documents no 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from projects_emulator.common import Invalid, ParamError, by_method, int_param, phrase
from projects_emulator.gcai_state import ORGANIZATION_ID, ApiKey, GcaiProject, GcaiStore
from projects_emulator.messages import BodyError, Request, Response
from projects_emulator.ratelimit import SlidingWindowLimiter
from projects_emulator.timeline import js_iso

PREFIX = "/api/external/v1"
_KEY_FORM = re.compile(r"(u:)?gcai_[A-Za-z0-9_\-]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PROJECT = re.compile(r"/projects/(?P<raw>[^/]+)")
_NULLABLE_TEXT = ("description", "custom_instructions")


def error(status: int, message: str, *, code: str | None = None, details: Any = None) -> Response:
    """Build a GC AI error: ``{"error": ..., "code"?: ..., "details"?: ...}``."""
    body: dict[str, Any] = {"error": message}
    if code is not None:
        body["code"] = code
    if details is not None:
        body["details"] = details
    return Response(status, body)


def _refuse(status: int) -> Response:
    return error(status, "Method not allowed")


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
        except ParamError as exc:
            response = error(400, "Invalid query parameters", details={exc.name: [f"Must be {exc.expected}"]})
        except Invalid as exc:
            response = error(400, exc.summary, details=exc.fields)
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
        if not request.under_prefix:
            return error(404, "Not found")
        if path == "/projects":
            return by_method(
                method, {"GET": lambda: self._list(request, key), "POST": lambda: self._create(request, key)}, _refuse
            )
        if path == "/ping":
            return by_method(method, {"GET": self._ping}, _refuse)
        if path == "/me":
            return by_method(method, {"GET": lambda: Response(200, key.identity())}, _refuse)
        if match := _PROJECT.fullmatch(path):
            raw_id = match["raw"]

            def on_project(answer: Callable[[GcaiProject], Response]) -> Callable[[], Response]:
                return lambda: self._with_project(raw_id, key, answer)

            routes = {
                "GET": on_project(lambda p: Response(200, p.to_json(key))),
                "PATCH": on_project(lambda p: self._patch(p, request, key)),
                "DELETE": on_project(lambda p: self._delete(p, key)),
            }
            return by_method(method, routes, _refuse)
        return error(404, "Not found")

    def _ping(self) -> Response:
        return Response(200, {"status": "pong", "timestamp": js_iso(self.store.timeline.epoch())})

    def _with_project(self, raw_id: str, key: ApiKey, answer: Callable[[GcaiProject], Response]) -> Response:
        project = self._find(raw_id, key)
        return error(404, "Project not found") if project is None else answer(project)

    def _find(self, raw_id: str, key: ApiKey) -> GcaiProject | None:
        # Not a UUID: no project can have that id, so "not found" (GET documents no 400).
        if not _UUID.fullmatch(raw_id):
            return None
        project = self.store.projects.get(raw_id.lower())
        return project if project is not None and project.visible_to(key) else None

    def _list(self, request: Request, key: ApiKey) -> Response:
        limit = int_param(request, "limit", default=100, minimum=1, maximum=500)
        offset = int_param(request, "offset", default=0, minimum=0, maximum=None)
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
            raise Invalid({"name": ["Required"]})
        controlled = body.get("is_access_controlled", key.user_id is not None)
        if not isinstance(controlled, bool):
            raise Invalid({"is_access_controlled": ["Expected boolean"]})
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
        raise Invalid({"body": ["Required"]})
    try:
        return request.json_body()
    except BodyError as exc:
        raise Invalid({"body": [str(exc)]}, "Invalid JSON body") from exc


def _validate_patch(body: Any) -> dict[str, Any]:
    """Check an ``UpdateProjectRequest`` body and return the changes to apply.

    Unknown keys are ignored: the schema does not forbid them (no ``additionalProperties: false``),
    which is what its zod-generated form means. ``name`` is stored trimmed.
    """
    if not isinstance(body, dict):
        raise Invalid({"body": ["Expected an object"]})
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
        raise Invalid(problems)
    return changes
