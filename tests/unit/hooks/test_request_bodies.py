"""Every request body the hooks can produce, checked against the vendors' request schemas.

The bodies are the ones really sent (captured at the transport by the scripted API), for each
method and each combination of omitted, null and value the hooks accept; the schemas come from
the OpenAPI extracts in ``../shared/reference`` (both Gcore editions). A body the spec does not
allow then fails here, not against a user's real API. Skipped, saying why, without the extracts.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fakes import FakeApi, body_of, ok
from samples import GCAI_ID, GCAI_PROJECT, GCORE_PROJECT

from airflow_provider_projects.hooks import gcore as gcore_hook_module
from airflow_provider_projects.hooks.gcai import GcaiHook
from airflow_provider_projects.hooks.gcore import GcoreHook
from airflow_provider_projects.unset import NOT_SET

GCORE_EDITIONS = {"2026-05": "services_documented", "2026-08": "services_docs_mintlify_enriched"}
NAMES = ["analytics", "a.b_c-d 9", "x" * 63]
GCORE_DESCRIPTIONS: list[str | None] = ["Dashboards", "", "d" * 255, None]
GCAI_VALUES: list[Any] = [NOT_SET, None, "Cite the MSA"]


def as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` in JSON Schema terms (3.1 documents pass through unchanged)."""
    if isinstance(node, dict):
        converted = {k: as_json_schema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            converted["type"] = [node["type"], "null"]
        return converted
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    return node


def request_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The JSON schema of a request body, its ``#/components/schemas/...`` references resolvable."""
    reference = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return {"$ref": reference, "components": {"schemas": as_json_schema(document["schemas"])}}


@pytest.fixture
def gcore_specs(reference_dir: Path) -> dict[str, dict[str, Any]]:
    docs = json.loads((reference_dir / "gcore-cloud-openapi-projects-tasks.json").read_text())
    return {edition: docs[key] for edition, key in GCORE_EDITIONS.items()}


@pytest.fixture
def gcai_spec(reference_dir: Path) -> dict[str, Any]:
    return json.loads((reference_dir / "gcai-openapi-projects.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GCORE_DEFAULT", json.dumps({"conn_type": "gcore", "password": "k"}))
    monkeypatch.setenv("AIRFLOW_CONN_GCAI_DEFAULT", json.dumps({"conn_type": "gcai", "password": "gcai_k"}))
    monkeypatch.setattr(gcore_hook_module, "_put_removed", set())


def test_every_gcore_replacement_body_fits_its_methods_schema(
    api: FakeApi, connections: None, gcore_specs: dict[str, dict[str, Any]]
) -> None:
    path = f"/cloud/v1/projects/{GCORE_PROJECT['id']}"
    api.on("PUT", path, ok(GCORE_PROJECT)).on("PATCH", path, ok(GCORE_PROJECT))
    hook = GcoreHook()
    for name, description in itertools.product(NAMES, GCORE_DESCRIPTIONS):
        for method in ("PUT", "PATCH"):
            hook.replace_project(GCORE_PROJECT["id"], name=name, description=description, method=method)
    checked = 0
    for request in api.requests:
        body = body_of(request)
        # PUT is only in the 2026-05 edition; PATCH is in both, and must fit both.
        editions = ["2026-05"] if request.method == "PUT" else list(GCORE_EDITIONS)
        for edition in editions:
            schema = request_schema(gcore_specs[edition], "/cloud/v1/projects/{project_id}", request.method.lower())
            jsonschema.validate(body, schema)
            checked += 1
        if request.method == "PATCH":
            assert body["description"] is not None  # a cleared description goes as "", never null
    assert len(api.requests) == 2 * len(NAMES) * len(GCORE_DESCRIPTIONS)
    assert checked == len(NAMES) * len(GCORE_DESCRIPTIONS) * 3


def test_every_gcai_update_body_fits_the_schema(api: FakeApi, connections: None, gcai_spec: dict[str, Any]) -> None:
    api.on("PATCH", f"/projects/{GCAI_ID}", ok(GCAI_PROJECT))
    schema = request_schema(gcai_spec, "/projects/{id}", "patch")
    hook = GcaiHook()
    sent = 0
    for name, description, instructions in itertools.product([NOT_SET, "Renamed"], GCAI_VALUES, GCAI_VALUES):
        if name is NOT_SET and description is NOT_SET and instructions is NOT_SET:
            continue  # refused before any request: the spec leaves an empty PATCH undocumented
        hook.update_project(GCAI_ID, name=name, description=description, custom_instructions=instructions)
        sent += 1
    assert sent == 2 * 3 * 3 - 1
    for request in api.requests:
        jsonschema.validate(body_of(request), schema)
    assert len(api.requests) == sent


def test_the_check_can_fail(gcore_specs: dict[str, dict[str, Any]]) -> None:
    """A null description by PATCH, which the provider never sends, is what the spec refuses."""
    schema = request_schema(gcore_specs["2026-08"], "/cloud/v1/projects/{project_id}", "patch")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "analytics", "description": None}, schema)
