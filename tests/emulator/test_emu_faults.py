"""Faults on demand: statuses with headers, custom bodies, delays, dropped connections, cut bodies."""

from __future__ import annotations

import json

import httpx
import pytest
import requests
from emulator_support import ApiClient

from projects_emulator import ProjectsEmulator


def test_status_fault_answers_instead_of_the_api_for_times_requests(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    fault = emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", status=429, headers={"Retry-After": "3"}, times=2)
    for _ in range(2):
        response = gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"})
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        assert response.json()["message"] == "HTTP 429: Too Many Requests"
    assert emu.gcore_project(2)["name"] == "analytics"  # the API never saw them
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"}).status_code == 200
    assert (fault.hits, fault.remaining) == (2, 0)


def test_gcai_status_fault_uses_the_gcai_error_shape(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcai", "GET", r"/projects", status=503, headers={"Retry-After": "5"})
    response = gcai.get("/projects")
    assert response.status_code == 503
    assert response.json() == {"error": "Service Unavailable"}
    emu.add_fault("gcai", "GET", r"/projects", status=429, headers={"Retry-After": "1"})
    assert gcai.get("/projects", check=False).json()["code"] == "RATE_LIMITED"


def test_path_pattern_matches_the_whole_path_and_the_method(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "GET", r"/cloud/v1/projects/1", status=500, times=None)
    assert gcore.get("/cloud/v1/projects/12").status_code == 404
    assert gcore.patch("/cloud/v1/projects/1", json={}).status_code == 200
    assert gcore.get("/cloud/v1/projects/1").status_code == 500
    assert gcore.get("/cloud/v1/projects/1").status_code == 500  # times=None: until removed


def test_wildcard_method_and_remove_fault(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    fault = emu.add_fault("gcai", "*", r"/projects/.*", status=500, times=None)
    project = f"/projects/{emu.gcai_project_ids[0]}"
    assert gcai.get(project).status_code == 500
    assert gcai.patch(project, json={}).status_code == 500
    assert gcai.get("/projects").status_code == 200
    emu.remove_fault(fault)
    assert gcai.get(project).status_code == 200


def test_custom_json_and_malformed_bodies(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "GET", r"/cloud/v1/projects/1", status=502, body={"upstream": "down"})
    assert gcore.get("/cloud/v1/projects/1", check=False).json() == {"upstream": "down"}
    emu.add_fault("gcore", "GET", r"/cloud/v1/projects/1", body='{"id": 1, "name": ')
    response = gcore.get("/cloud/v1/projects/1", check=False)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_headers_only_fault_decorates_the_real_answer(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", headers={"X-Emulated": "yes"})
    response = gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"})
    assert response.status_code == 200
    assert response.headers["X-Emulated"] == "yes"
    assert emu.gcore_project(2)["name"] == "renamed"


def test_truncated_body_keeps_status_200_and_breaks_the_json(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "GET", r"/cloud/v1/projects", truncate=True)
    cut = gcore.get("/cloud/v1/projects", check=False)
    whole = gcore.get("/cloud/v1/projects")
    assert cut.status_code == 200
    assert whole.text.startswith(cut.text)
    assert 0 < len(cut.content) < len(whole.content)
    with pytest.raises(requests.JSONDecodeError):
        cut.json()


def test_delay_longer_than_the_client_timeout(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    project = emu.gcai_project_ids[0]
    emu.add_fault("gcai", "PATCH", rf"/projects/{project}", delay=30)
    with pytest.raises(requests.ReadTimeout):
        gcai.patch(f"/projects/{project}", json={"name": "late"}, timeout=0.2)
    # A pure delay lets the request through: the write happened, only the answer was late.
    assert emu.gcai_project(project)["name"] == "late"
    assert gcai.get(f"/projects/{project}").status_code == 200


def test_delayed_status_fault(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "GET", r"/cloud/v1/projects/1", status=504, delay=0.01)
    assert gcore.get("/cloud/v1/projects/1").status_code == 504


def test_dropped_connection_with_requests_and_httpx(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", drop=True, times=2)
    with pytest.raises(requests.ConnectionError):
        gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"})
    with (
        httpx.Client(base_url=emu.gcore_url, headers={"Authorization": f"APIKey {emu.gcore_key}"}) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.patch("/cloud/v1/projects/2", json={"name": "renamed"})
    assert emu.gcore_project(2)["name"] == "analytics"
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"}).status_code == 200  # same session
    dropped = emu.requests(api="gcore", method="PATCH")
    assert [r.faulted for r in dropped] == [True, True, False]


def test_add_fault_validates_its_arguments(emu: ProjectsEmulator) -> None:
    with pytest.raises(ValueError, match="api"):
        emu.add_fault("aws", "GET", "/")
    with pytest.raises(ValueError, match="times"):
        emu.add_fault("gcore", "GET", "/", status=500, times=0)
    with pytest.raises(ValueError, match="status"):
        emu.add_fault("gcore", "GET", "/", status=1000)


def test_clear_faults_withdraws_them_all_and_says_how_many(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "*", r".*", status=500, times=None)
    emu.add_fault("gcai", "GET", r"/ping", delay=1)
    assert emu.clear_faults() == 2
    assert gcore.get("/cloud/v1/projects").status_code == 200
    assert emu.clear_faults() == 0


def test_a_fault_describes_everything_it_was_given(emu: ProjectsEmulator) -> None:
    headers = {"Retry-After": "3", "X-Trace": "t-1"}
    emu.add_fault("gcai", "get", r"/projects/.*", status=503, headers=headers, times=2, delay=0.5)
    emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", body=b'{"half":', stall=True, stall_timeout=9)
    emu.add_fault("gcore", "GET", r"/cloud/v1/projects", body={"count": 0, "results": []}, headers={"A": "b"})
    described = [fault.to_json() for fault in emu.faults()]
    assert described[0] == {
        "id": 1,
        "api": "gcai",
        "method": "GET",
        "path": "/projects/.*",
        "status": 503,
        "headers": headers,
        "body": None,
        "delay": 0.5,
        "drop": False,
        "truncate": False,
        "stall": False,
        "stall_timeout": 300.0,
        "remaining": 2,
        "hits": 0,
    }
    assert (described[1]["body"], described[1]["stall"], described[1]["stall_timeout"]) == ('{"half":', True, 9)
    assert (described[2]["body"], described[2]["headers"]) == ({"count": 0, "results": []}, {"A": "b"})
    json.dumps(described)  # what the control endpoint and the command line send
