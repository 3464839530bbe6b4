"""Accounts of thousands of Gcore projects: created and locked in one call, listed page by page.

The list keeps its sort orders between requests (``GcoreStore``); these tests hold every page to
what a fresh sort of the projects gives, through adds, renames, deletes and lock releases.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from emulator_support import ApiClient, FakeClock

from projects_emulator import ProjectsEmulator

ORDERS = ("created_at.asc", "created_at.desc", "name.asc", "name.desc")


def _expected(projects: list[dict[str, Any]], order_by: str, include_deleted: bool, name: str | None) -> list[int]:
    """The ids a list request must return, by brute force over snapshots."""
    field, direction = order_by.split(".")
    chosen = [
        p for p in projects if (include_deleted or p["state"] != "DELETED") and (name is None or p["name"] == name)
    ]
    chosen.sort(key=lambda p: (p[field], p["id"]), reverse=direction == "desc")
    return [p["id"] for p in chosen]


def _listed(gcore: ApiClient, check: bool = True, **params: Any) -> tuple[int, list[int]]:
    body = gcore.get("/cloud/v1/projects", params=params, check=check).json()
    return body["count"], [p["id"] for p in body["results"]]


def test_add_gcore_projects_creates_them_at_once_after_the_highest_id(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_gcore_project("explicit", project_id=40)
    ids = emu.add_gcore_projects(5, name_prefix="batch", description="made in bulk")
    assert ids == [41, 42, 43, 44, 45]
    made = [emu.gcore_project(pid) for pid in ids]
    assert [p["name"] for p in made] == [f"batch-{pid}" for pid in ids]
    assert {p["description"] for p in made} == {"made in bulk"}
    assert len({p["created_at"] for p in made}) == 1  # one moment: the list orders them by id
    assert _listed(gcore, limit=3) == (9, [45, 44, 43])
    assert emu.add_gcore_projects(0) == []


def test_add_gcore_projects_creates_nothing_when_a_name_is_taken(emu: ProjectsEmulator) -> None:
    emu.add_gcore_project("project-5")
    with pytest.raises(ValueError, match="'project-5' is taken"):
        emu.add_gcore_projects(3)
    assert emu.add_gcore_projects(1, name_prefix="other") == [5]
    with pytest.raises(ValueError, match="count"):
        emu.add_gcore_projects(-1)


def test_ten_thousand_projects_page_through_in_every_order(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    ids = emu.add_gcore_projects(10_000, name_prefix="p")
    assert ids[-1] == 10_003
    projects = _all_known(emu)
    for order_by in ORDERS:
        seen: list[int] = []
        for offset in range(0, 11_000, 1000):
            # Each page against the spec once is enough (a 1,000-project check is slow).
            count, page = _listed(gcore, order_by == ORDERS[0], limit=1000, offset=offset, order_by=order_by)
            assert count == 10_003
            seen += page
        assert seen == _expected(projects, order_by, False, None), order_by


def test_pages_stay_right_through_adds_renames_deletes_and_locks(
    gcore: ApiClient, emu: ProjectsEmulator, clock: FakeClock
) -> None:
    chance = random.Random(20)  # fixed seed: the same walk every run
    emu.add_gcore_projects(60, name_prefix="walk")
    for step in range(80):
        last = max(p["id"] for p in _all_known(emu))
        action = chance.choice(["add", "rename", "delete", "lock", "time"])
        target = chance.randint(2, last)
        live = emu.gcore_project(target)["state"] == "ACTIVE" and emu.gcore_project(target)["task_id"] is None
        if action == "add":
            emu.add_gcore_projects(chance.randint(1, 3), name_prefix=f"step{step}")
        elif action == "rename" and live:
            gcore.patch(f"/cloud/v1/projects/{target}", json={"name": chance.choice(["aa", "zz", "mm"]) + str(step)})
        elif action == "delete" and live:
            emu.delete_gcore_project(target)
        elif action == "lock" and live:
            emu.lock_gcore_project(target, seconds=chance.choice([1.0, 5.0]))
        else:
            clock.advance(2)
        _check_every_order(gcore, emu, chance)


def _all_known(emu: ProjectsEmulator) -> list[dict[str, Any]]:
    found, pid = [], 1
    while True:
        try:
            found.append(emu.gcore_project(pid))
        except KeyError:
            return found
        pid += 1


def _check_every_order(gcore: ApiClient, emu: ProjectsEmulator, chance: random.Random) -> None:
    projects = _all_known(emu)
    for order_by in ORDERS:
        for include_deleted in (False, True):
            name = chance.choice([None, None, projects[chance.randrange(len(projects))]["name"]])
            offset, limit = chance.randint(0, 30), chance.randint(1, 40)
            params: dict[str, Any] = {"order_by": order_by, "include_deleted": include_deleted}
            params.update({"offset": offset, "limit": limit} | ({"name": name} if name is not None else {}))
            body = gcore.get("/cloud/v1/projects", params=params, check=False).json()
            expected = _expected(projects, order_by, include_deleted, name)
            assert body["count"] == len(expected), params
            assert [p["id"] for p in body["results"]] == expected[offset : offset + limit], params
            by_id = {p["id"]: p for p in projects}
            assert all(p == by_id[p["id"]] for p in body["results"])  # locks and states as of now


def test_a_deleted_projects_name_is_free_and_listed_by_name_only_with_deleted_ones(
    gcore: ApiClient, emu: ProjectsEmulator
) -> None:
    emu.delete_gcore_project(3)
    assert gcore.post("/cloud/v1/projects", json={"name": "staging-eu"}).status_code == 201
    assert _listed(gcore, name="staging-eu") == (1, [4])
    assert _listed(gcore, name="staging-eu", include_deleted="true", order_by="created_at.asc") == (2, [3, 4])


def test_lock_gcore_projects_ends_each_task_at_its_own_time(
    gcore: ApiClient, emu: ProjectsEmulator, clock: FakeClock
) -> None:
    ids = emu.add_gcore_projects(1000)
    seconds = [float(1 + i % 10) for i in range(1000)]
    tasks = emu.lock_gcore_projects(ids, seconds=seconds)
    assert len(set(tasks)) == 1000
    assert [emu.gcore_project(pid)["task_id"] for pid in ids] == tasks
    for elapsed in range(1, 11):
        clock.advance(1)
        query = {"limit": 1000, "offset": 3, "order_by": "created_at.asc"}
        listed = gcore.get("/cloud/v1/projects", params=query, check=False)
        locked = [p["id"] for p in listed.json()["results"] if p["task_id"] is not None]
        assert locked == [pid for pid, s in zip(ids, seconds, strict=True) if s > elapsed], elapsed
    assert {emu.gcore_task(task)["state"] for task in tasks} == {"FINISHED"}


def test_lock_gcore_projects_takes_one_duration_or_none_and_the_lock_options(
    emu: ProjectsEmulator, clock: FakeClock
) -> None:
    held = emu.lock_gcore_projects([2, 3], task_type="delete_project", outcome="ERROR", error="quota")
    timed = emu.lock_gcore_projects(emu.add_gcore_projects(2), seconds=4, outcome="ERROR", error="quota")
    clock.advance(100)
    assert {emu.gcore_task(t)["state"] for t in held} == {"RUNNING"}  # None: until finished by hand
    assert [(emu.gcore_task(t)["state"], emu.gcore_task(t)["error"]) for t in timed] == [("ERROR", "quota")] * 2
    assert emu.gcore_task(held[0])["task_type"] == "delete_project"


@pytest.mark.parametrize(
    ("project_ids", "seconds", "error", "words"),
    [
        ([4, 2, 99], 5.0, KeyError, "no live Gcore project 99"),
        ([4, 5, 4], 5.0, ValueError, "more than once"),
        ([4, 5], [1.0], ValueError, "2 projects but 1 durations"),
        ([4, 6], 5.0, RuntimeError, "already locked"),
    ],
)
def test_lock_gcore_projects_is_all_or_nothing(
    emu: ProjectsEmulator, project_ids: list[int], seconds: Any, error: type[Exception], words: str
) -> None:
    emu.add_gcore_projects(3)
    emu.lock_gcore_project(6)
    with pytest.raises(error, match=words):
        emu.lock_gcore_projects(project_ids, seconds=seconds)
    assert [emu.gcore_project(pid)["task_id"] for pid in (2, 4, 5)] == [None, None, None]


def test_finished_tasks_stay_readable_and_hand_finished_ones_do_not_end_twice(
    gcore: ApiClient, emu: ProjectsEmulator, clock: FakeClock
) -> None:
    first, second = emu.lock_gcore_projects([2, 3], seconds=[10, 10])
    emu.finish_task(first, state="ERROR", error="by hand")
    clock.advance(20)
    assert (emu.gcore_task(first)["state"], emu.gcore_task(first)["error"]) == ("ERROR", "by hand")
    assert emu.gcore_task(second)["state"] == "FINISHED"
    assert gcore.get(f"/cloud/v1/tasks/{first}").json()["state"] == "ERROR"
