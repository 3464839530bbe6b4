"""``projects-emulator``: ``serve`` in a real process, and the commands that change it from outside.

Each test runs real processes on 127.0.0.1 with ephemeral ports (``--*-port 0``) and bounded
timeouts (see ``cli_process``).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests
from cli_process import Served, run

GCORE = "AIRFLOW_CONN_GCORE_DEFAULT"
GCAI = "AIRFLOW_CONN_GCAI_DEFAULT"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """One served emulator for the module; each test starts from ``reset``."""
    with Served("--control-port", "0") as emulator:
        yield emulator


@pytest.fixture
def emulator(served: Served) -> Served:
    assert served.command("reset").returncode == 0
    return served


def _gcore(served: Served, method: str, path: str, **kwargs: object) -> requests.Response:
    conn = served.connection(GCORE)
    headers = {"Authorization": f"APIKey {conn['password']}"}
    return requests.request(method, conn["host"] + path, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_serve_prints_exports_a_shell_takes_as_they_are(emulator: Served) -> None:
    exports = "\n".join(line for line in emulator.banner if line.startswith("export "))
    # The whole banner pastes into bash (comments and exports), and the values arrive intact.
    show = (
        "import os, json; print(json.dumps({k: v for k, v in os.environ.items() if k in os.environ['NAMES'].split()}))"
    )
    names = f"{GCORE} {GCAI} PROJECTS_EMULATOR_URL"
    script = "\n".join([*emulator.banner, 'exec "$PY" -c "$SHOW"'])
    env = {"PATH": "/usr/bin:/bin", "PY": sys.executable, "SHOW": show, "NAMES": names}
    shell = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=20, check=True, env=env)
    assert json.loads(shell.stdout) == {name: emulator.exports[name] for name in names.split()}
    assert len(exports.splitlines()) == 3
    gcore, gcai = emulator.connection(GCORE), emulator.connection(GCAI)
    assert (gcore["conn_type"], gcai["conn_type"]) == ("gcore", "gcai")
    assert gcore["host"].startswith("http://127.0.0.1:")
    assert gcai["host"].endswith("/api/external/v1")
    assert _gcore(emulator, "GET", "/cloud/v1/projects/2").json()["name"] == "analytics"
    assert any("spec edition 2026-08" in line for line in emulator.banner)


def test_the_banner_prints_whole_ids_each_readable_with_the_exported_key(emulator: Served) -> None:
    text = "\n".join(emulator.banner)
    uuid_starts = re.findall(r"\b[0-9a-f]{8}-[^\s,]*", text)
    assert uuid_starts, text
    assert all(re.fullmatch(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", token) for token in uuid_starts), text
    gcai = emulator.connection(GCAI)
    (projects_line,) = [line for line in emulator.banner if line.startswith("#") and "projects 3c90" in line]
    printed = re.findall(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", projects_line)
    assert len(printed) == 2
    assert [re.fullmatch(r"#\s+projects (.*)", projects_line)[1]] == [", ".join(printed)]  # type: ignore[index]
    for project_id in printed:
        answer = requests.get(
            f"{gcai['host']}/projects/{project_id}", headers={"Authorization": gcai["password"]}, timeout=10
        )
        assert answer.status_code == 200, project_id
    listed = requests.get(f"{gcai['host']}/projects", headers={"Authorization": gcai["password"]}, timeout=10).json()
    assert {p["id"] for p in listed["projects"]} == set(printed)  # and nothing the key sees is left out
    # The others: named by the key that sees them, and that key really does.
    (user_key,) = re.findall(r"personal key (\S+) also sees 2 access-controlled projects", text)
    mine = requests.get(f"{gcai['host']}/projects", headers={"Authorization": user_key}, timeout=10).json()
    assert len({p["id"] for p in mine["projects"]} - set(printed)) == 2
    gcore = emulator.connection(GCORE)
    for project_id in re.findall(r"projects ([0-9, ]+) \(1 is", text)[0].split(", "):
        assert _gcore(emulator, "GET", f"/cloud/v1/projects/{project_id}").status_code == 200
    assert gcore["password"] in text


def test_lock_until_released_then_finish(emulator: Served) -> None:
    locked = emulator.command("lock", "2", "--until-released")
    assert locked.returncode == 0, locked.stderr
    task_id = locked.stdout.strip()
    conflict = _gcore(emulator, "PATCH", "/cloud/v1/projects/2", json={"name": "renamed"})
    assert conflict.status_code == 409
    assert task_id in conflict.json()["message"]
    assert emulator.command("finish", task_id).stdout.strip() == "FINISHED"
    assert _gcore(emulator, "PATCH", "/cloud/v1/projects/2", json={"name": "renamed"}).status_code == 200


def test_fail_ends_the_task_in_error_with_the_text(emulator: Served) -> None:
    task_id = emulator.command("lock", "3", "--seconds", "600").stdout.strip()
    assert emulator.command("fail", task_id, "--error", "quota exceeded").stdout.strip() == "ERROR"
    task = _gcore(emulator, "GET", f"/cloud/v1/tasks/{task_id}").json()
    assert (task["state"], task["error"]) == ("ERROR", "quota exceeded")
    again = emulator.command("finish", task_id)
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1
    assert "already ended" in again.stderr


def test_fault_with_status_and_times_then_journal(emulator: Served) -> None:
    added = emulator.command("fault", "gcore", "PATCH", r"/cloud/v1/projects/\d+", "--status", "503", "--times", "2")
    assert added.returncode == 0, added.stderr
    statuses = [_gcore(emulator, "PATCH", "/cloud/v1/projects/2", json={}).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    lines = emulator.command("journal", "--api", "gcore", "--method", "PATCH").stdout.splitlines()
    assert [json.loads(line)["faulted"] for line in lines] == [True, True, False]
    assert all(json.loads(line)["headers"]["authorization"] == "APIKey <redacted>" for line in lines)


def test_journal_shows_each_answers_status_and_wall_clock_time(emulator: Served) -> None:
    assert _gcore(emulator, "PUT", "/cloud/v1/projects/2", json={"name": "put-name"}).status_code == 405
    assert _gcore(emulator, "PATCH", "/cloud/v1/projects/2", json={"name": "patched"}).status_code == 200
    lines = [json.loads(line) for line in emulator.command("journal", "--api", "gcore").stdout.splitlines()]
    assert [(r["method"], r["status"]) for r in lines] == [("PUT", 405), ("PATCH", 200)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", r["wall_time"]) for r in lines)


def test_faults_show_their_headers_and_clearing_says_how_many(emulator: Served) -> None:
    emulator.command("fault", "gcai", "GET", "/ping", "--status", "429", "--header", "Retry-After:7", "--forever")
    emulator.command("fault", "gcore", "*", ".*", "--delay", "1")
    listed = [json.loads(line) for line in emulator.command("faults").stdout.splitlines()]
    assert [(f["status"], f["headers"]) for f in listed] == [(429, {"Retry-After": "7"}), (None, {})]
    assert emulator.command("remove-fault", str(listed[1]["id"])).stdout == f"removed fault {listed[1]['id']}\n"
    assert emulator.command("faults", "--clear").stdout == "removed 1 fault\n"
    assert emulator.command("faults", "--clear").stdout == "removed 0 faults\n"
    assert emulator.command("faults").stdout == ""


def test_clearing_the_journal_resetting_and_rate_limits_say_what_they_did(emulator: Served) -> None:
    _gcore(emulator, "GET", "/cloud/v1/projects/1")
    _gcore(emulator, "GET", "/cloud/v1/projects/2")
    assert emulator.command("journal", "--clear").stdout == "forgot 2 requests\n"
    assert emulator.command("journal").stdout == ""
    assert (
        emulator.command("rate-limit", "120/60").stdout == "GC AI rate limit: 120 requests per 60 s per organisation\n"
    )
    assert emulator.command("rate-limit", "off").stdout == "GC AI rate limit: off\n"
    assert emulator.command("reset").stdout.startswith("reset: seeded projects")


def test_add_projects_and_lock_ranges_of_them_in_one_call_each(emulator: Served) -> None:
    added = emulator.command("add-projects", "250", "--name-prefix", "bulk")
    assert added.returncode == 0, added.stderr
    ids = [int(line) for line in added.stdout.split()]
    assert ids == list(range(4, 254))
    assert _gcore(emulator, "GET", "/cloud/v1/projects/253").json()["name"] == "bulk-253"
    assert _gcore(emulator, "GET", "/cloud/v1/projects?limit=1").json()["count"] == 253
    locked = emulator.command("lock", "2", "4-250", "--until-released")
    assert locked.returncode == 0, locked.stderr
    tasks = locked.stdout.split()
    assert len(tasks) == 248
    page = _gcore(emulator, "GET", "/cloud/v1/projects?limit=1000&order_by=created_at.asc").json()["results"]
    holders = {p["id"]: p["task_id"] for p in page}
    assert [holders[pid] for pid in [2, *range(4, 251)]] == tasks
    assert holders[3] is None and holders[251] is None
    again = emulator.command("lock", "251", "250")
    assert again.returncode == 1
    assert "already locked" in again.stderr
    assert _gcore(emulator, "GET", "/cloud/v1/projects/251").json()["task_id"] is None  # all or nothing
    assert emulator.command("lock", "9-3").returncode == 2


def test_stall_holds_a_write_until_released(emulator: Served) -> None:
    fault_id = emulator.command("fault", "gcore", "PATCH", "/cloud/v1/projects/2", "--stall").stdout.strip()
    answers: list[int] = []

    def write() -> None:
        answers.append(_gcore(emulator, "PATCH", "/cloud/v1/projects/2", json={"name": "late"}).status_code)

    writer = threading.Thread(target=write)
    writer.start()
    held: list[str] = []
    for _ in range(200):  # bounded: the request reaches the emulator within milliseconds
        held = emulator.command("stalls").stdout.splitlines()
        if held:
            break
    assert [json.loads(line)["fault_id"] for line in held] == [int(fault_id)]
    assert _gcore(emulator, "GET", "/cloud/v1/projects/2").json()["name"] == "analytics"  # not applied yet
    assert emulator.command("release").stdout.strip() == "1"
    writer.join(timeout=20)
    assert answers == [200]
    assert _gcore(emulator, "GET", "/cloud/v1/projects/2").json()["name"] == "late"


def test_rate_limit_and_edition_commands(emulator: Served) -> None:
    gcai = emulator.connection(GCAI)
    assert emulator.command("rate-limit", "1/60").returncode == 0
    statuses = [
        requests.get(f"{gcai['host']}/ping", headers={"Authorization": gcai["password"]}, timeout=10).status_code
        for _ in range(2)
    ]
    assert statuses == [200, 429]
    assert _gcore(emulator, "PUT", "/cloud/v1/projects/2", json={"name": "put-name"}).status_code == 405
    assert emulator.command("edition", "2026-05").stdout.strip() == "2026-05"
    assert _gcore(emulator, "PUT", "/cloud/v1/projects/2", json={"name": "put-name"}).status_code == 200


def test_serve_with_the_older_edition() -> None:
    with Served("--edition", "2026-05", "--control-port", "0") as emulator:
        assert _gcore(emulator, "PUT", "/cloud/v1/projects/2", json={"name": "put-name"}).status_code == 200


def _busy_port() -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


@pytest.mark.parametrize("flag", ["--gcore-port", "--gcai-port", "--control-port"])
def test_a_busy_port_is_one_line_naming_it_and_the_flag(flag: str) -> None:
    with _busy_port() as holder:
        port = holder.getsockname()[1]
        result = run("serve", flag, str(port))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"port {port}" in result.stderr
    assert flag in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_non_loopback_host_unless_allowed() -> None:
    result = run("serve", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_a_signal(stop_signal: signal.Signals) -> None:
    emulator = Served()
    with emulator:
        status, out, errors = emulator.stop(stop_signal)
    assert status == 0, errors
    assert "# stopped" in out


def test_commands_without_or_with_a_dead_control_url_fail_in_one_line() -> None:
    missing = run("reset", env={"PATH": "/usr/bin:/bin"})
    assert missing.returncode == 2
    assert "PROJECTS_EMULATOR_URL" in missing.stderr
    with _busy_port() as holder:  # listening but never answering is not what we test: pick a closed port
        port = holder.getsockname()[1]
    dead = run("--control-url", f"http://127.0.0.1:{port}", "reset")
    assert dead.returncode == 1
    assert dead.stderr.count("\n") == 1
    assert "no emulator answers" in dead.stderr
