"""Drive the cluster of ``scripts/cluster.sh`` from a test: its CLI, its metadata DB, its processes.

Everything goes through what a user has too: ``cluster.sh``, the ``airflow`` CLI with
``$CLUSTER_DIR/env`` sourced, and the PostgreSQL metadata DB (read-only queries to watch runs,
triggers and the task state store; the CLI's answers cost an Airflow import, 3-5 s, each).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO / "scripts" / "cluster.sh"
AIRFLOW = Path(sys.executable).with_name("airflow")
T = TypeVar("T")

#: Task-instance states after which nothing more happens to a try.
FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}


def poll(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
    """Call ``check`` until it returns something truthy (returned), or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {value!r})")
        time.sleep(interval)


@dataclass
class Cluster:
    """A running cluster under ``directory`` (``$CLUSTER_DIR``)."""

    directory: Path

    # -- lifecycle -----------------------------------------------------------------------------
    def script(self, command: str, timeout: float = 900) -> str:
        """Run ``cluster.sh <command>`` and return its output (raises with the output on failure)."""
        # The same venv as this pytest: cluster.sh installs the cluster's packages into it.
        env = {**self._clean_environ(), "CLUSTER_DIR": str(self.directory), "VENV": sys.prefix}
        return _run(["bash", str(CLUSTER_SH), command], env, timeout)

    def pids(self) -> dict[str, int | None]:
        """``cluster.sh ps`` as a dict: component name to PID (None when not running)."""
        out: dict[str, int | None] = {}
        for line in self.script("ps").splitlines():
            name, pid = line.split()
            out[name] = None if pid == "-" else int(pid)
        return out

    def supervise(self) -> list[str]:
        """Start what is not running, as a service manager would (``cluster.sh up``); returns what it started."""
        if all(pid is not None for pid in self.pids().values()):
            return []
        out = self.script("up")
        return out.split("started: ", 1)[1].split("\n", 1)[0].split()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> list[int]:
        """Send ``sig`` to a component's whole process tree at once (a host losing it); returns the PIDs."""
        root = self.pids()[name]
        assert root is not None, f"{name} is not running"
        tree = [root, *descendants(root)]
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return tree

    # -- configuration and CLI -------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The environment a user gets by sourcing ``$CLUSTER_DIR/env`` (and nothing of pytest's Airflow)."""
        values: dict[str, str] = {}
        for line in (self.directory / "env").read_text().splitlines():
            match = re.fullmatch(r"export (\w+)=(.*)", line.strip())
            if match:
                values[match[1]] = shlex.split(match[2])[0]
        return {**self._clean_environ(), **values}

    @staticmethod
    def _clean_environ() -> dict[str, str]:
        # tests/conftest.py points AIRFLOW_HOME and a few settings of this process at a scratch
        # folder: none of that may leak into the cluster's commands.
        return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}

    def airflow(self, *args: str, timeout: float = 120) -> str:
        """Run the venv's ``airflow`` CLI on the cluster; returns stdout."""
        return _run([str(AIRFLOW), *args], self.env(), timeout)

    def secret(self, name: str) -> str:
        return (self.directory / "secrets" / name).read_text()

    # -- metadata DB -----------------------------------------------------------------------------
    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the metadata DB (a fresh connection: the DB may restart)."""
        import psycopg  # installed by cluster.sh (the [cluster] extra), after this module is collected

        url = self.secret("sql_alchemy_conn").replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
            return list(conn.execute(sql, params).fetchall())

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 120) -> None:
        """Until the dag-processor has parsed every one of ``dag_ids`` (a row in ``serialized_dag``)."""

        def parsed() -> bool:
            rows = self.query("SELECT DISTINCT dag_id FROM serialized_dag WHERE dag_id = ANY(%s)", dag_ids)
            return len(rows) == len(dag_ids)

        poll(f"the dag-processor to parse {dag_ids}", parsed, timeout, interval=1)

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run through the CLI; returns ``run_id``."""
        self.airflow("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf or {}))
        return run_id

    def unpause(self, dag_id: str) -> None:
        self.airflow("dags", "unpause", dag_id)

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", dag_id, run_id)
        return rows[0][0] if rows else None

    def task_states(self, dag_id: str, run_id: str) -> dict[tuple[str, int], str | None]:
        """``(task_id, map_index) -> state`` of every task instance of the run."""
        rows = self.query(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = %s AND run_id = %s", dag_id, run_id
        )
        return {(task_id, map_index): state for task_id, map_index, state in rows}

    def tries(self, dag_id: str, run_id: str, task_id: str) -> dict[int, int]:
        """``map_index -> try_number`` of a task's instances in a run."""
        rows = self.query(
            "SELECT map_index, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s",
            dag_id,
            run_id,
            task_id,
        )
        return dict(rows)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Until the run has ended; returns its state (the task states are in the assertion message)."""

        def ended() -> str | None:
            state = self.run_state(dag_id, run_id)
            return state if state in ("success", "failed") else None

        try:
            return poll(f"run {dag_id}/{run_id} to end", ended, timeout, interval=1)
        except AssertionError as error:
            states: dict[str | None, int] = {}
            for state in self.task_states(dag_id, run_id).values():
                states[state] = states.get(state, 0) + 1
            raise AssertionError(f"{error}; task states: {states}") from None

    def deferred_triggers(self, dag_id: str, run_id: str) -> dict[int | None, int]:
        """``triggerer job id (None: unassigned) -> number of the run's deferred tasks`` it holds."""
        rows = self.query(
            "SELECT t.triggerer_id, count(*) FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id "
            "WHERE ti.dag_id = %s AND ti.run_id = %s AND ti.state = 'deferred' GROUP BY t.triggerer_id",
            dag_id,
            run_id,
        )
        return dict(rows)

    def triggerer_job(self, name: str) -> int:
        """The job id of ``triggerer-1`` or ``triggerer-2`` (cluster.sh records it at start)."""
        return int((self.directory / "run" / f"{name}.job").read_text().strip())

    def executions(self, dag_id: str, run_id: str, task_id: str) -> list[tuple[str, str]]:
        """``(worker, log path)`` of every workload the two workers started for a task of a run.

        Both workers report the same hostname to Airflow; their own logs say which ran what. A
        deferred task that resumes is a second workload with the same try (the same log path).
        """
        prefix = f"log_path='dag_id={dag_id}/run_id={run_id}/task_id={task_id}/"
        found = []
        for worker in ("worker-1", "worker-2"):
            for line in (self.directory / "logs" / f"{worker}.log").read_text(errors="replace").splitlines():
                if "Executing workload in Celery" in line and prefix in line:
                    found.append((worker, line.split(prefix, 1)[1].split("'", 1)[0]))
        return found

    def workers_of_run(self, dag_id: str, run_id: str, task_id: str) -> dict[str, int]:
        """``worker -> workloads it ran`` for a task of a run."""
        counts: dict[str, int] = {}
        for worker, _ in self.executions(dag_id, run_id, task_id):
            counts[worker] = counts.get(worker, 0) + 1
        return counts

    def resumed_count(self, dag_id: str, run_id: str, task_id: str) -> int:
        """How many tries ran as two workloads: started, deferred, then resumed after the trigger fired."""
        per_try: dict[str, int] = {}
        for _, path in self.executions(dag_id, run_id, task_id):
            per_try[path] = per_try.get(path, 0) + 1
        return sum(1 for n in per_try.values() if n > 1)

    def worker_of(self, pid: int) -> str | None:
        """The component (``worker-1``/``worker-2``) whose process tree holds ``pid``, if any."""
        for name, root in self.pids().items():
            if root is not None and name.startswith("worker-") and (pid == root or pid in descendants(root)):
                return name
        return None


def _run(argv: list[str], env: dict[str, str], timeout: float) -> str:
    """Run a command with stdin from /dev/null; its stdout, or an AssertionError with both outputs."""
    done = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv[:3])} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def descendants(root: int) -> list[int]:
    """Every live descendant of ``root`` (from /proc; task processes leave the process group)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
