"""Gcore's documented project POST (create) and DELETE (a ``delete_project`` task that locks it)."""

from __future__ import annotations

import pytest
from emulator_support import LOCK_MESSAGE, ApiClient, FakeClock

from projects_emulator import ProjectsEmulator


def test_create_answers_201_with_the_new_project(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    response = gcore.post("/cloud/v1/projects", json={"name": "new-project", "description": None})
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["description"], body["state"], body["is_default"]) == (
        "new-project",
        None,
        "ACTIVE",
        False,
    )
    assert body["id"] not in emu.gcore_project_ids
    assert gcore.get(f"/cloud/v1/projects/{body['id']}").json() == body


@pytest.mark.parametrize("body", [{}, {"name": "x"}, {"name": "ok-name", "description": 5}, ["new"]])
def test_create_validates_its_body(gcore: ApiClient, body: object) -> None:
    response = gcore.post("/cloud/v1/projects", json=body)
    assert response.status_code == 400
    assert response.json()["exception_class"] == "ValidationError"


def test_create_refuses_a_taken_name_without_a_lock_message(gcore: ApiClient) -> None:
    response = gcore.post("/cloud/v1/projects", json={"name": "analytics"})
    assert response.status_code == 409
    assert not LOCK_MESSAGE.search(response.json()["message"])


def test_delete_starts_a_task_that_locks_then_deletes_the_project(
    gcore: ApiClient, emu: ProjectsEmulator, clock: FakeClock
) -> None:
    response = gcore.delete("/cloud/v1/projects/3")
    assert response.status_code == 200
    (task_id,) = response.json()["tasks"]
    project = gcore.get("/cloud/v1/projects/3").json()
    assert (project["state"], project["task_id"]) == ("DELETING", task_id)
    conflict = gcore.patch("/cloud/v1/projects/3", json={"name": "too-late"})
    assert conflict.status_code == 409
    match = LOCK_MESSAGE.fullmatch(conflict.json()["message"])
    assert match is not None
    assert (match["resource"], match["task_type"], match["task_id"]) == ("3", "delete_project", task_id)
    assert gcore.delete("/cloud/v1/projects/3").status_code == 409
    clock.advance(16)
    task = gcore.get(f"/cloud/v1/tasks/{task_id}").json()
    assert (task["state"], task["task_type"]) == ("FINISHED", "delete_project")
    assert gcore.get("/cloud/v1/projects/3").status_code == 404
    deleted = [p for p in gcore.get("/cloud/v1/projects?include_deleted=true").json()["results"] if p["id"] == 3]
    assert deleted[0]["state"] == "DELETED"
    assert deleted[0]["deleted_at"] is not None


def test_a_failed_delete_leaves_the_project_active(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.gcore_delete_seconds = None
    (task_id,) = gcore.delete("/cloud/v1/projects/2").json()["tasks"]
    emu.finish_task(task_id, state="ERROR", error="quota service unavailable")
    project = gcore.get("/cloud/v1/projects/2").json()
    assert (project["state"], project["task_id"]) == ("ACTIVE", None)
    assert gcore.get(f"/cloud/v1/tasks/{task_id}").json()["error"] == "quota service unavailable"


def test_delete_of_a_locked_or_default_project_is_refused(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.lock_gcore_project(2)
    assert gcore.delete("/cloud/v1/projects/2").status_code == 409
    default = gcore.delete("/cloud/v1/projects/1")
    assert default.status_code == 400
    assert gcore.get("/cloud/v1/projects/1").json()["state"] == "ACTIVE"
    assert gcore.delete("/cloud/v1/projects/404").status_code == 404
