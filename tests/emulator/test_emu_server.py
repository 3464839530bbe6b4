"""Lifecycle and plumbing: start/stop, keep-alive, chunked bodies, threads, reset, CLI, pytest plugin."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests
from emulator_support import ApiClient, FakeClock

from projects_emulator import ProjectsEmulator
from projects_emulator.listeners import BindError


def test_urls_need_a_running_emulator() -> None:
    emu = ProjectsEmulator()
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.gcore_url
    assert not emu.running


def test_stop_closes_the_ports_and_start_again_works() -> None:
    emu = ProjectsEmulator().start()
    url = emu.gcore_url
    session = requests.Session()
    assert session.get(f"{url}/cloud/v1/projects", headers={"Authorization": f"APIKey {emu.gcore_key}"}).ok
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/cloud/v1/projects", timeout=2)
    with emu:
        assert requests.get(f"{emu.gcai_url}/ping", headers={"Authorization": emu.gcai_org_key}, timeout=2).ok
    with pytest.raises(RuntimeError, match="already running"):
        emu.start().start()
    emu.stop()


def test_both_servers_bind_localhost_on_separate_ports(emu: ProjectsEmulator) -> None:
    assert emu.gcore_url == f"http://127.0.0.1:{emu.gcore_port}"
    assert emu.gcai_url == f"http://127.0.0.1:{emu.gcai_port}/api/external/v1"
    assert emu.gcore_port != emu.gcai_port


def test_http11_keep_alive_serves_several_requests_on_one_connection(emu: ProjectsEmulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emu.gcai_port, timeout=5)
    sockets = []
    for _ in range(3):
        connection.request("GET", "/api/external/v1/ping", headers={"Authorization": emu.gcai_org_key})
        response = connection.getresponse()
        assert response.status == 200
        assert response.version == 11
        assert json.loads(response.read())["status"] == "pong"
        sockets.append(connection.sock)
    assert sockets[0] is not None
    assert all(s is sockets[0] for s in sockets)
    connection.close()


def test_chunked_request_body(emu: ProjectsEmulator) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": '
        yield b'"chunked-name"}'

    with httpx.Client(base_url=emu.gcore_url, headers={"Authorization": f"APIKey {emu.gcore_key}"}) as client:
        response = client.patch("/cloud/v1/projects/2", content=chunks())
    assert response.status_code == 200
    assert response.json()["name"] == "chunked-name"


def test_concurrent_writes_are_serialised(emu: ProjectsEmulator) -> None:
    def patch(index: int) -> int:
        headers = {"Authorization": f"APIKey {emu.gcore_key}"}
        body = {"description": f"writer {index}"}
        return requests.patch(f"{emu.gcore_url}/cloud/v1/projects/3", json=body, headers=headers, timeout=5).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(patch, range(24)))
    assert statuses == [200] * 24
    assert emu.gcore_project_revision(3) == 24
    assert len(emu.requests(method="PATCH")) == 24


def test_reset_restores_the_seeded_state(gcore: ApiClient, gcai: ApiClient, emu: ProjectsEmulator) -> None:
    gcore.patch("/cloud/v1/projects/2", json={"name": "changed"})
    emu.lock_gcore_project(3)
    emu.delete_gcore_project(1)
    emu.add_gcai_project("extra")
    emu.add_fault("gcai", "*", r".*", status=500, times=None)
    emu.edition = "2026-05"
    emu.set_gcai_rate_limit(1, 60)
    emu.reset()
    assert emu.requests() == []
    assert [p["name"] for p in gcore.get("/cloud/v1/projects?order_by=created_at.asc").json()["results"]] == [
        "default",
        "analytics",
        "staging-eu",
    ]
    assert gcore.get("/cloud/v1/projects/3").json()["task_id"] is None
    assert gcore.put("/cloud/v1/projects/3", json={"name": "put-again"}).status_code == 405  # back to 2026-08
    for _ in range(3):
        assert gcai.get("/projects").status_code == 200
    assert len(gcai.get("/projects").json()["projects"]) == 2


def test_airflow_connection_env(emu: ProjectsEmulator) -> None:
    env = emu.airflow_connection_env()
    assert set(env) == {"AIRFLOW_CONN_GCORE_DEFAULT", "AIRFLOW_CONN_GCAI_DEFAULT"}
    assert json.loads(env["AIRFLOW_CONN_GCORE_DEFAULT"]) == {
        "conn_type": "gcore",
        "host": emu.gcore_url,
        "password": emu.gcore_key,
    }
    assert json.loads(env["AIRFLOW_CONN_GCAI_DEFAULT"]) == {
        "conn_type": "gcai",
        "host": emu.gcai_url,
        "password": emu.gcai_org_key,
    }


def test_airflow_connection_env_off_loopback_allows_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """Served with --allow-remote: the hooks refuse plain http to such a host unless the connection says so."""
    from airflow_provider_projects.hooks.gcai import GcaiHook
    from airflow_provider_projects.hooks.gcore import GcoreHook

    with ProjectsEmulator(host="0.0.0.0") as remote:
        env = remote.airflow_connection_env()
        for name, value in env.items():
            assert json.loads(value)["extra"] == {"allow_insecure_http": True}, name
            monkeypatch.setenv(name, value)
        assert GcoreHook().settings().base_url == remote.gcore_url
        assert GcaiHook().settings().base_url == remote.gcai_url


def test_plugin_fixture_yields_a_running_emulator(projects_emulator: ProjectsEmulator) -> None:
    assert projects_emulator.running
    headers = {"Authorization": projects_emulator.gcai_org_key}
    assert requests.get(f"{projects_emulator.gcai_url}/ping", headers=headers, timeout=5).ok


def test_plugin_env_fixture_sets_the_connections(projects_emulator_env: ProjectsEmulator) -> None:
    gcore = json.loads(os.environ["AIRFLOW_CONN_GCORE_DEFAULT"])
    assert gcore["host"] == projects_emulator_env.gcore_url
    assert json.loads(os.environ["AIRFLOW_CONN_GCAI_DEFAULT"])["password"] == projects_emulator_env.gcai_org_key


def test_seeded_ids_and_keys() -> None:
    assert ProjectsEmulator.gcore_project_ids == (1, 2, 3)
    assert len(ProjectsEmulator.gcai_project_ids) == 4
    emu = ProjectsEmulator(clock=FakeClock())
    assert emu.gcai_org_key.startswith("gcai_")
    assert emu.gcai_user_key.startswith("u:gcai_")
    assert emu.gcore_key


def test_importing_the_package_does_not_load_the_server() -> None:
    code = "import sys, projects_emulator as e;print('http.server' in sys.modules, e.__doc__ is not None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.split() == ["False", "True"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_port_in_use_fails_start_without_leaving_the_other_server_up(emu: ProjectsEmulator) -> None:
    gcore_port = _free_port()
    clash = ProjectsEmulator(gcore_port=gcore_port, gcai_port=emu.gcai_port)
    with pytest.raises(BindError) as caught:
        clash.start()
    assert (caught.value.api, caught.value.port, caught.value.in_use) == ("gcai", emu.gcai_port, True)
    assert isinstance(caught.value, OSError)  # callers that caught OSError before still do
    assert not clash.running
    with ProjectsEmulator(gcore_port=gcore_port) as again:  # the failed start released its Gcore port
        assert again.gcore_port == gcore_port
