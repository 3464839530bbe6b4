"""Helpers for the emulator tests: a fake clock, a spec-checking client, and the OpenAPI checker.

The checker validates a response against the OpenAPI extracts in ``../shared/reference`` (beside
the repository): ``$ref``s are inlined, OpenAPI 3.0 ``nullable`` (GC AI) becomes JSON-schema
``null`` types, and the Gcore edition is the one the emulator serves (``editions.SPEC_KEYS``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped,unused-ignore]
import requests

from projects_emulator.editions import CURRENT, SPEC_KEYS

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
GCORE_SPEC = REFERENCE / "gcore-cloud-openapi-projects-tasks.json"
GCAI_SPEC = REFERENCE / "gcai-openapi-projects.json"
#: The Gcore edition that still carries the one error schema (``NotFoundErrorSchema``).
_GCORE_ERROR_EDITION = "services_documented"

#: Schemas the extracts reference but do not contain: accept any value of the plausible JSON type.
_ABSENT_SCHEMAS: dict[str, Any] = {"CreatedResources": {}, "CallerOrganization": {"type": "object"}}
#: The Gcore spec documents no error responses; its one error schema, made strict about the keys
#: API_NOTES says every error body has.
_GCORE_ERROR = "NotFoundErrorSchema"
_GCORE_ERROR_REQUIRED = ["exception_class", "message", "request_id"]

#: Gcore's 409 lock message, exactly as API_NOTES gives it (backticks, trailing space).
LOCK_MESSAGE = re.compile(
    r"Operation on resource `(?P<resource>[^`]+)` currently locked by running task `(?P<task_type>[^`]+)` "
    r"with id `(?P<task_id>[0-9a-f-]{36})` \((?P<timestamp>[^)]+)\) to prevent concurrent operations\. "
    r"Repeat request a little later\. \Z"
)

_DEFAULT = object()


class FakeClock:
    """A monotonic clock tests move by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _inline(node: Any, schemas: dict[str, Any]) -> Any:
    """Replace every ``$ref`` by the (recursively inlined) schema it names; siblings are kept."""
    if isinstance(node, list):
        return [_inline(item, schemas) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        target = schemas[name] if name in schemas else _ABSENT_SCHEMAS[name]
        siblings = {k: _inline(v, schemas) for k, v in node.items() if k != "$ref"}
        return {**_inline(target, schemas), **siblings}
    return {k: _inline(v, schemas) for k, v in node.items()}


def _nullable(node: Any) -> Any:
    """Turn OpenAPI 3.0 ``nullable: true`` into JSON-schema form (``type: [t, "null"]``, ``None`` in enum)."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


class ApiSpec:
    """One API's operations, with response schemas ready for ``jsonschema``."""

    def __init__(self, doc: dict[str, Any], *, openapi30: bool) -> None:
        convert = _nullable if openapi30 else (lambda node: node)
        self.schemas = {name: convert(_inline(s, doc["schemas"])) for name, s in doc["schemas"].items()}
        self.paths: list[tuple[re.Pattern[str], dict[str, Any]]] = []
        for template, operations in doc["paths"].items():
            pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))
            self.paths.append((pattern, convert(_inline(operations, doc["schemas"]))))

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for pattern, operations in self.paths:
            if pattern.fullmatch(path):
                op = operations.get(method.lower())
                return op if isinstance(op, dict) else None
        return None


def _validate(instance: Any, schema: dict[str, Any], where: str) -> None:
    try:
        jsonschema.Draft202012Validator(schema).validate(instance)
    except jsonschema.ValidationError as exc:
        raise AssertionError(f"{where}: response does not match the spec: {exc.message}") from exc


