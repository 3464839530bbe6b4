"""The DAGs shown in the README and docs/ run as written: each is read from the Markdown itself
and executed against the emulator, as a run with no logical date and as a scheduled run.

A Python block that builds a task (an operator, a sensor, a ``@task``) must be a whole DAG with
a ``dag_id``, and every such ``dag_id`` needs a scenario below: a snippet added, changed or
removed without its scenario fails here, so the docs cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from projects_emulator import ProjectsEmulator
from projects_emulator.dagtest import DagRunReport

from .conftest import RUN_KINDS, RunKind

REPO = Path(__file__).resolve().parents[2]
MARKDOWN = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLE_DAGS = sorted((REPO / "example_dags").glob("*.py"))
#: The one page that says why the values below are not shown, and so names them.
WHY_NOT_DS = REPO / "docs" / "templates.md"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_BUILDS_TASKS = re.compile(r"\b\w+(?:Operator|Sensor)(?:\.partial)?\(|^\s*@task\b", re.MULTILINE)
_DAG_ID = re.compile(r"""dag_id=["']([^"']+)["']""")
#: Template values that exist only on runs with a logical date (a scheduled run, the UI's dialog).
_NEEDS_LOGICAL_DATE = re.compile(
    r"\b(ds|ds_nodash|ts|ts_nodash|ts_nodash_with_tz|logical_date|data_interval_start|data_interval_end)\b"
)


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int
    language: str
    source: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def builds_tasks(self) -> bool:
        return self.language == "python" and bool(_BUILDS_TASKS.search(self.source))

    @property
    def dag_id(self) -> str | None:
        match = _DAG_ID.search(self.source)
        return match.group(1) if match else None


def snippets(path: Path) -> list[Snippet]:
    text = path.read_text()
    return [
        Snippet(path, text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2))
        for match in _FENCE.finditer(text)
    ]


ALL_SNIPPETS = [snippet for path in MARKDOWN for snippet in snippets(path)]
DAG_SNIPPETS = [snippet for snippet in ALL_SNIPPETS if snippet.builds_tasks]


# -- what each documented DAG must do against the emulator -----------------------------------------


@dataclass(frozen=True)
class Scenario:
    """``setup`` stages the emulator and returns the run's conf; ``check`` asserts the outcome."""

    setup: Callable[[ProjectsEmulator], dict[str, Any] | None]
    check: Callable[[DagRunReport, ProjectsEmulator], None]


def _no_conf(emulator: ProjectsEmulator) -> None:
    return None


def _check_rename_project(report: DagRunReport, emulator: ProjectsEmulator) -> None:
    project = emulator.gcore_project(2)
    assert (project["name"], project["description"]) == ("analytics-2026.11", f"Set by run {report.run_id}")


def _check_update_fields(report: DagRunReport, emulator: ProjectsEmulator) -> None:
    bodies = [r.body for r in emulator.requests(api="gcai", method="PATCH")]
    assert bodies == [{"custom_instructions": "Answer in plain English."}, {"description": None}]
    project = emulator.gcai_project("3c90c3cc-0d44-4b50-8888-8dd25736052a")
    assert (project["custom_instructions"], project["description"]) == ("Answer in plain English.", None)


def _check_rename_nightly(report: DagRunReport, emulator: ProjectsEmulator) -> None:
    project = emulator.gcore_project(2)
    assert re.fullmatch(r"analytics-\d{8}", project["name"]), project
    assert project["description"] == f"Release 2026.11, run {report.run_id}"


def _check_refresh_instructions(report: DagRunReport, emulator: ProjectsEmulator) -> None:
    for project_id in ("3c90c3cc-0d44-4b50-8888-8dd25736052a", "5b0e6f64-1c1d-4a8e-9f57-2f3b9d2c7a11"):
        assert emulator.gcai_project(project_id)["custom_instructions"] == "Follow the 2026 drafting policy."


