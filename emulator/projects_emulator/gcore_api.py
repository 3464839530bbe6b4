"""The Gcore Cloud API routes: projects (list, create, get, PUT, PATCH, delete) and tasks (get).

Behaviour follows the OpenAPI spec of the selected edition (``editions``) and the notes in the
project's API reference; where both are silent the choice is commented here, next to the code that
makes it. Every failure answers in Gcore's error format, routing failures included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from projects_emulator.editions import CURRENT, Edition, gcore_put_allowed
from projects_emulator.gcore_state import GcoreProject, GcoreStore
from projects_emulator.messages import BodyError, Request, Response, new_request_id
from projects_emulator.params import ParamError, parse_bool, parse_int

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z 0-9._\-]{1,61}[a-zA-Z0-9._]$"
_NAME_RE = re.compile(NAME_PATTERN)
DESCRIPTION_MAX = 255
ORDER_BY = ("created_at.asc", "created_at.desc", "name.asc", "name.desc")
_PROJECT = re.compile(r"/cloud/v1/projects/(?P<raw>[^/]+)")
_TASK = re.compile(r"/cloud/v1/tasks/(?P<task_id>[^/]+)")
_DIGITS = re.compile(r"[0-9]{1,19}")
#: How long a ``delete_project`` task holds its project: the ~16 s locks API_NOTES reports.
DELETE_SECONDS = 16.0
_EXCEPTION_CLASSES = {
    400: "ValidationError",
    401: "NotAuthenticated",
    403: "ForbiddenError",
    404: "NotFoundError",
    409: "ConflictError",
}

LOCK_MESSAGE = (
    "Operation on resource `{resource}` currently locked by running task `{task_type}` with id "
    "`{task_id}` ({timestamp}) to prevent concurrent operations. Repeat request a little later. "
)


class _Invalid(Exception):
    """A 400 ValidationError carrying per-field messages."""

    def __init__(self, invalid_fields: dict[str, list[str]]) -> None:
        super().__init__(invalid_fields)
        self.invalid_fields = invalid_fields


def error(
    status: int, exception_class: str, message: str, invalid_fields: dict[str, list[str]] | None = None
) -> Response:
    """Build a Gcore error: ``{exception_class, message, request_id}`` (+ ``invalid_fields``)."""
    request_id = new_request_id()
    body: dict[str, Any] = {"exception_class": exception_class, "message": message, "request_id": request_id}
    if invalid_fields is not None:
        body["invalid_fields"] = invalid_fields
    return Response(status, body, {"X-Request-ID": request_id})


def default_error(status: int) -> Response:
    """An error in Gcore's format for a bare status (used by faults given only a status)."""
    return error(status, _EXCEPTION_CLASSES.get(status, "HTTPError"), f"HTTP {status}: {phrase(status)}")


def phrase(status: int) -> str:
    """Return the standard reason phrase of a status code ("Error" for unregistered codes)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _http_error(status: int) -> Response:
    # Router-level failures (no route, method not allowed) come as HTTPError "HTTP <code>: <phrase>",
    # the shape API_NOTES records for the 405 a removed PUT gets.
    return error(status, "HTTPError", f"HTTP {status}: {phrase(status)}")


def mask_token(token: str) -> str:
    """Mask a token like Gcore's 401 message does (``21788*****21788``); short ones fully."""
    return f"{token[:5]}*****{token[-5:]}" if len(token) > 12 else "*****"