class SpecChecker:
    """Validates emulator responses against both OpenAPI extracts (each Gcore edition)."""

    def __init__(self, gcore: Mapping[str, ApiSpec], gcai: ApiSpec) -> None:
        self.gcore_editions = gcore
        self.gcore = gcore[CURRENT]
        self.gcai = gcai
        self.gcore_error = dict(gcore["2026-05"].schemas[_GCORE_ERROR], required=_GCORE_ERROR_REQUIRED)

    def check(
        self,
        api: str,
        method: str,
        path: str,
        response: requests.Response | httpx.Response,
        edition: str = CURRENT,
    ) -> None:
        """Assert that one response is what the spec (Gcore: of ``edition``) allows for ``method path``."""
        body = response.json() if response.content else None
        where = f"{api} {method} {path} -> {response.status_code}"
        if api == "gcore":
            self.check_gcore(method, path, response.status_code, body, where, edition=edition)
        else:
            self.check_gcai(method, path, response.status_code, body, headers=dict(response.headers), where=where)

    def check_gcore(
        self, method: str, path: str, status: int, body: Any, where: str, *, edition: str = CURRENT
    ) -> None:
        if status >= 400:
            _validate(body, self.gcore_error, where)
            return
        operation = self.gcore_editions[edition].operation(method, path)
        assert operation is not None, f"{where}: not an operation of the spec"
        documented = operation["responses"].get(str(status))
        assert documented is not None, f"{where}: status not documented"
        _validate(body, documented["content"]["application/json"]["schema"], where)

    def check_gcai(
        self, method: str, path: str, status: int, body: Any, *, headers: dict[str, str], where: str
    ) -> None:
        operation = self.gcai.operation(method, path)
        if operation is None:  # unknown route or method: only the error shape can be checked
            assert status >= 400, f"{where}: success on an undocumented operation"
            _validate(body, self.gcai.schemas["Error"], where)
            return
        documented = operation["responses"].get(str(status))
        assert documented is not None, f"{where}: status not documented for this operation"
        lowered = {name.lower() for name in headers}
        for name, header in documented.get("headers", {}).items():
            if header.get("required"):
                assert name.lower() in lowered, f"{where}: required header {name} missing"
        content = documented.get("content")
        if content is None:
            assert body is None, f"{where}: body where the spec documents none"
            return
        _validate(body, content["application/json"]["schema"], where)


def load_checker() -> SpecChecker | None:
    """Build the checker, or None when the reference extracts are absent."""
    if not (GCORE_SPEC.is_file() and GCAI_SPEC.is_file()):
        return None
    gcore_docs = json.loads(GCORE_SPEC.read_text())
    gcore: dict[str, ApiSpec] = {
        edition: ApiSpec(gcore_docs[key], openapi30=False) for edition, key in SPEC_KEYS.items()
    }
    return SpecChecker(gcore, ApiSpec(json.loads(GCAI_SPEC.read_text()), openapi30=True))


class ApiClient:
    """``requests`` against one emulated API, checking each response against the spec when present."""

    def __init__(
        self,
        api: str,
        base_url: str,
        authorization: str,
        checker: SpecChecker | None,
        edition: Callable[[], str] = lambda: CURRENT,
    ) -> None:
        self.api = api
        self.base_url = base_url
        self.authorization = authorization
        self.checker = checker
        #: Reads the edition the emulator serves at the time of each request.
        self.edition = edition
        self.session = requests.Session()

    def request(
        self, method: str, path: str, *, auth: Any = _DEFAULT, check: bool = True, **kwargs: Any
    ) -> requests.Response:
        """Send ``method path`` with the default key (``auth=None``: no Authorization header)."""
        headers = dict(kwargs.pop("headers", {}))
        value = self.authorization if auth is _DEFAULT else auth
        if value is not None:
            headers["Authorization"] = value
        kwargs.setdefault("timeout", 5)
        edition = self.edition()
        response = self.session.request(method, self.base_url + path, headers=headers, **kwargs)
        if check and self.checker is not None:
            self.checker.check(self.api, method, path.split("?", maxsplit=1)[0], response, edition)
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)
