"""Integration fixtures: a migrated Airflow database, the emulator with connections, a DAG runner.

``tests/conftest.py`` already pointed AIRFLOW_HOME and the DAGs folder at a scratch directory
before Airflow was imported; DAG files are copied there because Airflow 3.3's ``dag.test()``
wants them inside the DAGs folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from projects_emulator import ProjectsEmulator
from projects_emulator.dagtest import DagRunReport, run_dag_file

pytestmark = pytest.mark.integration

DAGS_FOLDER = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """``airflow db migrate`` once per session in the scratch AIRFLOW_HOME."""
    DAGS_FOLDER.mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=dict(os.environ))
    return DAGS_FOLDER


@pytest.fixture
def emulator(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProjectsEmulator]:
    """A running emulator, with ``gcore_default`` / ``gcai_default`` pointing at it.

    It serves Gcore's current edition unless a test asks for another (``indirect`` parametrize).
    """
    edition = getattr(request, "param", None)
    with ProjectsEmulator(**({"edition": edition} if edition else {})) as emu:
        for name, value in emu.airflow_connection_env().items():
            monkeypatch.setenv(name, value)
        yield emu


@pytest.fixture
def run_dag(airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., DagRunReport]:
    """``run_dag(source, dag_id, conf=None, deferrable=False)``: copy a DAG file (a Path, or its
    source text) into the DAGs folder and run it with ``dag.test()``."""

    def run(
        source: Path | str, dag_id: str, conf: dict[str, Any] | None = None, deferrable: bool = False
    ) -> DagRunReport:
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", str(deferrable))
        target = airflow_db / f"{dag_id}.py"
        if isinstance(source, Path):
            shutil.copyfile(source, target)
        else:
            target.write_text(source)
        return run_dag_file(target, dag_id, conf)

    return run
