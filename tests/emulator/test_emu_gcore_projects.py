"""Gcore Cloud projects: listing, reading, PUT (replace) and PATCH (partial), and their validation."""

from __future__ import annotations

import json

import pytest
from emulator_support import LOCK_MESSAGE, ApiClient

from projects_emulator import ProjectsEmulator

PROJECT_KEYS = {
    "id",
    "client_id",
    "name",
    "description",
    "created_at",
    "deleted_at",
    "is_default",
    "state",
    "task_id",
}


def test_list_returns_count_and_all_seeded_projects_newest_first(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    body = gcore.get("/cloud/v1/projects").json()
    assert body["count"] == len(emu.gcore_project_ids) == 3
    assert [p["id"] for p in body["results"]] == [3, 2, 1]
    assert all(set(p) == PROJECT_KEYS for p in body["results"])
    default = [p for p in body["results"] if p["is_default"]]
    assert [p["id"] for p in default] == [1]


def test_list_pagination_order_and_name_filter(gcore: ApiClient) -> None:
    page = gcore.get("/cloud/v1/projects?limit=1&offset=1&order_by=name.asc").json()
    assert page["count"] == 3
    assert [p["name"] for p in page["results"]] == ["default"]
    by_name = gcore.get("/cloud/v1/projects", params={"name": "analytics"}).json()
    assert by_name["count"] == 1
    assert by_name["results"][0]["id"] == 2
    assert gcore.get("/cloud/v1/projects?order_by=created_at.asc").json()["results"][0]["id"] == 1


def test_list_includes_deleted_projects_only_when_asked(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.delete_gcore_project(3)
    assert gcore.get("/cloud/v1/projects").json()["count"] == 2
    with_deleted = gcore.get("/cloud/v1/projects?include_deleted=true").json()
    deleted = [p for p in with_deleted["results"] if p["id"] == 3]
    assert deleted[0]["state"] == "DELETED"
    assert deleted[0]["deleted_at"] is not None


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "limit=abc", "offset=-1", "order_by=id.asc", "include_deleted=maybe"],
)
def test_list_rejects_invalid_query_with_validation_error(gcore: ApiClient, query: str) -> None:
    response = gcore.get(f"/cloud/v1/projects?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["exception_class"] == "ValidationError"
    assert query.split("=", maxsplit=1)[0] in body["invalid_fields"]


def test_get_project_has_all_nine_keys(gcore: ApiClient) -> None:
    body = gcore.get("/cloud/v1/projects/1").json()
    assert set(body) == PROJECT_KEYS
    assert body["is_default"] is True
    assert body["task_id"] is None
    assert body["deleted_at"] is None


@pytest.mark.parametrize("edition", ["2026-05"])
def test_unknown_and_deleted_projects_are_not_found(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    missing = gcore.get("/cloud/v1/projects/999")
    assert missing.status_code == 404
    assert missing.json()["exception_class"] == "NotFoundError"
    emu.delete_gcore_project(2)
    assert gcore.get("/cloud/v1/projects/2").status_code == 404
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "back"}).status_code == 404
    assert gcore.put("/cloud/v1/projects/2", json={"name": "back"}).status_code == 404


@pytest.mark.parametrize("raw_id", ["abc", "1.5", "-1", "%201"])
def test_non_integer_project_id_misses_the_route(gcore: ApiClient, raw_id: str) -> None:
    response = gcore.get(f"/cloud/v1/projects/{raw_id}")
    assert response.status_code == 404
    assert response.json()["exception_class"] == "HTTPError"
    assert response.json()["message"] == "HTTP 404: Not Found"


@pytest.mark.parametrize("edition", ["2026-05"])
def test_put_replaces_the_record_and_omitted_description_becomes_null(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    assert emu.gcore_project(2)["description"] == "Dashboards and reports"
    body = gcore.put("/cloud/v1/projects/2", json={"name": "Analytics v2"}).json()
    assert body["name"] == "Analytics v2"
    assert body["description"] is None
    both = gcore.put("/cloud/v1/projects/2", json={"name": "Analytics v3", "description": "kept"}).json()
    assert (both["name"], both["description"]) == ("Analytics v3", "kept")
    assert emu.gcore_project(2) == both


@pytest.mark.parametrize("edition", ["2026-05"])
def test_put_requires_name(gcore: ApiClient) -> None:
    response = gcore.put("/cloud/v1/projects/2", json={"description": "only"})
    assert response.status_code == 400
    assert response.json()["invalid_fields"] == {"name": ["Field required"]}


def test_patch_changes_only_the_fields_sent(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    renamed = gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"}).json()
    assert (renamed["name"], renamed["description"]) == ("renamed", "Dashboards and reports")
    described = gcore.patch("/cloud/v1/projects/2", json={"description": "new text"}).json()
    assert (described["name"], described["description"]) == ("renamed", "new text")
    cleared = gcore.patch("/cloud/v1/projects/2", json={"description": ""}).json()
    assert cleared["description"] == ""
    unchanged = gcore.patch("/cloud/v1/projects/2", json={}).json()
    assert unchanged == cleared == emu.gcore_project(2)


@pytest.mark.parametrize("edition", ["2026-05"])
def test_every_successful_write_advances_the_revision(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    assert emu.gcore_project_revision(2) == 0
    gcore.patch("/cloud/v1/projects/2", json={"name": "one"})
    gcore.put("/cloud/v1/projects/2", json={"name": "two"})
    gcore.patch("/cloud/v1/projects/2", json={})
    assert emu.gcore_project_revision(2) == 3
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "x"}).status_code == 400
    assert emu.gcore_project_revision(2) == 3
    assert "updated_at" not in gcore.get("/cloud/v1/projects/2").json()


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("ab", False),
        ("abc", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("New Project", True),
        ("my-project.", True),
        ("project-", False),
        (" leading", False),
        ("-leading", False),
        ("under_score", True),
        ("slash/name", False),
        ("trailing\n", False),
        ("ünïcode", False),
    ],
)
@pytest.mark.parametrize("edition", ["2026-05"])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_name_pattern_and_lengths(gcore: ApiClient, method: str, name: str, ok: bool) -> None:
    response = gcore.request(method, "/cloud/v1/projects/3", json={"name": name})
    assert response.status_code == (200 if ok else 400)
    if not ok:
        assert response.json()["exception_class"] == "ValidationError"
        assert "name" in response.json()["invalid_fields"]


