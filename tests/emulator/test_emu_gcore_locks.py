"""Gcore locks: a task holding a project answers writes with 409, and progresses on the fake clock."""

from __future__ import annotations

import pytest
from emulator_support import LOCK_MESSAGE, ApiClient, FakeClock

from projects_emulator import ProjectsEmulator


@pytest.mark.parametrize("edition", ["2026-05"])  # the edition that still accepts PUT
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_locked_project_answers_409_with_the_exact_message(
    gcore: ApiClient, emu: ProjectsEmulator, method: str
) -> None:
    task_id = emu.lock_gcore_project(2, seconds=16)
    response = gcore.request(method, "/cloud/v1/projects/2", json={"name": "renamed"})
    assert response.status_code == 409
    body = response.json()
    assert body["exception_class"] == "ConflictError"
    assert body["message"].endswith("Repeat request a little later. ")
    match = LOCK_MESSAGE.fullmatch(body["message"])
    assert match is not None
    assert (match["resource"], match["task_type"], match["task_id"]) == ("2", "update_project", task_id)
    assert match["timestamp"] == gcore.get(f"/cloud/v1/tasks/{task_id}").json()["created_on"]
    assert emu.gcore_project(2)["name"] == "analytics"
    assert emu.gcore_project_revision(2) == 0


def test_reads_still_work_and_show_the_lock(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    task_id = emu.lock_gcore_project(3, task_type="delete_project")
    assert gcore.get("/cloud/v1/projects/3").json()["task_id"] == task_id
    listed = {p["id"]: p["task_id"] for p in gcore.get("/cloud/v1/projects").json()["results"]}
    assert listed == {1: None, 2: None, 3: task_id}
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "other"}).status_code == 200


def test_timed_task_runs_then_finishes_and_releases_the_lock(
    gcore: ApiClient, emu: ProjectsEmulator, clock: FakeClock
) -> None:
    task_id = emu.lock_gcore_project(2, seconds=16)
    task = gcore.get(f"/cloud/v1/tasks/{task_id}").json()
    assert (task["state"], task["task_type"], task["project_id"]) == ("NEW", "update_project", 2)
    assert task["finished_on"] is None
    clock.advance(1)
    assert gcore.get(f"/cloud/v1/tasks/{task_id}").json()["state"] == "RUNNING"
    clock.advance(14)
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"}).status_code == 409
    clock.advance(1)
    assert gcore.get("/cloud/v1/projects/2").json()["task_id"] is None
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"}).status_code == 200
    clock.advance(3600)  # tasks stay queryable after they end
    done = gcore.get(f"/cloud/v1/tasks/{task_id}").json()
    assert (done["state"], done["error"]) == ("FINISHED", None)
    assert done["finished_on"] is not None
    assert done["updated_on"] == done["finished_on"]


def test_timed_task_can_end_in_error_with_text(gcore: ApiClient, emu: ProjectsEmulator, clock: FakeClock) -> None:
    task_id = emu.lock_gcore_project(2, seconds=5, outcome="ERROR", error="quota exceeded")
    clock.advance(5)
    task = gcore.get(f"/cloud/v1/tasks/{task_id}").json()
    assert (task["state"], task["error"]) == ("ERROR", "quota exceeded")
    assert task["finished_on"] is not None
    assert gcore.get("/cloud/v1/projects/2").json()["task_id"] is None


def test_error_without_text_still_carries_an_error(emu: ProjectsEmulator, clock: FakeClock) -> None:
    task_id = emu.lock_gcore_project(2, seconds=1, outcome="ERROR")
    clock.advance(1)
    assert emu.gcore_task(task_id)["error"]


@pytest.mark.parametrize("edition", ["2026-05"])
def test_untimed_lock_holds_until_finished(gcore: ApiClient, emu: ProjectsEmulator, clock: FakeClock) -> None:
    task_id = emu.lock_gcore_project(2)
    clock.advance(7200)
    assert gcore.get(f"/cloud/v1/tasks/{task_id}").json()["state"] == "RUNNING"
    assert gcore.put("/cloud/v1/projects/2", json={"name": "x-x"}).status_code == 409
    emu.finish_task(task_id, state="ERROR", error="boom")
    task = gcore.get(f"/cloud/v1/tasks/{task_id}").json()
    assert (task["state"], task["error"]) == ("ERROR", "boom")
    assert gcore.put("/cloud/v1/projects/2", json={"name": "x-x"}).status_code == 200


def test_a_new_lock_after_the_first_has_a_new_task(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    first = emu.lock_gcore_project(2)
    emu.finish_task(first)
    second = emu.lock_gcore_project(2, task_type="rename_project")
    assert second != first
    message = gcore.patch("/cloud/v1/projects/2", json={"name": "n-n"}).json()["message"]
    match = LOCK_MESSAGE.fullmatch(message)
    assert match is not None
    assert (match["task_id"], match["task_type"]) == (second, "rename_project")
    assert gcore.get(f"/cloud/v1/tasks/{first}").json()["state"] == "FINISHED"


def test_lock_misuse_raises(emu: ProjectsEmulator) -> None:
    task_id = emu.lock_gcore_project(2)
    with pytest.raises(RuntimeError):
        emu.lock_gcore_project(2)
    emu.finish_task(task_id)
    with pytest.raises(RuntimeError):
        emu.finish_task(task_id)
    with pytest.raises(ValueError, match="outcome"):
        emu.lock_gcore_project(3, outcome="DONE")
    with pytest.raises(KeyError):
        emu.lock_gcore_project(99)
    with pytest.raises(KeyError):
        emu.finish_task("no-such-task")


def test_unknown_task_is_404(gcore: ApiClient) -> None:
    response = gcore.get("/cloud/v1/tasks/7244e161-664c-4afd-a34e-7003eac4d949")
    assert response.status_code == 404
    assert response.json()["exception_class"] == "NotFoundError"


def test_deleting_a_locked_project_drops_the_lock(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.lock_gcore_project(3)
    emu.delete_gcore_project(3)
    assert emu.gcore_project(3)["task_id"] is None
    assert gcore.patch("/cloud/v1/projects/3", json={"name": "abc"}).status_code == 404
