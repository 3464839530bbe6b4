"""Every route's success and error answers validate against the vendors' OpenAPI extracts.

The API clients validate all responses in every test when the extracts are present; this module
makes sure each route and each error kind is exercised at least once, and that the checker really
rejects what the spec forbids. It skips when the extracts are absent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from emulator_support import GCORE_SPEC, ApiClient, SpecChecker

from projects_emulator import ProjectsEmulator

pytestmark = pytest.mark.usefixtures("spec")

GCAI_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
GCORE_CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/cloud/v1/projects", {}, 200),
    ("GET", "/cloud/v1/projects?include_deleted=true&order_by=name.desc&limit=2", {}, 200),
    ("GET", "/cloud/v1/projects?limit=0", {}, 400),
    ("GET", "/cloud/v1/projects/1", {}, 200),
    ("GET", "/cloud/v1/projects/404", {}, 404),
    ("GET", "/cloud/v1/projects/abc", {}, 404),
    ("PUT", "/cloud/v1/projects/2", {"json": {"name": "replaced", "description": None}}, 405),
    ("PATCH", "/cloud/v1/projects/2", {"json": {"description": "patched"}}, 200),
    ("PATCH", "/cloud/v1/projects/2", {"json": {"description": None}}, 400),
    ("PATCH", "/cloud/v1/projects/2", {"json": {"name": "x"}}, 400),
    ("PATCH", "/cloud/v1/projects/3", {"json": {"name": "analytics"}}, 409),
    ("PATCH", "/cloud/v1/projects/2", {"auth": "Bearer nope"}, 401),
    ("POST", "/cloud/v1/projects", {"json": {"name": "created"}}, 201),
    ("DELETE", "/cloud/v1/projects/2", {}, 200),
    ("DELETE", "/cloud/v1/projects/1", {}, 400),
    ("GET", "/cloud/v1/projects?include_deleted=", {}, 400),
    ("PROPFIND", "/cloud/v1/projects", {}, 405),
    ("GET", "/cloud/v1/tasks/unknown", {}, 404),
]
GCAI_CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/ping", {}, 200),
    ("GET", "/me", {}, 200),
    ("GET", "/me", {"auth": "u:gcai_emulator_user_key"}, 200),
    ("GET", "/projects", {}, 200),
    ("GET", "/projects?limit=1&offset=1&search=a", {}, 200),
    ("GET", "/projects?limit=501", {}, 400),
    ("GET", "/projects", {"auth": None}, 401),
    ("GET", "/projects", {"auth": "gcai_unknown"}, 403),
    ("GET", f"/projects/{GCAI_ID}", {}, 200),
    ("GET", "/projects/not-a-uuid", {}, 404),
    ("PATCH", f"/projects/{GCAI_ID}", {"json": {"description": None}}, 200),
    ("PATCH", f"/projects/{GCAI_ID}", {"json": {}}, 200),
    ("PATCH", f"/projects/{GCAI_ID}", {"json": {"name": " "}}, 400),
    ("PATCH", "/projects/8d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", {"json": {"name": "n"}}, 404),
    ("PATCH", f"/projects/{GCAI_ID}", {"auth": "Bearer gcai_emulator_org_key", "json": {}}, 401),
    ("POST", "/projects", {"json": {"name": "new"}}, 201),
    ("DELETE", "/projects/5b0e6f64-1c1d-4a8e-9f57-2f3b9d2c7a11", {}, 204),
    ("PUT", f"/projects/{GCAI_ID}", {"json": {}}, 405),
    ("PATCH", f"/projects/{GCAI_ID}", {}, 400),
    ("GET", "/projects?offset=", {}, 400),
]
GCORE_0526_CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("PUT", "/cloud/v1/projects/2", {"json": {"name": "replaced", "description": None}}, 200),
    ("PUT", "/cloud/v1/projects/2", {"json": {"description": "no name"}}, 400),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), GCORE_CASES)
def test_gcore_route_matches_spec(
    gcore: ApiClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    assert gcore.request(method, path, **kwargs).status_code == status  # the client validates the body


@pytest.mark.parametrize("edition", ["2026-05"])
@pytest.mark.parametrize(("method", "path", "kwargs", "status"), GCORE_0526_CASES)
def test_gcore_put_of_the_older_edition_matches_its_spec(
    gcore: ApiClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    assert gcore.request(method, path, **kwargs).status_code == status


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), GCAI_CASES)
def test_gcai_route_matches_spec(gcai: ApiClient, method: str, path: str, kwargs: dict[str, Any], status: int) -> None:
    assert gcai.request(method, path, **kwargs).status_code == status


def test_locked_project_task_states_and_rate_limit_match_spec(
    gcore: ApiClient, gcai: ApiClient, emu: ProjectsEmulator
) -> None:
    task_id = emu.lock_gcore_project(2, seconds=0, outcome="ERROR", error="nope")
    gcore.get(f"/cloud/v1/tasks/{task_id}")
    task_id = emu.lock_gcore_project(2)
    assert gcore.get("/cloud/v1/projects/2").json()["task_id"] == task_id
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "abc"}).status_code == 409
    assert gcore.get(f"/cloud/v1/tasks/{task_id}").json()["state"] == "NEW"
    emu.set_gcai_rate_limit(1, 60)
    assert gcai.get("/projects").status_code == 200
    assert gcai.get("/projects").status_code == 429  # required RateLimit-* headers checked too


def test_the_checker_rejects_what_the_spec_forbids(spec: SpecChecker) -> None:
    project = {"id": 1, "client_id": 1, "name": "n", "description": None, "created_at": "2019-12-31T23:59:59"}
    with pytest.raises(AssertionError, match="spec"):
        spec.check_gcore("GET", "/cloud/v1/projects/1", 200, project, "missing keys")
    with pytest.raises(AssertionError, match="spec"):
        spec.check_gcore("GET", "/cloud/v1/projects/1", 404, {"detail": "Not found"}, "error shape")
    gcai_project = {
        "id": GCAI_ID,
        "name": "n",
        "description": None,
        "custom_instructions": None,
        "is_access_controlled": False,
        "my_access_level": "owner",
        "created_at": "x",
        "updated_at": "x",
    }
    with pytest.raises(AssertionError, match="spec"):
        spec.check_gcai("GET", f"/projects/{GCAI_ID}", 200, gcai_project, headers={}, where="enum")
    gcai_project["my_access_level"] = None  # nullable enum, converted from OpenAPI 3.0
    spec.check_gcai("GET", f"/projects/{GCAI_ID}", 200, gcai_project, headers={}, where="null ok")
    with pytest.raises(AssertionError, match="not documented"):
        spec.check_gcai("GET", f"/projects/{GCAI_ID}", 400, {"error": "x"}, headers={}, where="status")
    with pytest.raises(AssertionError, match="Retry-After"):
        spec.check_gcai("GET", "/ping", 429, {"error": "x"}, headers={}, where="headers")


def test_put_is_gone_from_the_newer_gcore_edition() -> None:
    editions = json.loads(GCORE_SPEC.read_text())
    project_path = "/cloud/v1/projects/{project_id}"
    assert "put" in editions["services_documented"]["paths"][project_path]
    assert "put" not in editions["services_docs_mintlify_enriched"]["paths"][project_path]
    assert "patch" in editions["services_docs_mintlify_enriched"]["paths"][project_path]
