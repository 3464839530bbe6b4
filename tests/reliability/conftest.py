"""Fixtures of the reliability suite.

* ``matrix_result``: runs a fault-matrix scenario once per session (the matrix test, the secrets
  audit and the report check all read the same run);
* ``world`` / ``emu``: a fake clock and an emulator on it, with the ``gcore_default`` and
  ``gcai_default`` connections pointing at it and every provider sleep injected (see ``harness``).

The integration suite's ``emulator`` fixture is not reused: these tests need the emulator on the
fake clock, and ``tests`` is not a package (``tests.integration.conftest`` is not importable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from projects_emulator import ProjectsEmulator

from .harness import MATRIX_EDITION, Result, Scenario, World, connection_env, injected, run_scenario


@pytest.fixture(scope="session")
def matrix_result() -> Callable[[Scenario], Result]:
    results: dict[str, Result] = {}

    def get(scenario: Scenario) -> Result:
        if scenario.id not in results:
            results[scenario.id] = run_scenario(scenario)
        return results[scenario.id]

    return get


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def emu(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProjectsEmulator]:
    with ProjectsEmulator(clock=world.clock, edition=MATRIX_EDITION) as emulator:
        world.emu = emulator
        for name, value in connection_env(emulator).items():
            monkeypatch.setenv(name, value)
        with injected(world):
            yield emulator