def _check_wait_unlocked(report: DagRunReport, emulator: ProjectsEmulator) -> None:
    assert report.xcom("wait_unlocked")["id"] == 2


def _finished_gcore_task(emulator: ProjectsEmulator) -> dict[str, Any]:
    task = emulator.lock_gcore_project(3)
    emulator.finish_task(task)
    return {"gcore_task_id": task}


def _check_wait_task(report: DagRunReport, emulator: ProjectsEmulator) -> None:
    assert report.xcom("wait_task")["state"] == "FINISHED"


def _check_templates_every_run(report: DagRunReport, emulator: ProjectsEmulator) -> None:
    project = emulator.gcore_project(2)
    assert re.fullmatch(r"analytics-\d{8}", project["name"]), project
    assert project["description"] == f"Renamed by run {report.run_id}"


SCENARIOS: dict[str, Scenario] = {
    "gcore_rename_project": Scenario(_no_conf, _check_rename_project),
    "gcai_update_fields": Scenario(_no_conf, _check_update_fields),
    "gcore_rename_nightly": Scenario(_no_conf, _check_rename_nightly),
    "gcai_refresh_instructions": Scenario(_no_conf, _check_refresh_instructions),
    "gcore_wait_unlocked": Scenario(_no_conf, _check_wait_unlocked),
    "gcore_wait_task": Scenario(_finished_gcore_task, _check_wait_task),
    "templates_every_run": Scenario(_no_conf, _check_templates_every_run),
}


# -- the tests ------------------------------------------------------------------------------------


def test_every_snippet_that_builds_tasks_is_a_whole_dag_with_a_scenario() -> None:
    partial = [s.where for s in DAG_SNIPPETS if "with DAG(" not in s.source or s.dag_id is None]
    assert partial == [], "snippets that build tasks outside a whole DAG (copied as is, they do not run)"
    dag_ids = [s.dag_id for s in DAG_SNIPPETS]
    assert len(dag_ids) == len(set(dag_ids)), f"a dag_id used twice: {dag_ids}"
    assert set(dag_ids) == set(SCENARIOS), "a documented DAG without a scenario here, or a scenario without its DAG"


@pytest.mark.parametrize("kind", RUN_KINDS)
@pytest.mark.parametrize("snippet", DAG_SNIPPETS, ids=lambda s: f"{s.dag_id}@{s.where}")
def test_documented_dag_runs(
    snippet: Snippet,
    kind: RunKind,
    emulator: ProjectsEmulator,
    run_dag: Callable[..., DagRunReport],
) -> None:
    assert snippet.dag_id is not None
    scenario = SCENARIOS[snippet.dag_id]
    conf = scenario.setup(emulator)
    report = run_dag(snippet.source, snippet.dag_id, conf=conf, kind=kind)
    assert report.failures == {}, f"{snippet.where} as a {kind} run"
    scenario.check(report, emulator)


@pytest.mark.parametrize(
    "path", [*MARKDOWN, *EXAMPLE_DAGS], ids=lambda p: str(p.relative_to(REPO)) if isinstance(p, Path) else p
)
def test_no_template_needs_a_logical_date(path: Path) -> None:
    """Finding 1: ``{{ ds_nodash }}`` in the README failed every run triggered from the CLI.

    Code (example DAGs, every fenced block) never uses a value that exists only with a logical
    date; prose names them only on the one page that explains why.
    """
    text = path.read_text()
    code = [text] if path.suffix == ".py" else [s.source for s in snippets(path)]
    found = sorted({m.group(1) for block in code for m in _NEEDS_LOGICAL_DATE.finditer(block)})
    assert found == [], f"{path.relative_to(REPO)} uses {found}"
    if path.suffix == ".md" and path != WHY_NOT_DS:
        prose = _FENCE.sub("", text)
        named = sorted({m.group(1) for m in re.finditer(r"\b(ds|ds_nodash|logical_date)\b", prose)})
        assert named == [], f"{path.relative_to(REPO)} names {named}; only {WHY_NOT_DS.name} explains them"
