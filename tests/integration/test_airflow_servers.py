"""A real Airflow (api-server, scheduler, dag-processor, triggerer) runs the Gcore waits.

Everything listens on 127.0.0.1 in a scratch AIRFLOW_HOME, with free ports (never 8080). The
emulator runs in this test process; the servers get its connection through ``AIRFLOW_CONN_*``.
Runs are triggered through the REST API v2 (token from ``/auth/token``, simple auth manager with
every user an admin) and watched until they end. One Airflow serves both tests:

- a deferrable ``GcoreProjectUnlockedSensor`` waits in the real triggerer for a lock to clear;
  the lock is released only once the trigger is polling *and* the scheduler has handled the
  worker's "defer-exit" executor event: Airflow 3.3.2 fails a deferred task whose trigger fires
  before that event is handled and whose task is already QUEUED again (apache/airflow#67287);
- an ``AssetWatcher`` with ``GcoreProjectUnlockedEventTrigger`` starts exactly one DAG run for one
  locked -> unlocked transition, and none while the project stays unlocked.

Every server is started in its own session and stopped by process group in the fixture's
teardown; the module (start-up, both tests, shutdown) is bounded to three minutes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from projects_emulator import ProjectsEmulator, RecordedRequest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AIRFLOW = Path(sys.executable).with_name("airflow")
BUDGET = 180.0  # seconds for the module: start-up, both tests and shutdown
STOP_GRACE = 20.0
DAG_ID = "gcore_live_deferrable_wait"
TASK_ID = "wait_unlocked"
PROJECT = 2
WATCH_DAG_ID = "gcore_live_on_unlock"
WATCHED_PROJECT = 3
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")

DAG_SOURCE = f"""
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor

with DAG(dag_id={DAG_ID!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    GcoreProjectUnlockedSensor(task_id={TASK_ID!r}, project_id={PROJECT}, deferrable=True, poke_interval=1,
                               timeout=120)
"""

WATCH_DAG_SOURCE = f"""
from datetime import datetime

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_projects.triggers.gcore_events import GcoreProjectUnlockedEventTrigger

unlocked = Asset(
    "gcore_project_{WATCHED_PROJECT}_unlocked",
    watchers=[AssetWatcher(name="gcore_{WATCHED_PROJECT}",
                           trigger=GcoreProjectUnlockedEventTrigger(project_id={WATCHED_PROJECT}, poll_interval=1))],
)

with DAG(dag_id={WATCH_DAG_ID!r}, schedule=[unlocked], start_date=datetime(2026, 1, 1), catchup=False):

    @task
    def on_unlock(**context):
        return [event.extra["payload"] for events in context["triggering_asset_events"].values() for event in events]

    on_unlock()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def transport(entry: RecordedRequest) -> str:
    """``requests`` (the worker) sends User-Agent before Authorization; aiohttp (the trigger) after it."""
    names = list(entry.headers)
    return "requests" if names.index("user-agent") < names.index("authorization") else "aiohttp"


def lock_reads(emulator: ProjectsEmulator) -> list[RecordedRequest]:
    """Every read of PROJECT's lock: its own GET, or a page of the projects list (the triggerer
    serves the waits of an account from the list when that costs fewer requests: here the asset
    watch of the other DAG shares the account)."""
    paths = {f"/cloud/v1/projects/{PROJECT}", "/cloud/v1/projects"}
    return [entry for entry in emulator.requests(api="gcore", method="GET") if entry.path in paths]


@dataclass
class LiveAirflow:
    base_url: str
    home: Path
    deadline: float
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api: httpx.Client | None = None

    def log(self, component: str) -> str:
        path = self.home / f"{component}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def diagnostics(self) -> str:
        parts = []
        for name, process in self.processes.items():
            tail = "\n".join(self.log(name).splitlines()[-15:])
            parts.append(f"--- {name} (exit code {process.poll()}) ---\n{tail}")
        for trigger_log in sorted((self.home / "logs").rglob("*.log.trigger.*")):
            tail = "\n".join(trigger_log.read_text(errors="replace").splitlines()[-15:])
            parts.append(f"--- {trigger_log.relative_to(self.home)} ---\n{tail}")
        return "\n".join(parts)

    def time_left(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            pytest.fail(f"out of time ({BUDGET:.0f} s) while {what}\n{self.diagnostics()}")
        for name, process in self.processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode} while {what}\n{self.diagnostics()}")

    def get(self, path: str) -> Any:
        assert self.api is not None
        answer = self.api.get(path)
        answer.raise_for_status()
        return answer.json()


def stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM each server's process group, give them STOP_GRACE seconds, then SIGKILL what is left."""
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    give_up = time.monotonic() + STOP_GRACE
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, give_up - time.monotonic()))
    for process in processes.values():
        # The group may outlive its leader (LocalExecutor workers, task supervisors): kill it whole.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def emulator() -> Iterator[ProjectsEmulator]:
    """One emulator for the module's Airflow (the servers read its URL from their environment)."""
    with ProjectsEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def live_airflow(tmp_path_factory: pytest.TempPathFactory, emulator: ProjectsEmulator) -> Iterator[LiveAirflow]:
    if not AIRFLOW.exists():
        pytest.skip(f"the `airflow` executable is missing (looked for {AIRFLOW})")
    started = time.monotonic()
    tmp_path = tmp_path_factory.mktemp("live_airflow")
    home, dags = tmp_path / "airflow_home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(DAG_SOURCE)
    (dags / f"{WATCH_DAG_ID}.py").write_text(WATCH_DAG_SOURCE)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env.update(
        {
            "PATH": f"{AIRFLOW.parent}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # The serve-logs ports default to 8793/8794: free ones keep parallel Airflows apart.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            **emulator.airflow_connection_env(),
        }
    )
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True, timeout=90)
    live = LiveAirflow(base_url=base_url, home=home, deadline=started + BUDGET - STOP_GRACE - 5)
    try:
        for name in COMPONENTS:
            with (home / f"{name}.out").open("wb") as out:
                live.processes[name] = subprocess.Popen(
                    [str(AIRFLOW), name], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        with httpx.Client(base_url=base_url, timeout=10) as api:
            token = None
            while token is None:
                live.time_left("waiting for the api-server")
                with contextlib.suppress(httpx.HTTPError):
                    answer = api.get("/auth/token")  # GET: allowed with simple_auth_manager_all_admins
                    if answer.status_code == 201:
                        token = answer.json()["access_token"]
                time.sleep(0.5)
            api.headers["Authorization"] = f"Bearer {token}"
            live.api = api
            yield live
    finally:
        stop(live.processes)
        print(f"\nreal Airflow tests: {time.monotonic() - started:.1f} s including start-up and shutdown")


def wait_for_dag(live: LiveAirflow, dag_id: str) -> None:
    assert live.api is not None
    while live.api.get(f"/api/v2/dags/{dag_id}").status_code != 200:
        live.time_left(f"waiting for the dag-processor to parse {dag_id}")
        errors = live.api.get("/api/v2/importErrors").json().get("import_errors", [])
        assert errors == [], errors
        time.sleep(0.5)


def test_a_deferrable_sensor_waits_in_the_real_triggerer(live_airflow: LiveAirflow, emulator: ProjectsEmulator) -> None:
    live = live_airflow
    assert live.api is not None
    wait_for_dag(live, DAG_ID)

    lock = emulator.lock_gcore_project(PROJECT)  # held until released below
    answer = live.api.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["dag_run_id"]
    run_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}"
    ti_path = f"{run_path}/taskInstances/{TASK_ID}"

    states: list[str | None] = []
    deferred_at: float | None = None
    released = False
    while True:
        live.time_left(f"waiting for run {run_id} (task states so far: {states})")
        state = live.get(ti_path).get("state")
        if not states or states[-1] != state:
            states.append(state)
        if state == "deferred" and deferred_at is None:
            deferred_at = time.monotonic()
        if not released and deferred_at is not None:
            trigger_polls = lock_reads(emulator)[1:]  # the worker pokes once before it defers
            defer_exit_handled = any(
                "Received executor event with state success" in line and f"task_id='{TASK_ID}'" in line
                for line in live.log("scheduler").splitlines()
            )
            if len(trigger_polls) >= 2 and (defer_exit_handled or time.monotonic() - deferred_at > 30):
                emulator.finish_task(lock)
                released = True
        if live.get(run_path)["state"] in {"success", "failed"}:
            break
        time.sleep(0.3)

    run = live.get(run_path)
    ti = live.get(ti_path)
    assert run["state"] == "success", f"task states {states}\n{live.diagnostics()}"
    assert ti["state"] == "success"
    assert ti["try_number"] == 1  # no retry: one try that deferred and resumed
    assert "deferred" in states, states

    # The worker poked once (requests); every later read of the lock came from the triggerer's
    # async transport; the resumed sensor read the holder once, on the worker.
    reads = lock_reads(emulator)
    assert [transport(entry) for entry in reads] == ["requests"] + ["aiohttp"] * (len(reads) - 1)
    assert len(reads) >= 3
    holder_reads = emulator.requests(api="gcore", method="GET", path=f"/cloud/v1/tasks/{lock}")
    assert [transport(entry) for entry in holder_reads] == ["requests"]
    assert holder_reads[0].time > reads[1].time  # read after the triggerer saw the lock
    trigger_logs = list((live.home / "logs").rglob(f"dag_id={DAG_ID}/*/task_id={TASK_ID}/attempt=1.log.trigger.*"))
    assert trigger_logs, "the triggerer wrote no log for this task's trigger"

    xcoms = f"{ti_path}/xcomEntries"
    project = live.get(f"{xcoms}/return_value")["value"]
    assert (project["id"], project["task_id"]) == (PROJECT, None)
    lock_task = live.get(f"{xcoms}/lock_task")["value"]
    assert (lock_task["id"], lock_task["state"]) == (lock, "FINISHED")


