"""Pytest fixtures for the emulator, registered through the ``pytest11`` entry point.

Installing ``airflow-provider-projects-emulator`` is enough: pytest loads this module itself, so no
``pytest_plugins = [...]`` line is needed. Each test gets its own freshly seeded emulator
(function scope), so tests cannot leak locks, faults or journal entries into each other.

Only pytest imports this module, which is why it may import pytest (not a dependency of the
server). The server itself loads on first use of a fixture, so a pytest run that never asks for
one pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from projects_emulator.emulator import ProjectsEmulator


@pytest.fixture
def projects_emulator() -> Iterator[ProjectsEmulator]:
    """A started ``ProjectsEmulator`` (current edition) on ephemeral ports, stopped after the test."""
    from projects_emulator.emulator import ProjectsEmulator

    with ProjectsEmulator() as emu:
        yield emu


@pytest.fixture
def projects_emulator_env(projects_emulator: ProjectsEmulator, monkeypatch: pytest.MonkeyPatch) -> ProjectsEmulator:
    """The same emulator, with ``AIRFLOW_CONN_GCORE_DEFAULT``/``..._GCAI_DEFAULT`` pointing at it."""
    for name, value in projects_emulator.airflow_connection_env().items():
        monkeypatch.setenv(name, value)
    return projects_emulator