@pytest.mark.parametrize(("length", "ok"), [(255, True), (256, False)])
@pytest.mark.parametrize("edition", ["2026-05"])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_description_length_limit(gcore: ApiClient, method: str, length: int, ok: bool) -> None:
    response = gcore.request(method, "/cloud/v1/projects/3", json={"name": "staging-eu", "description": "d" * length})
    assert response.status_code == (200 if ok else 400)
    if not ok:
        assert "description" in response.json()["invalid_fields"]


@pytest.mark.parametrize(
    "body",
    # ``description: null``: UpdateProjectSerializer types it a plain string (only PUT's is nullable).
    [{"name": None}, {"name": 5}, {"description": 5}, {"description": None}, ["name"], "text", None, 5],
)
def test_patch_rejects_wrong_types(gcore: ApiClient, body: object) -> None:
    response = gcore.patch("/cloud/v1/projects/3", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["exception_class"] == "ValidationError"


def test_malformed_json_body_is_a_validation_error(gcore: ApiClient) -> None:
    response = gcore.patch("/cloud/v1/projects/3", data=b'{"name": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "body" in response.json()["invalid_fields"]


def test_unknown_body_fields_are_ignored(gcore: ApiClient) -> None:
    response = gcore.patch("/cloud/v1/projects/3", json={"name": "staging-us", "colour": "blue"})
    assert response.status_code == 200
    assert "colour" not in response.json()


def test_renaming_onto_another_projects_name_is_a_conflict_but_not_a_lock(gcore: ApiClient) -> None:
    response = gcore.patch("/cloud/v1/projects/3", json={"name": "analytics"})
    assert response.status_code == 409
    assert response.json()["exception_class"] == "ConflictError"
    assert not LOCK_MESSAGE.search(response.json()["message"])
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "analytics"}).status_code == 200


def test_the_current_edition_answers_put_with_405_and_patch_works(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    assert emu.edition == "2026-08"
    response = gcore.put("/cloud/v1/projects/2", json={"name": "renamed"})
    assert response.status_code == 405
    assert set(response.json()) == {"exception_class", "message", "request_id"}
    assert response.json()["exception_class"] == "HTTPError"
    assert response.json()["message"] == "HTTP 405: Method Not Allowed"
    assert emu.gcore_project(2)["name"] == "analytics"
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"}).status_code == 200


def test_the_edition_switches_at_run_time(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.edition = "2026-05"
    assert gcore.put("/cloud/v1/projects/2", json={"name": "renamed"}).status_code == 200
    emu.edition = "2026-08"
    assert gcore.put("/cloud/v1/projects/2", json={"name": "renamed"}).status_code == 405
    with pytest.raises(ValueError, match="2026-05, 2026-08"):
        emu.edition = "2025-12"


def test_gcore_put_removed_is_a_deprecated_alias_of_the_edition() -> None:
    with pytest.warns(DeprecationWarning, match="edition"):
        emu = ProjectsEmulator(gcore_put_removed=False)
    assert emu.edition == "2026-05"
    with pytest.warns(DeprecationWarning):
        emu.gcore_put_removed = True
    assert (emu.edition, emu.gcore_put_removed) == ("2026-08", True)


def test_unknown_routes_and_methods(gcore: ApiClient) -> None:
    assert gcore.get("/cloud/v1/nothing").status_code == 404
    assert gcore.get("/cloud/v1/projects/2/").status_code == 404
    assert gcore.post("/cloud/v1/projects/2").status_code == 405
    assert gcore.post("/cloud/v1/tasks/abc").status_code == 405
    assert gcore.delete("/cloud/v1/projects").status_code == 405
