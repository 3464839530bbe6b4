"""The emulator accepts exactly the requests the specs accept: operations, bodies and query values.

The oracle is the vendors' OpenAPI extracts in ``../shared/reference``: each generated request is
validated with ``jsonschema`` against the operation's request schema, and the emulator must answer
2xx when the spec accepts it and 400 when it does not. So a looser (or stricter) emulator fails
here, not in a user's DAG against the real server. Skips when the extracts are absent.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from emulator_support import ApiClient, SpecChecker

from projects_emulator import ProjectsEmulator
from projects_emulator.editions import EDITIONS

pytestmark = pytest.mark.usefixtures("spec")

GCAI_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
OMIT = object()
#: Field values tried in every combination: omitted, null, a valid value, an edge, a wrong type.
GCORE_DESCRIPTIONS = [OMIT, None, "Project description", "", 7]
GCORE_NAMES = [OMIT, None, "valid-name", "x", 7]
GCAI_TEXTS = [OMIT, None, "Some text", "", 7]
GCAI_NAMES = [OMIT, None, "Renamed matter", "", 7]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _accepts(schema: dict[str, Any], instance: Any) -> bool:
    return bool(jsonschema.Draft202012Validator(schema).is_valid(instance))


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not OMIT}


def _request_schema(operation: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


def _unique(name: Any, index: int) -> Any:
    # Names are unique per client: a valid name gets a suffix so a clash never masks validation.
    return f"{name}-{index}" if isinstance(name, str) and len(name) > 1 else name


@pytest.mark.parametrize("edition", EDITIONS)
def test_gcore_serves_exactly_the_operations_of_its_edition(
    gcore: ApiClient, emu: ProjectsEmulator, spec: SpecChecker, edition: str
) -> None:
    emu.gcore_delete_seconds = None
    documented = spec.gcore_editions[edition]
    for template, concrete in [
        ("/cloud/v1/projects", "/cloud/v1/projects"),
        ("/cloud/v1/projects/{project_id}", "/cloud/v1/projects/3"),
        ("/cloud/v1/tasks/{task_id}", "/cloud/v1/tasks/unknown"),
    ]:
        for method in METHODS:
            emu.reset()
            emu.edition = edition
            status = gcore.request(method, concrete, json={"name": "fresh-name"}).status_code
            in_spec = documented.operation(method, template.replace("{project_id}", "3")) is not None
            assert (status != 405) == in_spec, f"{edition} {method} {template} -> {status}"


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_gcore_write_bodies_are_judged_as_the_spec_judges_them(
    gcore: ApiClient, spec: SpecChecker, edition: str, method: str
) -> None:
    path = "/cloud/v1/projects/3"
    operation = spec.gcore_editions[edition].operation(method, path)
    if operation is None:
        pytest.skip(f"{method} is not in the {edition} edition (its 405 is checked above)")
    schema = _request_schema(operation)
    checked = 0
    for index, (name, description) in enumerate(itertools.product(GCORE_NAMES, GCORE_DESCRIPTIONS)):
        body = _body({"name": _unique(name, index), "description": description})
        expected = 200 if _accepts(schema, body) else 400
        assert gcore.request(method, path, json=body).status_code == expected, body
        checked += 1
    assert checked == len(GCORE_NAMES) * len(GCORE_DESCRIPTIONS)


def test_gcore_create_bodies_are_judged_as_the_spec_judges_them(gcore: ApiClient, spec: SpecChecker) -> None:
    schema = _request_schema(spec.gcore.operation("POST", "/cloud/v1/projects") or {})
    for index, (name, description) in enumerate(itertools.product(GCORE_NAMES, GCORE_DESCRIPTIONS)):
        body = _body({"name": _unique(name, index), "description": description})
        expected = 201 if _accepts(schema, body) else 400
        assert gcore.post("/cloud/v1/projects", json=body).status_code == expected, body


@pytest.mark.parametrize(("method", "path"), [("PATCH", f"/projects/{GCAI_ID}"), ("POST", "/projects")])
def test_gcai_write_bodies_are_judged_as_the_spec_judges_them(
    gcai: ApiClient, spec: SpecChecker, method: str, path: str
) -> None:
    schema = _request_schema(spec.gcai.operation(method, path) or {})
    success = 200 if method == "PATCH" else 201
    for name, description, instructions in itertools.product(GCAI_NAMES, GCAI_TEXTS, GCAI_TEXTS):
        body = _body({"name": name, "description": description, "custom_instructions": instructions})
        expected = success if _accepts(schema, body) else 400
        assert gcai.request(method, path, json=body).status_code == expected, body


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    """A query value as a typed server reads it: a number or boolean when it spells one, else the text."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "integer" in kinds and re.fullmatch(r"-?[0-9]+", raw):
        return int(raw)
    if "boolean" in kinds and raw.lower() in ("true", "false", "1", "0"):
        return raw.lower() in ("true", "1")
    return raw


QUERY_VALUES = ["", "0", "1", "-1", "100", "501", "1001", "abc", "true", "false", "name.asc", "1.5"]


@pytest.mark.parametrize(("api", "path"), [("gcore", "/cloud/v1/projects"), ("gcai", "/projects")])
def test_list_query_values_are_judged_as_the_spec_judges_them(
    gcore: ApiClient, gcai: ApiClient, spec: SpecChecker, api: str, path: str
) -> None:
    client, documented = (gcore, spec.gcore) if api == "gcore" else (gcai, spec.gcai)
    operation = documented.operation("GET", path)
    assert operation is not None
    for parameter in operation["parameters"]:
        for raw in QUERY_VALUES:
            valid = _accepts(parameter["schema"], _coerce(raw, parameter["schema"]))
            status = client.get(path, params={parameter["name"]: raw}).status_code
            assert status == (200 if valid else 400), f"{parameter['name']}={raw!r} -> {status}"
