"""The Gcore Cloud API routes: projects (list, create, get, PUT, PATCH, delete) and tasks (get).

Behaviour follows the OpenAPI spec of the selected edition (``editions``) and the notes in the
project's API reference; where both are silent the choice is commented here, next to the code that
makes it. Every failure answers in Gcore's error format, routing failures included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from projects_emulator.common import Handlers, Invalid, ParamError, by_method, phrase
from projects_emulator.editions import CURRENT, Edition, gcore_put_allowed
from projects_emulator.gcore_input import ListQuery, object_body, validate_body
from projects_emulator.gcore_state import GcoreProject, GcoreStore
from projects_emulator.gcore_tasks import TaskPlan
from projects_emulator.messages import Request, Response, new_request_id

_PROJECT = re.compile(r"/cloud/v1/projects/(?P<raw>[^/]+)")
_TASK = re.compile(r"/cloud/v1/tasks/(?P<task_id>[^/]+)")
_DIGITS = re.compile(r"[0-9]{1,19}")
#: How long a ``delete_project`` task holds its project: the ~16 s locks API_NOTES reports.
DELETE_SECONDS = 16.0
_DELETE_TASK = TaskPlan(task_type="delete_project", deletes_project=True)
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
        except ParamError as exc:
            return _invalid({exc.name: [f"Input should be {exc.expected}"]})
        except Invalid as exc:
            return _invalid(exc.fields)

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
            return by_method(
                method, {"GET": lambda: self._list(request), "POST": lambda: self._create(request)}, _http_error
            )
        if match := _PROJECT.fullmatch(path):
            # Like a Django ``<int:project_id>`` / aiohttp ``{project_id:\d+}`` route, a non-integer
            # id does not match the route at all: 404 HTTPError, not a 400 ValidationError.
            if not _DIGITS.fullmatch(match["raw"]):
                return _http_error(404)
            return by_method(method, self._project_routes(int(match["raw"]), request), _http_error)
        if match := _TASK.fullmatch(path):
            return by_method(method, {"GET": lambda: self._task(match["task_id"])}, _http_error)
        return _http_error(404)

    def _project_routes(self, project_id: int, request: Request) -> Handlers:
        def on_project(answer: Callable[[GcoreProject], Response]) -> Callable[[], Response]:
            return lambda: self._with_project(project_id, answer)

        routes = {"GET": on_project(lambda p: Response(200, p.to_json()))}
        # An edition without PUT answers it as a method the router lacks: 405, and ``Allow`` omits it.
        if gcore_put_allowed(self.edition):
            routes["PUT"] = on_project(lambda p: self._write(p, request, replace=True))
        routes["PATCH"] = on_project(lambda p: self._write(p, request, replace=False))
        routes["DELETE"] = on_project(self._delete)
        return routes

    def _with_project(self, project_id: int, answer: Callable[[GcoreProject], Response]) -> Response:
        project = self.store.active(project_id)
        if project is None:
            return error(404, "NotFoundError", f"Project {project_id} not found")
        return answer(project)

    def _list(self, request: Request) -> Response:
        count, page = self.store.page(ListQuery.read(request))
        return Response(200, {"count": count, "results": [p.to_json() for p in page]})

    def _task(self, task_id: str) -> Response:
        task = self.store.tasks.get(task_id)
        if task is None:
            return error(404, "NotFoundError", f"Task {task_id} not found")
        return Response(200, task.to_json(self.store.timeline))

    def _create(self, request: Request) -> Response:
        fields = validate_body(object_body(request), name_required=True, description_nullable=True)
        name = fields["name"]
        if self.store.name_taken(name, by_other_than=None):
            return _name_clash(name)
        project = self.store.add_project(name, description=fields.get("description"))
        return Response(201, project.to_json())

    def _write(self, project: GcoreProject, request: Request, *, replace: bool) -> Response:
        # PUT takes ``NameDescriptionSerializer`` (name required, description nullable); PATCH takes
        # ``UpdateProjectSerializer``, whose description is a plain string: null is refused.
        fields = validate_body(object_body(request), name_required=replace, description_nullable=replace)
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
        (task,) = self.store.lock([project.id], [self.delete_seconds], _DELETE_TASK)
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


def _invalid(fields: dict[str, list[str]]) -> Response:
    summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
    return error(400, "ValidationError", f"Validation error: {summary}", fields)


def _name_clash(name: str) -> Response:
    return error(409, "ConflictError", f"Project with name `{name}` already exists.")
