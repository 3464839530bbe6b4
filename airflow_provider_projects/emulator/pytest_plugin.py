"""Pytest fixtures for the emulator.

Enable with ``pytest_plugins = ["airflow_provider_projects.emulator.pytest_plugin"]`` in the
root ``conftest.py``. Each test gets its own freshly seeded emulator (function scope), so tests
cannot leak locks, faults or journal entries into each other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_projects.emulator.emulator import ProjectsEmulator


@pytest.fixture
def projects_emulator() -> Iterator[ProjectsEmulator]:
    """A started ``ProjectsEmulator`` on ephemeral ports, stopped after the test."""
    with ProjectsEmulator() as emu:
        yield emu


@pytest.fixture
def projects_emulator_env(projects_emulator: ProjectsEmulator, monkeypatch: pytest.MonkeyPatch) -> ProjectsEmulator:
    """The same emulator, with ``AIRFLOW_CONN_GCORE_DEFAULT``/``..._GCAI_DEFAULT`` pointing at it."""
    for name, value in projects_emulator.airflow_connection_env().items():
        monkeypatch.setenv(name, value)
    return projects_emulator