def test_an_asset_watcher_starts_one_run_per_unlock(live_airflow: LiveAirflow, emulator: ProjectsEmulator) -> None:
    live = live_airflow
    path = f"/cloud/v1/projects/{WATCHED_PROJECT}"

    def polls() -> int:
        return len(emulator.requests(api="gcore", method="GET", path=path))

    def runs() -> list[dict[str, Any]]:
        return list(live.get(f"/api/v2/dags/{WATCH_DAG_ID}/dagRuns")["dag_runs"])

    def wait_polls(count: int, what: str) -> None:
        while polls() < count:
            live.time_left(what)
            time.sleep(0.2)

    wait_for_dag(live, WATCH_DAG_ID)
    wait_polls(2, "waiting for the watcher to poll")
    assert runs() == []  # an unlocked project at the start fires nothing

    lock = emulator.lock_gcore_project(WATCHED_PROJECT)
    wait_polls(polls() + 2, "waiting for the watcher to see the lock")
    emulator.finish_task(lock, state="ERROR", error="Quota exceeded for region 76")
    while not (started := runs()) or started[0]["state"] not in {"success", "failed"}:
        live.time_left("waiting for the asset-triggered run")
        time.sleep(0.5)
    wait_polls(polls() + 5, "watching the unlocked project a while longer")

    [run] = runs()  # one transition, one run: nothing more while the project stays unlocked
    assert run["state"] == "success"
    assert run["run_type"] == "asset_triggered"
    xcom = f"/api/v2/dags/{WATCH_DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/on_unlock/xcomEntries/return_value"
    [payload] = live.get(xcom)["value"]
    assert (payload["status"], payload["project_id"], payload["project"]["task_id"]) == (
        "unlocked",
        WATCHED_PROJECT,
        None,
    )
    assert (payload["lock_task"]["id"], payload["lock_task"]["state"]) == (lock, "ERROR")
    assert payload["lock_task"]["error"] == "Quota exceeded for region 76"
