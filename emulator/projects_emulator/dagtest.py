"""Run DAGs end to end with ``dag.test()`` against the emulator, and report what each task did.

Used by the demo (``scripts/run_examples.py``) and the integration tests; users can run their
own DAGs offline the same way::

    prepare_airflow(home=Path(tempfile.mkdtemp()), dags_folder=Path("dags"))   # before Airflow is imported
    with ProjectsEmulator() as emu:
        os.environ.update(emu.airflow_connection_env())
        report = run_dag_file(Path("dags/my_dag.py"), "my_dag", conf={"project_id": 2})
        assert report.state == "success", report.failures

``prepare_airflow`` must run before anything imports Airflow in this process: Airflow reads
``AIRFLOW_HOME`` and the DAGs folder once, at import. Under pytest that is a ``pytest_configure``
hook in ``conftest.py`` (docs/emulator.md, "Run a DAG file offline", shows one that runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class XComNotFound(KeyError):
    """The run holds no XCom for that task, key and map index; the message says what it holds."""

    def __str__(self) -> str:
        # KeyError's own str() shows the repr of its argument, quotes and escapes included.
        return str(self.args[0])


@dataclass
class DagRunReport:
    """The outcome of one ``dag.test()`` run: states and XCom values per task (and map index)."""

    dag_id: str
    run_id: str
    state: str
    #: State per task; a mapped task instance is named ``task_id[map_index]``.
    task_states: dict[str, str] = field(default_factory=dict)
    #: XCom values by ``(task_id, map_index, key)``; map index -1 is an unmapped task.
    xcoms: dict[tuple[str, int, str], Any] = field(default_factory=dict)

    @property
    def failures(self) -> dict[str, str]:
        """The task instances that did not succeed, with their states (empty when all did)."""
        return {task: state for task, state in self.task_states.items() if state != "success"}

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """The XCom value ``task_id`` pushed under ``key``; ``XComNotFound`` names what exists instead."""
        try:
            return self.xcoms[(task_id, map_index, key)]
        except KeyError:
            raise XComNotFound(self._no_xcom(task_id, key, map_index)) from None

    def _no_xcom(self, task_id: str, key: str, map_index: int) -> str:
        where = f"task {task_id!r}" + (f" (map index {map_index})" if map_index >= 0 else "")
        asked = f"{where} of run {self.run_id!r} ({self.dag_id}) pushed no XCom {key!r}"
        keys = sorted(k for t, i, k in self.xcoms if (t, i) == (task_id, map_index))
        if keys:
            return f"{asked}; its keys: {', '.join(map(repr, keys))}"
        indexes = sorted({i for t, i, _ in self.xcoms if t == task_id})
        if indexes:
            return f"{asked}; it pushed XComs at map indexes {indexes}: pass map_index="
        state = self.task_states.get(task_id if map_index < 0 else f"{task_id}[{map_index}]", "not in this run")
        pushed = sorted({f"{t}[{i}]" if i >= 0 else t for t, i, _ in self.xcoms})
        return f"{asked} (its state: {state}); tasks with XComs: {', '.join(pushed) or 'none'}"


def prepare_airflow(*, home: Path, dags_folder: Path, deferrable: bool = False) -> dict[str, str]:
    """Point Airflow at a scratch home and a DAGs folder, and create its database.

    Returns the environment variables it set (also applied to ``os.environ``).
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": str(deferrable),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
    }
    os.environ.update(env)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, env=dict(os.environ), capture_output=True)
    return env


def load_dag(path: Path, dag_id: str) -> Any:
    """Parse a DAG file the way the DAG processor does (a ``DagBag``) and return ``dag_id``."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # pragma: no cover - Airflow before 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=str(path))
    if bag.import_errors:
        raise ImportError(f"{path} failed to import: {bag.import_errors}")
    dag = bag.dags.get(dag_id)
    if dag is None:
        raise LookupError(f"{path} defines no DAG {dag_id!r} (it has {sorted(bag.dags)})")
    return dag


def run_dag_file(path: Path, dag_id: str, conf: dict[str, Any] | None = None) -> DagRunReport:
    """``dag.test()`` one DAG from its file, then read its task states and XComs from the database."""
    dag = load_dag(path, dag_id)
    dag_run = dag.test(run_conf=conf)
    return report_for(dag_run.dag_id, dag_run.run_id, str(dag_run.state))


def report_for(dag_id: str, run_id: str, state: str) -> DagRunReport:
    """Collect task states and XCom values of a finished run."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    report = DagRunReport(dag_id=dag_id, run_id=run_id, state=_plain(state))
    with create_session() as session:
        for ti in session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ):
            name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            report.task_states[name] = _plain(str(ti.state))
        for row in session.scalars(select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id)):
            report.xcoms[(row.task_id, row.map_index, row.key)] = XComModel.deserialize_value(row)
    return report


def _plain(state: str) -> str:
    """``DagRunState.SUCCESS`` -> ``success``."""
    return state.rsplit(".", 1)[-1].lower()
