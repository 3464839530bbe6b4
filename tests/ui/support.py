"""Helpers for tests that run real Airflow processes: a scratch environment, a bounded command runner
and Airflow's api-server on 127.0.0.1, always stopped with its whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
AIRFLOW = Path(sys.executable).with_name("airflow")
#: Bound on the api-server's start (it is ready in 6 to 15 s on a 2-core machine).
STARTUP_TIMEOUT = 120.0
#: Bound on one Airflow CLI command (`airflow db migrate`, `airflow connections test`).
COMMAND_TIMEOUT = 120.0


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (never 8080: the kernel hands out ephemeral ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for an Airflow subprocess: this one minus every AIRFLOW_* setting (so nothing
    from the test run or the machine leaks in), plus a scratch AIRFLOW_HOME and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__", "_AIRFLOW"))}
    (home / "dags").mkdir(parents=True, exist_ok=True)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        # Rich wraps the CLI's messages at the terminal width: wide enough that one stays on one line.
        COLUMNS="250",
    )
    env.update(extra)
    return env


def kill_group(proc: subprocess.Popen[Any], grace: float = 15.0) -> None:
    """SIGTERM the process group started with ``start_new_session=True``, SIGKILL it after ``grace``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children that outlived the leader are still in the group: make sure none is left.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass(frozen=True)
class Result:
    returncode: int
    output: str
    seconds: float

    @property
    def flat(self) -> str:
        """The output with every run of whitespace made one space (line wrapping does not matter)."""
        return " ".join(self.output.split())


def run_airflow(args: list[str], env: dict[str, str], timeout: float = COMMAND_TIMEOUT) -> Result:
    """``airflow <args>`` in its own process group, stdout and stderr together, killed at ``timeout``."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [str(AIRFLOW), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc, grace=2.0)
        output, _ = proc.communicate()
        raise AssertionError(f"`airflow {' '.join(args)}` took over {timeout:.0f} s:\n{output[-4000:]}") from None
    finally:
        kill_group(proc, grace=2.0)
    return Result(proc.returncode, output, time.monotonic() - start)


class ApiServer:
    """``airflow api-server`` on 127.0.0.1:<free port> with a scratch home and a migrated SQLite DB.

    Simple auth manager with every user an admin (``[core] simple_auth_manager_all_admins``), so
    the UI and the REST API need no login or token.
    """

    def __init__(self, home: Path, **extra_env: str) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "api-server.log"
        self.env = airflow_env(
            home,
            AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__API__BASE_URL=self.url,
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            **extra_env,
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    def start(self) -> ApiServer:
        migrate = run_airflow(["db", "migrate"], self.env)
        assert migrate.returncode == 0, f"airflow db migrate failed:\n{migrate.output[-4000:]}"
        start = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(AIRFLOW), "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(start + STARTUP_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - start
        return self

    def _wait_ready(self, deadline: float) -> None:
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"api-server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v2/monitor/health", timeout=2, trust_env=False).status_code == 200:
                    return
            time.sleep(0.25)
        raise AssertionError(f"api-server not ready after {STARTUP_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)
            self.proc = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def rest(method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 60.0) -> tuple[int, Any]:
    """A JSON request to the api-server; returns (status, parsed body) for error statuses too."""
    resp = httpx.request(method, url, json=body, timeout=timeout, trust_env=False)
    return resp.status_code, (resp.json() if resp.content else None)
