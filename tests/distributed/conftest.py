"""Fixtures for the distributed suite: the cluster of ``scripts/cluster.sh`` and the emulator.

The session brings the cluster up itself (``cluster.sh up``) and down at the end; only
``SKIP_DISTRIBUTED=1`` skips the suite, and ``KEEP_CLUSTER=1`` leaves the cluster running for a
look around afterwards. The emulator runs in this pytest process on fixed ports of 127.0.0.1
(``DISTRIBUTED_GCORE_PORT``, ``DISTRIBUTED_GCAI_PORT``); the cluster reaches it only through the
``gcore_default`` and ``gcai_default`` connections stored in its metadata DB.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The only import of the emulator in tests/distributed: re-point it here when the emulator moves.
from projects_emulator import ProjectsEmulator

from .cluster import AIRFLOW, REPO, Cluster

DAGS = Path(__file__).with_name("dags")
GCORE_PORT = int(os.environ.get("DISTRIBUTED_GCORE_PORT", "28181"))
GCAI_PORT = int(os.environ.get("DISTRIBUTED_GCAI_PORT", "28182"))
#: Figures for the closing note, written to test-artifacts/distributed.json at the end.
FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The cluster, up (``cluster.sh up``) with this suite's DAG files parsed; down afterwards."""
    if os.environ.get("SKIP_DISTRIBUTED"):
        pytest.skip("SKIP_DISTRIBUTED is set: the distributed cluster tests are disabled")
    cluster = Cluster(Path(os.environ.get("CLUSTER_DIR", REPO / ".cluster")).resolve())
    started = time.monotonic()
    try:
        cluster.script("up")
        FIGURES["cluster_up_seconds"] = round(time.monotonic() - started, 1)
        for dag in DAGS.glob("*.py"):
            shutil.copyfile(dag, cluster.directory / "dags" / dag.name)
        cluster.wait_for_dags([dag.stem for dag in DAGS.glob("*.py")])
        yield cluster
    finally:
        if not os.environ.get("KEEP_CLUSTER"):
            cluster.script("down")


@pytest.fixture(scope="session")
def emulator(cluster: Cluster) -> Iterator[ProjectsEmulator]:
    """The emulator, with the cluster's ``gcore_default`` and ``gcai_default`` connections pointing at it."""
    # The 2026-05 edition, where PUT is applied: the scenarios count writes per project from the
    # journal, which keeps requests, not answers, so a PUT refused with 405 (2026-08) would count as
    # one. The replace's default write, PATCH, is the same on both editions; the 405 fallback of
    # method="auto" is covered by tests/integration and tests/reliability.
    with ProjectsEmulator(gcore_port=GCORE_PORT, gcai_port=GCAI_PORT, edition="2026-05") as emu:
        store_connections(cluster, emu)
        yield emu


def store_connections(cluster: Cluster, emu: ProjectsEmulator) -> None:
    """``airflow connections add`` for both APIs (after deleting a previous session's), two at once."""
    airflow = str(AIRFLOW)
    specs = {
        "gcore_default": ["--conn-type", "gcore", "--conn-host", emu.gcore_url, "--conn-password", emu.gcore_key],
        # max_retries 10 (the most the hook allows): with 8 tasks contending for one organisation's
        # window, the default 4 ran out for 1 task in 60 (Retry-After is 1 s for all of them at once).
        "gcai_default": [
            *("--conn-type", "gcai", "--conn-host", emu.gcai_url, "--conn-password", emu.gcai_org_key),
            *("--conn-extra", '{"max_retries": 10}'),
        ],
    }
    running = []
    for conn_id, spec in specs.items():
        # The key goes through argv, as a user would type it; it is the emulator's fake key.
        script = f'"$0" connections delete {conn_id} >/dev/null 2>&1 || true; exec "$0" connections add {conn_id} "$@"'
        running.append(
            subprocess.Popen(
                ["bash", "-c", script, airflow, *spec],
                env=cluster.env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    for process in running:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, out


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict a scenario fills with its figures; its duration is added at the end."""
    mine: dict[str, Any] = {}
    started = time.monotonic()
    yield mine
    mine["duration_seconds"] = round(time.monotonic() - started, 1)
    FIGURES[request.node.name] = mine


def pytest_sessionfinish(session: pytest.Session) -> None:
    if FIGURES:
        out = REPO / "test-artifacts"
        out.mkdir(exist_ok=True)
        (out / "distributed.json").write_text(json.dumps(FIGURES, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.write_sep("=", "distributed cluster figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {json.dumps(value)}")
