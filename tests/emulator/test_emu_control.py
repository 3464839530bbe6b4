"""Stall faults and the control endpoint, in process: the same controls the CLI drives from outside."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import requests
from emulator_support import ApiClient, FakeClock

from projects_emulator import ProjectsEmulator
from projects_emulator.control_client import ControlClient, ControlError


@pytest.fixture
def controlled(clock: FakeClock) -> Iterator[ProjectsEmulator]:
    with ProjectsEmulator(clock=clock, control_port=0) as emulator:
        yield emulator


@pytest.fixture
def control(controlled: ProjectsEmulator) -> ControlClient:
    assert controlled.control_url is not None
    return ControlClient(controlled.control_url)


def _in_background(call: Callable[[], requests.Response]) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call().status_code)
        except requests.ConnectionError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_stalled_write_is_applied_only_once_released(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    fault = emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", stall=True)
    thread, outcome = _in_background(lambda: gcore.patch("/cloud/v1/projects/2", json={"name": "late"}))
    assert emu.wait_for_stalled(1, timeout=10)
    assert emu.stalled() == [{"fault_id": fault.id, "api": "gcore", "method": "PATCH", "path": "/cloud/v1/projects/2"}]
    assert emu.gcore_project(2)["name"] == "analytics"
    assert len(emu.requests(method="PATCH")) == 1  # journaled on arrival
    assert emu.release_stalled(fault) == 1
    thread.join(timeout=10)
    assert outcome == [200]
    assert emu.gcore_project(2)["name"] == "late"
    assert emu.stalled() == []


def test_a_dropped_stall_gets_no_answer_and_applies_nothing(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", stall=True)
    thread, outcome = _in_background(lambda: gcore.patch("/cloud/v1/projects/2", json={"name": "never"}))
    assert emu.wait_for_stalled(1, timeout=10)
    assert emu.drop_stalled() == 1
    thread.join(timeout=10)
    assert isinstance(outcome[0], requests.ConnectionError)
    assert emu.gcore_project(2)["name"] == "analytics"


def test_a_stall_times_out_into_a_drop(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcai", "GET", r"/ping", stall=True, stall_timeout=0.01)
    client = ApiClient("gcai", emu.gcai_url, emu.gcai_org_key, None)
    with pytest.raises(requests.ConnectionError):
        client.get("/ping")
    assert emu.stalled() == []


@pytest.mark.parametrize("end", ["reset", "stop"])
def test_reset_and_stop_drop_stalled_requests(gcore: ApiClient, emu: ProjectsEmulator, end: str) -> None:
    emu.add_fault("gcore", "GET", r"/cloud/v1/projects/1", stall=True)
    thread, outcome = _in_background(lambda: gcore.get("/cloud/v1/projects/1"))
    assert emu.wait_for_stalled(1, timeout=10)
    getattr(emu, end)()
    thread.join(timeout=10)
    assert isinstance(outcome[0], requests.ConnectionError)


def test_a_stall_with_a_status_answers_that_status_once_released(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcai", "GET", r"/projects", stall=True, status=503, headers={"Retry-After": "1"})
    thread, outcome = _in_background(lambda: gcai.get("/projects"))
    assert emu.wait_for_stalled(1, timeout=10)
    emu.release_stalled()
    thread.join(timeout=10)
    assert outcome == [503]


def test_wait_for_stalled_gives_up_after_its_timeout(emu: ProjectsEmulator) -> None:
    assert emu.wait_for_stalled(1, timeout=0.01) is False


def test_control_is_served_only_when_asked_for(emu: ProjectsEmulator, controlled: ProjectsEmulator) -> None:
    assert emu.control_url is None
    assert controlled.control_url is not None
    assert controlled.control_url.startswith("http://127.0.0.1:")


def test_control_calls_are_neither_journaled_nor_faulted(controlled: ProjectsEmulator, control: ControlClient) -> None:
    controlled.add_fault("gcore", "*", ".*", status=500, times=None)
    controlled.add_fault("gcai", "*", ".*", drop=True, times=None)
    task_id = control.call("POST", "/locks", {"project_id": 2, "seconds": None})["task_id"]
    assert controlled.gcore_project(2)["task_id"] == task_id
    assert control.call("GET", "/journal")["requests"] == []
    assert [f["id"] for f in control.call("GET", "/faults")["faults"]] == [1, 2]
    control.call("DELETE", "/faults/1")
    assert [f.id for f in controlled.faults()] == [2]


def test_control_state_and_journal_filters(controlled: ProjectsEmulator, control: ControlClient) -> None:
    status = control.call("GET", "/")
    assert (status["edition"], status["control_url"]) == ("2026-08", controlled.control_url)
    requests.get(f"{controlled.gcai_url}/ping", headers={"Authorization": controlled.gcai_org_key}, timeout=5)
    requests.get(f"{controlled.gcore_url}/cloud/v1/projects", timeout=5)
    assert [r["api"] for r in control.call("GET", "/journal", query={"api": "gcai"})["requests"]] == ["gcai"]
    control.call("DELETE", "/journal")
    assert controlled.requests() == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status_words"),
    [
        ("POST", "/locks", {}, "missing field 'project_id'"),
        ("POST", "/locks", {"project_id": "2"}, "must be int"),
        ("POST", "/locks", {"project_id": 404}, "not found"),
        ("POST", "/tasks/nope/finish", {}, "not found"),
        ("POST", "/faults", {"api": "gcore", "path": "/x", "colour": 1}, "unknown fault fields: colour"),
        ("POST", "/faults", {"api": "nope", "path": "/x"}, "api must be one of"),
        ("PUT", "/edition", {"edition": "1999"}, "edition must be one of"),
        ("GET", "/nowhere", None, "no control route GET /nowhere"),
        ("DELETE", "/faults/99", None, "not found"),
    ],
)
def test_control_refusals_are_one_readable_line(
    control: ControlClient, method: str, path: str, body: dict[str, object] | None, status_words: str
) -> None:
    with pytest.raises(ControlError, match=status_words):
        control.call(method, path, body)


def test_locking_a_locked_project_is_a_conflict(controlled: ProjectsEmulator, control: ControlClient) -> None:
    controlled.lock_gcore_project(2)
    with pytest.raises(ControlError, match="already locked"):
        control.call("POST", "/locks", {"project_id": 2})


def test_control_creates_and_locks_many_projects_in_one_call_each(
    controlled: ProjectsEmulator, control: ControlClient, clock: FakeClock
) -> None:
    ids = control.call("POST", "/gcore/projects", {"count": 3000, "name_prefix": "ctl"})["project_ids"]
    assert ids == list(range(4, 3004))
    assert controlled.gcore_project(3003)["name"] == "ctl-3003"
    seconds = [5, None, *[10] * 2998]
    tasks = control.call("POST", "/locks", {"project_ids": ids, "seconds": seconds, "task_type": "bulk"})["task_ids"]
    assert [controlled.gcore_project(pid)["task_id"] for pid in ids] == tasks
    clock.advance(6)
    assert [controlled.gcore_project(pid)["task_id"] is None for pid in ids[:3]] == [True, False, False]
    assert controlled.gcore_task(tasks[1])["task_type"] == "bulk"
    same = control.call("POST", "/locks", {"project_ids": [2, 3], "seconds": 1, "outcome": "ERROR", "error": "x"})
    clock.advance(2)
    assert [controlled.gcore_task(t)["state"] for t in same["task_ids"]] == ["ERROR", "ERROR"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"project_ids": [2, "3"]}, "list of integers"),
        ({"project_ids": [2, 3], "seconds": [1]}, "a list of 2 numbers or nulls"),
        ({"project_ids": [2, 3], "seconds": [1, True]}, "a list of 2 numbers or nulls"),
        ({"project_ids": [2, 2]}, "more than once"),
        ({"project_ids": 2}, "must be list"),
    ],
)
def test_control_refuses_a_bad_bulk_lock_and_locks_nothing(
    controlled: ProjectsEmulator, control: ControlClient, body: dict[str, object], words: str
) -> None:
    with pytest.raises(ControlError, match=words):
        control.call("POST", "/locks", body)
    assert controlled.gcore_project(2)["task_id"] is None


def test_control_clears_say_how_many_and_what(controlled: ProjectsEmulator, control: ControlClient) -> None:
    controlled.add_fault("gcore", "GET", ".*", status=500, times=None)
    controlled.add_fault("gcai", "GET", ".*", status=500, times=None)
    requests.get(f"{controlled.gcai_url}/ping", headers={"Authorization": controlled.gcai_org_key}, timeout=5)
    assert control.call("DELETE", "/faults/2") == {"removed": 2}
    assert control.call("DELETE", "/faults") == {"cleared": 1}
    assert control.call("DELETE", "/journal") == {"cleared": 1}
    assert control.call("PUT", "/rate-limit", {"limit": 5}) == {"limit": 5, "window": 60.0}
    assert control.call("POST", "/reset") == {"reset": True}
    assert (control.call("GET", "/journal")["requests"], controlled.faults()) == ([], [])
