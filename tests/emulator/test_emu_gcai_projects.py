"""GC AI projects: visibility per key, listing, reading, and PATCH (partial, null clears)."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_support import ApiClient, FakeClock

from projects_emulator import ProjectsEmulator


def _ids(body: dict[str, Any]) -> list[str]:
    return [p["id"] for p in body["projects"]]


def test_org_key_lists_only_org_wide_projects(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    body = gcai.get("/projects").json()
    assert set(_ids(body)) == set(emu.gcai_project_ids[:2])
    assert all(p["my_access_level"] is None and not p["is_access_controlled"] for p in body["projects"])
    assert body["pagination"] == {"limit": 100, "offset": 0, "has_more": False}


def test_personal_key_also_sees_its_access_controlled_projects(gcai_user: ApiClient, emu: ProjectsEmulator) -> None:
    levels = {p["id"]: p["my_access_level"] for p in gcai_user.get("/projects").json()["projects"]}
    first, second, controlled, read_only = emu.gcai_project_ids
    assert levels == {first: "admin", second: None, controlled: "admin", read_only: "read"}


def test_list_pagination_and_search(gcai_user: ApiClient) -> None:
    page = gcai_user.get("/projects?limit=3&offset=0").json()
    assert len(page["projects"]) == 3
    assert page["pagination"] == {"limit": 3, "offset": 0, "has_more": True}
    rest = gcai_user.get("/projects?limit=3&offset=3").json()
    assert len(rest["projects"]) == 1
    assert rest["pagination"]["has_more"] is False
    found = gcai_user.get("/projects", params={"search": "ACME"}).json()
    assert [p["name"] for p in found["projects"]] == ["Vendor: Acme MSA"]
    assert gcai_user.get("/projects?limit=500").status_code == 200


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=ten", "offset=-1"])
def test_list_rejects_invalid_query(gcai: ApiClient, query: str) -> None:
    response = gcai.get(f"/projects?{query}")
    assert response.status_code == 400
    assert query.split("=", maxsplit=1)[0] in response.json()["details"]


def test_get_project_by_uuid_in_any_case(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    project_id = emu.gcai_project_ids[0]
    body = gcai.get(f"/projects/{project_id.upper()}").json()
    assert body == emu.gcai_project(project_id)
    assert body["id"] == project_id


@pytest.mark.parametrize(
    "raw_id", ["42", "not-a-uuid", "3c90c3cc0d444b5088888dd25736052a", "00000000-0000-4000-8000-000000000000"]
)
def test_non_uuid_or_unknown_id_is_404(gcai: ApiClient, raw_id: str) -> None:
    for method in ("GET", "PATCH"):
        response = gcai.request(method, f"/projects/{raw_id}", json={"name": "x"})
        assert response.status_code == 404


def test_org_key_cannot_see_or_write_access_controlled_projects(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    controlled = emu.gcai_project_ids[2]
    assert gcai.get(f"/projects/{controlled}").status_code == 404
    assert gcai.patch(f"/projects/{controlled}", json={"name": "mine"}).status_code == 404
    assert emu.gcai_project(controlled)["name"] == "Litigation hold"


def test_read_grant_reads_but_cannot_write(gcai_user: ApiClient, emu: ProjectsEmulator) -> None:
    read_only = emu.gcai_project_ids[3]
    assert gcai_user.get(f"/projects/{read_only}").json()["my_access_level"] == "read"
    response = gcai_user.patch(f"/projects/{read_only}", json={"name": "mine"})
    assert response.status_code == 404
    assert emu.gcai_project(read_only)["name"] == "HR policies"


def test_added_access_controlled_project_with_write_grant(
    gcai: ApiClient, gcai_user: ApiClient, emu: ProjectsEmulator
) -> None:
    project_id = emu.add_gcai_project("Deal room", access_controlled=True, user_access="write")
    assert gcai.patch(f"/projects/{project_id}", json={"name": "org"}).status_code == 404
    body = gcai_user.patch(f"/projects/{project_id}", json={"name": "user"}).json()
    assert (body["name"], body["my_access_level"]) == ("user", "write")


def test_patch_changes_only_the_fields_sent_and_null_clears(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    project_id = emu.gcai_project_ids[0]
    before = emu.gcai_project(project_id)
    renamed = gcai.patch(f"/projects/{project_id}", json={"name": "Acme MSA (renamed)"}).json()
    assert renamed["description"] == before["description"]
    assert renamed["custom_instructions"] == before["custom_instructions"]
    cleared = gcai.patch(f"/projects/{project_id}", json={"description": None}).json()
    assert cleared["description"] is None
    assert cleared["custom_instructions"] == before["custom_instructions"]
    both = gcai.patch(f"/projects/{project_id}", json={"custom_instructions": None, "description": "d"}).json()
    assert (both["description"], both["custom_instructions"], both["name"]) == ("d", None, "Acme MSA (renamed)")
    assert both["my_access_level"] is None


def test_patch_name_is_trimmed_and_must_not_be_blank(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    project_id = emu.gcai_project_ids[1]
    assert gcai.patch(f"/projects/{project_id}", json={"name": "  Board  "}).json()["name"] == "Board"
    for bad in ("", "   ", "\t\n"):
        response = gcai.patch(f"/projects/{project_id}", json={"name": bad})
        assert response.status_code == 400
        assert "name" in response.json()["details"]
    assert emu.gcai_project(project_id)["name"] == "Board"


@pytest.mark.parametrize(
    "body",
    [{"name": None}, {"name": 3}, {"description": 1}, {"custom_instructions": ["x"]}, ["name"], "text"],
)
def test_patch_rejects_wrong_types(gcai: ApiClient, emu: ProjectsEmulator, body: object) -> None:
    response = gcai.patch(f"/projects/{emu.gcai_project_ids[0]}", json=body)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)


def test_patch_malformed_json_is_400(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    response = gcai.patch(
        f"/projects/{emu.gcai_project_ids[0]}", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_patch_ignores_unknown_fields(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    response = gcai.patch(f"/projects/{emu.gcai_project_ids[0]}", json={"colour": "blue", "name": "N"})
    assert response.status_code == 200
    assert "colour" not in response.json()


def test_empty_patch_is_a_no_op(gcai: ApiClient, emu: ProjectsEmulator, clock: FakeClock) -> None:
    project_id = emu.gcai_project_ids[0]
    before = emu.gcai_project(project_id)
    clock.advance(60)
    response = gcai.patch(f"/projects/{project_id}", json={})
    assert response.status_code == 200
    assert response.json() == before


def test_updated_at_advances_on_each_write(gcai: ApiClient, emu: ProjectsEmulator, clock: FakeClock) -> None:
    project_id = emu.gcai_project_ids[0]
    stamps = [emu.gcai_project(project_id)["updated_at"]]
    for name in ("a", "b"):  # same clock reading: still strictly later
        stamps.append(gcai.patch(f"/projects/{project_id}", json={"name": name}).json()["updated_at"])
    clock.advance(3600)
    stamps.append(gcai.patch(f"/projects/{project_id}", json={"name": "b"}).json()["updated_at"])
    assert stamps == sorted(set(stamps))
    assert emu.gcai_project(project_id)["created_at"] < stamps[1]


def test_create_and_delete_projects(gcai: ApiClient, gcai_user: ApiClient) -> None:
    created = gcai.post("/projects", json={"name": " Org wide ", "description": None})
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["is_access_controlled"]) == ("Org wide", False)
    mine = gcai_user.post("/projects", json={"name": "Mine"}).json()
    assert (mine["is_access_controlled"], mine["my_access_level"]) == (True, "admin")
    assert gcai.post("/projects", json={"description": "no name"}).status_code == 400
    assert gcai.delete(f"/projects/{mine['id']}").status_code == 404
    assert gcai_user.delete(f"/projects/{mine['id']}").status_code == 204
    assert gcai_user.get(f"/projects/{mine['id']}").status_code == 404


def test_deleted_project_is_gone(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    project_id = emu.gcai_project_ids[1]
    emu.delete_gcai_project(project_id)
    assert gcai.get(f"/projects/{project_id}").status_code == 404
    assert project_id not in _ids(gcai.get("/projects").json())