class GcoreApp:
    """Answers Gcore Cloud requests from a ``GcoreStore`` (the caller holds the emulator's lock)."""

    def __init__(self, store: GcoreStore, keys: Callable[[], frozenset[str]], *, edition: Edition = CURRENT) -> None:
        self.store = store
        self.keys = keys
        self.edition = edition
        #: How long a DELETE's ``delete_project`` task runs; None: until finished by hand.
        self.delete_seconds: float | None = DELETE_SECONDS

    def handle(self, request: Request) -> Response:
        """Authenticate, route and answer one request."""
        self.store.advance()
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        try:
            return self._route(request)
        except _Invalid as exc:
            fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.invalid_fields.items())
            return error(400, "ValidationError", f"Validation error: {fields}", exc.invalid_fields)

    def _authenticate(self, request: Request) -> Response | None:
        value = (request.header("authorization") or "").strip()
        if not value:
            return error(401, "NotAuthenticated", "Authentication credentials were not provided.")
        scheme, sep, token = value.partition(" ")
        token = token.strip()
        if not sep or not token:
            # No scheme word: never echo the value, it is probably a bare key.
            return error(401, "NotAuthenticated", "Invalid authorization header: expected 'APIKey <token>'.")
        if scheme.lower() == "apikey" and token in self.keys():
            return None
        return error(401, "NotAuthenticated", f"Invalid <{scheme}> authentication token: {mask_token(token)}")

    def _route(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/cloud/v1/projects":
            if method == "GET":
                return self._list(request)
            return self._create(request) if method == "POST" else _http_error(405)
        if match := _PROJECT.fullmatch(path):
            # Like a Django ``<int:project_id>`` / aiohttp ``{project_id:\d+}`` route, a non-integer
            # id does not match the route at all: 404 HTTPError, not a 400 ValidationError.
            if not _DIGITS.fullmatch(match["raw"]):
                return _http_error(404)
            return self._project_route(method, int(match["raw"]), request)
        if match := _TASK.fullmatch(path):
            return self._task(match["task_id"]) if method == "GET" else _http_error(405)
        return _http_error(404)

    def _project_route(self, method: str, project_id: int, request: Request) -> Response:
        if method == "GET":
            return self._with_project(project_id, lambda p: Response(200, p.to_json()))
        if method == "PATCH":
            return self._with_project(project_id, lambda p: self._write(p, request, replace=False))
        if method == "PUT" and gcore_put_allowed(self.edition):
            return self._with_project(project_id, lambda p: self._write(p, request, replace=True))
        if method == "DELETE":
            return self._with_project(project_id, self._delete)
        # Includes PUT under an edition without it: answered as a method the router lacks.
        return _http_error(405)

    def _with_project(self, project_id: int, answer: Callable[[GcoreProject], Response]) -> Response:
        project = self.store.active(project_id)
        if project is None:
            return error(404, "NotFoundError", f"Project {project_id} not found")
        return answer(project)

    def _list(self, request: Request) -> Response:
        limit = _int_param(request, "limit", default=100, minimum=1, maximum=1000)
        offset = _int_param(request, "offset", default=0, minimum=0, maximum=None)
        include_deleted = _bool_param(request, "include_deleted")
        order_by = request.param("order_by")
        if order_by is None:
            order_by = "created_at.desc"
        elif order_by not in ORDER_BY:  # "order_by=" included: the empty string is no enum member
            raise _Invalid({"order_by": [f"Input should be {', '.join(repr(o) for o in ORDER_BY)}"]})
        # ``name`` filtering: the spec says only "Name to filter the results by"; exact match is the
        # reading that cannot return a project the caller did not name.
        name = request.param("name")
        projects = [
            p
            for p in self.store.projects.values()
            if (include_deleted or not p.deleted) and (name is None or p.name == name)
        ]
        field, direction = order_by.split(".")
        projects.sort(key=lambda p: (p.name, p.id) if field == "name" else (p.created_at, p.id))
        if direction == "desc":
            projects.reverse()
        page = projects[offset : offset + limit]
        return Response(200, {"count": len(projects), "results": [p.to_json() for p in page]})

    def _task(self, task_id: str) -> Response:
        task = self.store.tasks.get(task_id)
        if task is None:
            return error(404, "NotFoundError", f"Task {task_id} not found")
        return Response(200, task.to_json(self.store.timeline))

    def _create(self, request: Request) -> Response:
        fields = _validate_body(_object_body(request), name_required=True, description_nullable=True)
        name = fields["name"]
        if self.store.name_taken(name, by_other_than=None):
            return _name_clash(name)
        project = self.store.add_project(name, description=fields.get("description"))
        return Response(201, project.to_json())

    def _write(self, project: GcoreProject, request: Request, *, replace: bool) -> Response:
        # PUT takes ``NameDescriptionSerializer`` (name required, description nullable); PATCH takes
        # ``UpdateProjectSerializer``, whose description is a plain string: null is refused.
        fields = _validate_body(_object_body(request), name_required=replace, description_nullable=replace)
        locked = self._locked(project)
        if locked is not None:
            return locked
        name = fields.get("name", project.name)
        # PUT replaces the record: an omitted description takes the documented default, null.
        keep_description = not replace and "description" not in fields
        description = project.description if keep_description else fields.get("description")
        # Names are "unique for a client" (schema); the real status for a clash is undocumented. A 409
        # whose message is NOT the lock message makes clients prove they do not retry it as a lock.
        if self.store.name_taken(name, by_other_than=project.id):
            return _name_clash(name)
        self.store.write(project, name, description)
        return Response(200, project.to_json())

    def _delete(self, project: GcoreProject) -> Response:
        if project.is_default:
            # "Default projects cannot be deleted" (spec); the status is undocumented. A 400 says the
            # request itself is wrong and must not be retried, which is the point.
            return error(400, "ValidationError", "Default project cannot be deleted.")
        locked = self._locked(project)
        if locked is not None:
            return locked
        task = self.store.lock(
            project.id,
            seconds=self.delete_seconds,
            task_type="delete_project",
            outcome="FINISHED",
            error=None,
            running_after=0.5,
            deletes_project=True,
        )
        return Response(200, {"tasks": [task.id]})

    def _locked(self, project: GcoreProject) -> Response | None:
        """The 409 a write to a project held by a running task gets, or None when it is free."""
        if project.task_id is None:
            return None
        task = self.store.tasks[project.task_id]
        message = LOCK_MESSAGE.format(
            resource=project.id,
            task_type=task.task_type,
            task_id=task.id,
            timestamp=task.to_json(self.store.timeline)["created_on"],
        )
        return error(409, "ConflictError", message)


def _name_clash(name: str) -> Response:
    return error(409, "ConflictError", f"Project with name `{name}` already exists.")


def _object_body(request: Request) -> dict[str, Any]:
    """The JSON object a write carries; none at all reads as ``{}`` (no spec marks it required)."""
    try:
        body = request.json_body()
    except BodyError as exc:
        raise _Invalid({"body": [str(exc)]}) from exc
    if not isinstance(body, dict):
        raise _Invalid({"body": ["Input should be a valid dictionary"]})
    return body


def _validate_body(body: dict[str, Any], *, name_required: bool, description_nullable: bool) -> dict[str, Any]:
    """Check a write's fields against its serializer and return the ones present.

    Unknown keys are ignored, as the serializers do not forbid them. ``description`` is capped at
    255 characters on PATCH too (its schema omits the cap, but the stored Project's schema has it).
    """
    problems: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str):
            problems["name"] = ["Input should be a valid string"]
        elif not _NAME_RE.fullmatch(name):
            problems["name"] = [f"String should match pattern '{NAME_PATTERN}'"]
        else:
            fields["name"] = name
    elif name_required:
        problems["name"] = ["Field required"]
    if "description" in body:
        description = body["description"]
        if description is None and description_nullable:
            fields["description"] = None
        elif not isinstance(description, str):
            problems["description"] = ["Input should be a valid string"]
        elif len(description) > DESCRIPTION_MAX:
            problems["description"] = [f"String should have at most {DESCRIPTION_MAX} characters"]
        else:
            fields["description"] = description
    if problems:
        raise _Invalid(problems)
    return fields


def _int_param(request: Request, name: str, *, default: int, minimum: int, maximum: int | None) -> int:
    raw = request.param(name)
    if raw is None:
        return default
    try:
        return parse_int(raw, minimum=minimum, maximum=maximum)
    except ParamError as exc:
        raise _Invalid({name: [f"Input should be {exc}"]}) from exc


def _bool_param(request: Request, name: str) -> bool:
    raw = request.param(name)
    if raw is None:
        return False
    try:
        return parse_bool(raw)
    except ParamError as exc:
        raise _Invalid({name: [f"Input should be {exc}"]}) from exc
