"""The emulator is its own distribution: absent from the provider's wheel, found by pytest on its own.

Issue 12 moved it out so that worker, scheduler and triggerer images carry no server code; these
tests keep it out, and keep the emulator free of the provider (it must emulate the APIs, not
borrow the client's view of them).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import projects_emulator

# A wheel build is bounded at 300 s by its own subprocess timeout (a cold uv cache fetches hatchling).
pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[2]
PACKAGE = Path(projects_emulator.__file__).resolve().parent
#: Modules allowed a dependency outside the standard library, and which one.
_EXTRA_IMPORTS = {"pytest_plugin": {"pytest"}, "dagtest": {"airflow", "sqlalchemy"}}


def _imported_roots(module: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _build_wheel(project: Path, out: Path) -> zipfile.ZipFile:
    if shutil.which("uv") is None:
        pytest.skip("uv is not on PATH: cannot build the wheel")
    subprocess.run(
        ["uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(project)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


def test_the_provider_wheel_holds_no_emulator(tmp_path: Path) -> None:
    names = _build_wheel(REPO, tmp_path).namelist()
    assert any(name.startswith("airflow_provider_projects/operators/") for name in names)  # a real wheel
    offending = [n for n in names if "emulator" in n.lower() or n.rsplit("/", 1)[-1] in ("server.py", "dagtest.py")]
    assert offending == []


def test_the_emulator_wheel_holds_the_package_its_type_marker_and_entry_points(tmp_path: Path) -> None:
    wheel = _build_wheel(REPO / "emulator", tmp_path)
    names = wheel.namelist()
    assert {"projects_emulator/server.py", "projects_emulator/py.typed"} <= set(names)
    assert not any(name.startswith("airflow_provider_projects/") for name in names)
    (entry_points_txt,) = (name for name in names if name.endswith(".dist-info/entry_points.txt"))
    declared = wheel.read(entry_points_txt).decode()
    assert "projects-emulator = projects_emulator.cli:main" in declared
    assert "[pytest11]" in declared


def test_the_emulator_imports_neither_the_provider_nor_anything_outside_the_stdlib() -> None:
    for module in sorted(PACKAGE.glob("*.py")):
        allowed = set(sys.stdlib_module_names) | {"projects_emulator"} | _EXTRA_IMPORTS.get(module.stem, set())
        assert _imported_roots(module) <= allowed, module.name


def test_the_pytest_fixtures_are_registered_by_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("projects_emulator") == "projects_emulator.pytest_plugin"


def test_a_project_without_conftest_gets_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_uses_fixture.py").write_text(
        "def test_it(projects_emulator_env):\n    assert projects_emulator_env.running\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_console_script_is_declared() -> None:
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("projects-emulator") == "projects_emulator.cli:main"
