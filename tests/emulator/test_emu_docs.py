"""docs/emulator.md's "Run a DAG file offline" runs as written.

The test lays out the project the section describes (the DAG file it names, and its
``conftest.py`` and test module read from the Markdown itself), then runs pytest on it in a
fresh process with no Airflow settings of ours, as a user would. So the example cannot drift
from ``projects_emulator.dagtest`` or the fixtures.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "emulator.md"
SECTION = "## Run a DAG file offline"
#: The DAG file the section names, from this repository's examples.
EXAMPLE_DAG = REPO / "example_dags" / "projects_release_rollout.py"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_FILE_COMMENT = re.compile(r"# (\S+\.py)\n")


def section(text: str, heading: str) -> str:
    """The Markdown from ``heading`` to the next heading of the same level."""
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end >= 0 else len(text)]


def files_of(markdown: str) -> dict[str, str]:
    """Each Python block that starts with ``# path/to/file.py``, by that path."""
    found: dict[str, str] = {}
    for language, source in _FENCE.findall(markdown):
        named = _FILE_COMMENT.match(source)
        if language == "python" and named:
            found[named.group(1)] = source
    return found


def test_the_section_shows_a_conftest_and_a_test_module_in_the_layout_it_gives() -> None:
    text = section(DOC.read_text(), SECTION)
    files = files_of(text)
    assert set(files) == {"tests/conftest.py", "tests/test_dags_offline.py"}
    (layout,) = [source for language, source in _FENCE.findall(text) if language == "text"]
    assert layout.split() == [f"dags/{EXAMPLE_DAG.name}", *sorted(files)]
    assert "pytest_configure" in files["tests/conftest.py"]


@pytest.mark.skipif(shutil.which("airflow", path=str(Path(sys.executable).parent)) is None, reason="needs Airflow")
def test_run_a_dag_file_offline_runs_as_written(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "dags").mkdir(parents=True)
    shutil.copy(EXAMPLE_DAG, project / "dags" / EXAMPLE_DAG.name)
    for relative, source in files_of(section(DOC.read_text(), SECTION)).items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(source)
    scratch = tmp_path / "tmp"  # the conftest's temporary Airflow home goes here, and must go away
    scratch.mkdir()
    # A user's shell: none of the Airflow settings or plugin switches this test session runs with.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST_"))}
    env["TMPDIR"] = str(scratch)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "1 passed" in result.stdout
    assert list(scratch.iterdir()) == []
