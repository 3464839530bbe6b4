"""The demo (``scripts/run_examples.py``, what ``scripts/demo.sh`` runs) as a new user sees it:
a successful run prints no error and no traceback, lists tasks in the order they ran, shows the
deferrals with ``--deferrable``, hides third-party noise and leaves nothing in the temp dir
(issue 16, findings 2 and 5).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Each demo run (a module fixture) is bounded at 600 s by its own subprocess timeout.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "run_examples.py"

#: A log line at error level or above, as structlog's console or the stdlib formatter prints it,
#: or a traceback.
_ERROR_OR_TRACEBACK = re.compile(
    r"\[(error|critical|fatal|exception)\s*\]|\b(ERROR|CRITICAL|FATAL) - |Traceback \(most recent call last\)",
    re.IGNORECASE,
)

_TASK_ROW = re.compile(r"^  (\S+) +(success|failed|upstream_failed|skipped|up_for_retry|\?)\b")


@dataclass(frozen=True)
class Demo:
    deferrable: bool
    returncode: int
    output: str
    tmpdir: Path

    def section(self, dag_id: str) -> list[str]:
        """The lines of one DAG's summary, from its ``=== dag_id`` header to the next blank line."""
        lines = self.output.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(f"=== {dag_id}:"))
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
        return lines[start + 1 : end]

    def tasks(self, dag_id: str) -> list[str]:
        """The task rows of one summary (``  <task>  <state>...``), in the order printed."""
        rows = (_TASK_ROW.match(line) for line in self.section(dag_id))
        return [row.group(1) for row in rows if row]


@pytest.fixture(scope="module", params=[False, True], ids=["blocking", "deferrable"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One demo run per mode, in a subprocess of its own with a private temp dir."""
    deferrable: bool = request.param
    tmpdir = tmp_path_factory.mktemp("demo-tmp")
    # The test session's own Airflow settings (home, DAGs folder, connections) are not the demo's.
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}
    env["TMPDIR"] = str(tmpdir)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *(["--deferrable"] if deferrable else [])],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    return Demo(deferrable, result.returncode, result.stdout + result.stderr, tmpdir)


def test_demo_succeeds_without_an_error_line_or_a_traceback(demo: Demo) -> None:
    assert demo.returncode == 0, demo.output
    assert "All example DAGs succeeded." in demo.output
    bad = [line for line in demo.output.splitlines() if _ERROR_OR_TRACEBACK.search(line)]
    assert bad == [], "a successful demo printed:\n" + "\n".join(bad)


def test_demo_runs_each_dag_as_the_cli_triggers_it(demo: Demo) -> None:
    """With no logical date (finding 1: the demo always had one, so a ``{{ ds }}`` never failed in it)."""
    headers = [line for line in demo.output.splitlines() if line.startswith("=== ")]
    assert len(headers) == 3 * 2, demo.output  # three examples, on each Gcore spec edition
    assert all(", logical date None " in header for header in headers), headers


def test_demo_shows_both_gcore_editions_and_their_writes(demo: Demo) -> None:
    lines = demo.output.splitlines()
    assert "##### Gcore spec edition 2026-05 (PUT still accepted)" in lines
    assert "##### Gcore spec edition 2026-08 (PUT answers 405)" in lines
    # Two replaces (the rollout's rename, mark_project_ready), one write each: by default PATCH on
    # either edition, so no PUT and no 405 on the current one (it used to be PUT, PATCH, PATCH there).
    assert "Gcore writes on edition 2026-05: PATCH, PATCH" in lines
    assert "Gcore writes on edition 2026-08: PATCH, PATCH" in lines
    assert "Gcore answered 405" not in demo.output


def test_demo_lists_tasks_in_the_order_they_ran(demo: Demo) -> None:
    assert demo.tasks("projects_release_rollout") == [
        "nightly_load",
        "rename_gcore_project",
        "wait_for_gcore_unlock",
        "update_gcai_instructions",
    ]
    assert demo.tasks("gcore_wait_for_task") == ["wait_for_gcore_task", "mark_project_ready", "report"]
    mapped = demo.tasks("gcai_bulk_instructions")
    assert mapped[0] == "projects_to_refresh"
    assert sorted(mapped[1:]) == [f"refresh_instructions[{i}]" for i in range(6)]


def test_demo_shows_what_deferred_and_resumed(demo: Demo) -> None:
    deferred = [line.strip() for line in demo.output.splitlines() if " deferred" in line or " resumed" in line]
    if not demo.deferrable:
        assert deferred == []
        return
    # The replace operator meets the staged lock and the task sensor a running task: both defer.
    for task in ("rename_gcore_project", "wait_for_gcore_task"):
        assert any(line.startswith(f"{task} deferred: ") for line in deferred), demo.output
        assert any(line.startswith(f"{task} resumed after ") for line in deferred), demo.output
        assert any(line.startswith(task) and "(deferred 1x, resumed)" in line for line in deferred), demo.output


def test_demo_hides_third_party_deprecation_warnings(demo: Demo) -> None:
    assert "StarletteDeprecationWarning" not in demo.output


def test_demo_leaves_nothing_in_the_temp_dir(demo: Demo) -> None:
    assert demo.returncode == 0, demo.output
    assert sorted(path.name for path in demo.tmpdir.iterdir()) == []
