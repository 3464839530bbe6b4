"""Test-wide setup: one scratch folder per test process, per-test timeouts, and shared helpers.

The scratch folder holds the AIRFLOW_HOME (set before Airflow is imported) and its
temporary directory: ``TMPDIR`` and :mod:`tempfile` point into it, so every ``tempfile`` call and
every subprocess (Airflow servers, the emulator's CLI, Chromium) writes there. At the end of the
session, anything left in that temporary directory (other than pytest's own ``tmp_path`` base) is a
test that does not clean up after itself: the session fails and names it. The folder itself is
removed when the process that made it exits (see ``_SCRATCH_VAR``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

#: "<pid>:<folder>" of this process's scratch folder. pytest imports this file anew for each session
#: (mutmut runs several in one process, then forks workers that run more): every session of a
#: process and of its forked children shares the one folder, and only the process that made it
#: removes it, when it exits.
_SCRATCH_VAR = "APP_TESTS_SCRATCH"


def _remove_scratch(owner: int, scratch: Path) -> None:
    if os.getpid() == owner:  # a forked child runs its parent's exit handlers too
        shutil.rmtree(scratch, ignore_errors=True)


_owner, _, _folder = os.environ.get(_SCRATCH_VAR, "").partition(":")
if _folder and Path(_folder).is_dir():
    _OWNER, _SCRATCH = int(_owner), Path(_folder)
else:
    _OWNER, _SCRATCH = os.getpid(), Path(tempfile.mkdtemp(prefix="app-tests-"))
    os.environ[_SCRATCH_VAR] = f"{_OWNER}:{_SCRATCH}"
    atexit.register(_remove_scratch, _OWNER, _SCRATCH)
_HOME = _SCRATCH / "airflow-home"
_TMP = _SCRATCH / "tmp"
_HOME.mkdir(exist_ok=True)
_TMP.mkdir(exist_ok=True)
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(_HOME / "dags"))
os.environ["TMPDIR"] = str(_TMP)
tempfile.tempdir = str(_TMP)

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"
TESTS = Path(__file__).resolve().parent

#: Per-test timeouts in seconds (pytest-timeout: setup, call and teardown), by suite, for tests
#: that set none of their own with ``@pytest.mark.timeout``. Chosen with headroom for a loaded
#: 2-core machine (the whole suite and other jobs at once): a bound that flakes is worse than none.
#: - unit, reliability: the slowest takes about 1 s (a real read timeout against the emulator),
#:   most take milliseconds under virtual time; 60 s is far above that, and a regression that
#:   loops forever in virtual time fails in a minute instead of holding CI until its own limit.
#: - emulator: a test starts the emulator's CLI (each command bounded at 20 s) a few times.
#: - integration, ui: ``dag.test()`` runs, Airflow servers (start bounded at 120 s) and Chromium;
#:   the first test of a session also pays for its session fixtures (``airflow db migrate``).
#: - distributed: one scenario on the cluster waits up to 420 s for its run; the cluster's own
#:   start (``cluster.sh up``, bounded by its own 900 s) is left out (``func_only``).
SUITE_TIMEOUTS: dict[str, pytest.MarkDecorator] = {
    "unit": pytest.mark.timeout(60),
    "reliability": pytest.mark.timeout(60),
    "emulator": pytest.mark.timeout(120),
    "integration": pytest.mark.timeout(300),
    "ui": pytest.mark.timeout(300),
    "distributed": pytest.mark.timeout(600, func_only=True),
}


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("timeout"):
        raise pytest.UsageError(
            "pytest-timeout is missing: every test has a time bound (install the 'test' extra, "
            "or run bash scripts/setup-venv.sh)"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None:
            suite = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
            if suite in SUITE_TIMEOUTS:
                item.add_marker(SUITE_TIMEOUTS[suite])


#: Left by others who remove them at this process's exit: pytest's ``tmp_path`` base, and
#: multiprocessing's ``pymp-*`` folder (its own atexit finalizer removes it; one appeared in the
#: distributed suite, which starts no process pool itself).
_CLEANED_AT_EXIT: tuple[str, ...] = ("pytest-of-", "pymp-")


def leftovers() -> list[str]:
    """What the session left in its temporary directory, beyond what is removed at exit anyway."""
    return sorted(p.name for p in _TMP.iterdir() if not p.name.startswith(_CLEANED_AT_EXIT))


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Forked children (mutmut's parallel workers) share the folder: only its owner judges it.
    left = leftovers() if os.getpid() == _OWNER else []
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            f"this session left files in its temporary directory {_TMP}: {', '.join(left)} "
            "(remove them in the test or fixture that makes them; tmp_path cleans itself)"
        )
        if reporter is not None:
            reporter.write_line(f"ERROR: {message}", red=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        for name in left:
            shutil.rmtree(_TMP / name, ignore_errors=True)


@pytest.fixture
def reference_dir() -> Path:
    """``../shared/reference`` (the vendors' specs); tests that need it skip, saying why, without it."""
    if not REFERENCE.is_dir():
        pytest.skip(f"the API reference folder {REFERENCE} is absent (it sits beside the repo in CI)")
    return REFERENCE


# Virtual time and the scripted APIs, for every suite (see fakes.py).
from fakes import api, clock  # noqa: E402, F401
