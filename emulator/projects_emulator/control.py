"""The control endpoint: a small JSON API that changes a running emulator from another process.

It listens on a port of its own (``--control-port``), not under a path of the Gcore or GC AI
port, so that no vendor route can ever collide with it, no injected fault (``fault gcore * .*``)
can break the controls, and control calls never show up in the request journal or count against
the GC AI rate limit. Like the API ports it binds 127.0.0.1 by default and needs no key: it holds
nothing but fake data.

Every route calls the same ``ProjectsEmulator`` method a test would call in-process::

    GET    /                         what is running (edition, URLs, faults, held requests)
    POST   /gcore/projects           {"count", "name_prefix"?, "description"?} -> {"project_ids"}
    POST   /locks                    {"project_id", "seconds"?, "task_type"?, "outcome"?, "error"?} -> {"task_id"}
                                     {"project_ids": [...], "seconds"?: S|[S, ...], ...} -> {"task_ids"}
    POST   /tasks/<id>/finish        {"state"?: FINISHED|ERROR, "error"?} -> {"task"}
    GET    /faults                   {"faults": [...]}
    POST   /faults                   add_fault's arguments as JSON ("path" is the regex) -> {"fault"}
    DELETE /faults                   withdraw every fault -> {"cleared": N}
    DELETE /faults/<id>              withdraw one -> {"removed": id}
    GET    /stalls                   {"stalled": [...]}: requests held by stall faults
    POST   /stalls/release|drop      {"fault_id"?} -> {"count"}
    GET    /journal?api=&method=&path=   {"requests": [...]}, each with its answer's "status"
    DELETE /journal                  forget the journal -> {"cleared": N}
    PUT    /rate-limit               {"limit": N|null, "window"?: S} -> the same, as now set
    PUT    /edition                  {"edition": "2026-05"|"2026-08"}
    POST   /reset                    back to the seeded start -> {"reset": true}
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from projects_emulator.common import phrase
from projects_emulator.faults import FaultOptions
from projects_emulator.messages import BodyError, Request, Response
from projects_emulator.server import Outcome

if TYPE_CHECKING:
    from projects_emulator.emulator import ProjectsEmulator

_TASK_FINISH = re.compile(r"/tasks/(?P<task_id>[^/]+)/finish")
_FAULT = re.compile(r"/faults/(?P<fault_id>[0-9]+)")
_STALLS = re.compile(r"/stalls/(?P<action>release|drop)")
_FAULT_ARGS = FaultOptions.__optional_keys__
_LOCK_ARGS = ("task_type", "outcome", "error")


class _Refused(Exception):
    """A control call the emulator cannot carry out: answered with ``status`` and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class ControlApp:
    """Answers control calls by calling the emulator's own methods (``Dispatcher`` protocol)."""

    def __init__(self, emulator: ProjectsEmulator) -> None:
        self.emu = emulator

    def error(self, api: str, status: int) -> Response:
        """A bare-status error in the control endpoint's format."""
        return Response(status, {"error": phrase(status)})

    def dispatch(self, api: str, request: Request) -> Outcome:
        """Carry out one control call; refusals and emulator errors become JSON errors."""
        try:
            return Outcome(Response(200, self._route(request)))
        except _Refused as exc:
            return Outcome(Response(exc.status, {"error": str(exc)}))
        except KeyError as exc:
            return Outcome(Response(404, {"error": f"not found: {exc.args[0]}"}))
        except (ValueError, TypeError, BodyError) as exc:
            return Outcome(Response(400, {"error": str(exc)}))
        except RuntimeError as exc:  # e.g. a project already locked, a task already ended
            return Outcome(Response(409, {"error": str(exc)}))

    def _route(self, request: Request) -> dict[str, Any]:
        routes: dict[tuple[str, str], Callable[[Request], dict[str, Any]]] = {
            ("GET", "/"): lambda _: self._status(),
            ("POST", "/gcore/projects"): self._add_projects,
            ("POST", "/locks"): self._lock,
            ("GET", "/faults"): lambda _: {"faults": [f.to_json() for f in self.emu.faults()]},
            ("POST", "/faults"): self._add_fault,
            ("DELETE", "/faults"): lambda _: {"cleared": self.emu.clear_faults()},
            ("GET", "/stalls"): lambda _: {"stalled": self.emu.stalled()},
            ("GET", "/journal"): self._journal,
            ("DELETE", "/journal"): lambda _: {"cleared": self.emu.clear_journal()},
            ("PUT", "/rate-limit"): self._rate_limit,
            ("PUT", "/edition"): self._edition,
            ("POST", "/reset"): self._reset,
        }
        handler = routes.get((request.method, request.path))
        if handler is not None:
            return handler(request)
        if request.method == "POST" and (match := _TASK_FINISH.fullmatch(request.path)):
            return self._finish(match["task_id"], request)
        if request.method == "DELETE" and (match := _FAULT.fullmatch(request.path)):
            self.emu.remove_fault(int(match["fault_id"]))
            return {"removed": int(match["fault_id"])}
        if request.method == "POST" and (match := _STALLS.fullmatch(request.path)):
            fault_id = _field(_body(request), "fault_id", int, None)
            act = self.emu.release_stalled if match["action"] == "release" else self.emu.drop_stalled
            return {"count": act(fault_id)}
        known = {path for _, path in routes} | {"/tasks/<id>/finish", "/faults/<id>", "/stalls/release"}
        raise _Refused(404, f"no control route {request.method} {request.path} (routes: {', '.join(sorted(known))})")

    def _status(self) -> dict[str, Any]:
        return {
            "edition": self.emu.edition,
            "gcore_url": self.emu.gcore_url,
            "gcai_url": self.emu.gcai_url,
            "control_url": self.emu.control_url,
            "faults": [f.to_json() for f in self.emu.faults()],
            "stalled": self.emu.stalled(),
        }

    def _add_projects(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        ids = self.emu.add_gcore_projects(
            _field(body, "count", int),
            name_prefix=_field(body, "name_prefix", str, "project"),
            description=_field(body, "description", str, None),
        )
        return {"project_ids": ids}

    def _lock(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        options = {name: _field(body, name, str, None) for name in _LOCK_ARGS if name in body}
        if "project_ids" in body:
            ids = _field(body, "project_ids", list)
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise ValueError("field 'project_ids' must be a list of integers")
            seconds = body.get("seconds")
            each = _durations(seconds, len(ids)) if isinstance(seconds, list) else _field(body, "seconds", float, None)
            return {"task_ids": self.emu.lock_gcore_projects(ids, seconds=each, **options)}
        seconds = _field(body, "seconds", float, None)
        return {"task_id": self.emu.lock_gcore_project(_field(body, "project_id", int), seconds=seconds, **options)}

    def _finish(self, task_id: str, request: Request) -> dict[str, Any]:
        body = _body(request)
        self.emu.finish_task(
            task_id, state=_field(body, "state", str, "FINISHED"), error=_field(body, "error", str, None)
        )
        return {"task": self.emu.gcore_task(task_id)}

    def _add_fault(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        unknown = set(body) - {"api", "method", "path", *_FAULT_ARGS}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        fault = self.emu.add_fault(
            _field(body, "api", str),
            _field(body, "method", str, "*"),
            _field(body, "path", str),
            **{name: body[name] for name in _FAULT_ARGS if name in body},
        )
        return {"fault": fault.to_json()}

    def _journal(self, request: Request) -> dict[str, Any]:
        entries = self.emu.requests(
            api=request.param("api"), method=request.param("method"), path=request.param("path")
        )
        return {"requests": [dataclasses.asdict(entry) for entry in entries]}

    def _rate_limit(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        limit, window = _field(body, "limit", int, None), _field(body, "window", float, 60.0)
        self.emu.set_gcai_rate_limit(limit, window)
        return {"limit": limit, "window": window}

    def _reset(self, request: Request) -> dict[str, Any]:
        self.emu.reset()
        return {"reset": True}

    def _edition(self, request: Request) -> dict[str, Any]:
        self.emu.edition = _field(_body(request), "edition", str)
        return {"edition": self.emu.edition}


_MISSING: Any = object()


def _durations(values: list[Any], count: int) -> list[float | None]:
    """Per-project lock durations: numbers (seconds) or null (until finished), one per project."""
    if len(values) != count or not all(v is None or _is_number(v) for v in values):
        raise ValueError(f"field 'seconds' must be a number, null, or a list of {count} numbers or nulls")
    return [None if v is None else float(v) for v in values]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _body(request: Request) -> dict[str, Any]:
    body = request.json_body()
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type[Any], default: Any = _MISSING) -> Any:
    """Read one field of a control call; ``default`` absent means the field is required."""
    value = body.get(name, default)
    if value is _MISSING:
        raise ValueError(f"missing field {name!r}")
    if value is None and default is _MISSING:
        raise ValueError(f"field {name!r} must not be null")
    if value is None or value is default:
        return value
    # JSON has one number type: accept 3 where 3.0 is meant, never a bool for a number.
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"field {name!r} must be {kind.__name__}, not {type(value).__name__}")
    return value
