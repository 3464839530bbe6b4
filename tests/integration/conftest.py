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
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from unittest import mock

import pytest

from projects_emulator import ProjectsEmulator
from projects_emulator.dagtest import DagRunReport, load_dag, report_for, run_dag_file

pytestmark = pytest.mark.integration

DAGS_FOLDER = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])

#: How a run comes about, which decides what its templates may use:
#: - "triggered": ``airflow dags trigger``, the REST API, an asset event: Airflow 3 gives the run
#:   no logical date (so no ``ds``, ``ts``, data interval);
#: - "scheduled": what the scheduler creates: run type ``scheduled``, a logical date and a data interval;
#: - "manual": ``dag.test()``'s default, a manual run with a logical date (what the UI's trigger
#:   dialog creates, since it fills one in).
RunKind = Literal["triggered", "scheduled", "manual"]
RUN_KINDS: tuple[RunKind, RunKind] = ("triggered", "scheduled")
SCHEDULED_LOGICAL_DATE = datetime(2026, 11, 30, tzinfo=UTC)


@contextmanager
def scheduled_runs() -> Iterator[None]:
    """Make ``dag.test()`` create a scheduled run instead of its manual one.

    ``dag.test()`` has no switch for the run type: it always creates its run through
    ``get_or_create_dagrun``, which makes a ``manual`` one (and Airflow refuses a manual run with a
    scheduled run's id). This stands in for that helper, doing the same with the scheduled type.
    """
    from airflow.models import dagrun
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    def get_or_create_scheduled_dagrun(*, dag: Any, logical_date: datetime, session: Any, **kwargs: Any) -> Any:
        # As the original: a rerun replaces the earlier run for the same logical date.
        earlier = session.scalar(
            select(dagrun.DagRun).where(dagrun.DagRun.dag_id == dag.dag_id, dagrun.DagRun.logical_date == logical_date)
        )
        if earlier is not None:
            session.delete(earlier)
            session.commit()
        return dag.create_dagrun(
            run_id=dagrun.DagRun.generate_run_id(
                run_type=DagRunType.SCHEDULED, logical_date=logical_date, run_after=kwargs["run_after"]
            ),
            logical_date=logical_date,
            data_interval=kwargs["data_interval"],
            run_after=kwargs["run_after"],
            conf=kwargs["conf"],
            run_type=DagRunType.SCHEDULED,
            state=DagRunState.RUNNING,
            triggered_by=DagRunTriggeredByType.TIMETABLE,
            triggering_user_name=None,
            start_date=kwargs["start_date"],
            session=session,
        )

    with mock.patch.object(dagrun, "get_or_create_dagrun", get_or_create_scheduled_dagrun):
        yield


def run_dag_as(path: Path, dag_id: str, conf: dict[str, Any] | None, kind: RunKind) -> DagRunReport:
    """``dag.test()`` one DAG as a run of ``kind``, checking the run really was of that kind."""
    if kind == "manual":
        return run_dag_file(path, dag_id, conf)
    dag = load_dag(path, dag_id)
    if kind == "triggered":
        dag_run = dag.test(run_conf=conf, logical_date=None)
    else:
        with scheduled_runs():
            dag_run = dag.test(run_conf=conf, logical_date=SCHEDULED_LOGICAL_DATE)
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        stored = session.get(DagRun, dag_run.id)
        assert stored is not None
        if kind == "triggered":
            assert stored.logical_date is None, "the run was meant to have no logical date"
        else:
            assert (str(stored.run_type).rsplit(".", 1)[-1].lower(), stored.logical_date) == (
                "scheduled",
                SCHEDULED_LOGICAL_DATE,
            )
            assert stored.data_interval_start is not None
    return report_for(dag_run.dag_id, dag_run.run_id, str(dag_run.state))


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
    """``run_dag(source, dag_id, conf=None, deferrable=False, kind="manual")``: copy a DAG file (a
    Path, or its source text) into the DAGs folder and run it with ``dag.test()`` as a run of ``kind``."""

    def run(
        source: Path | str,
        dag_id: str,
        conf: dict[str, Any] | None = None,
        deferrable: bool = False,
        kind: RunKind = "manual",
    ) -> DagRunReport:
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", str(deferrable))
        target = airflow_db / f"{dag_id}.py"
        if isinstance(source, Path):
            shutil.copyfile(source, target)
        else:
            target.write_text(source)
        return run_dag_as(target, dag_id, conf, kind)

    return run
