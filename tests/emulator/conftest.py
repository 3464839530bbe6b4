"""Fixtures for the emulator tests: a fake clock, an emulator on it, and spec-checking HTTP clients.

Every response the clients below receive is validated against the vendors' OpenAPI extracts
(``../shared/reference`` beside the repository) when those are present; tests that need the spec
itself skip when it is absent.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# This folder (helpers), whatever the import mode; the emulator itself is installed (editable).
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from emulator_support import REFERENCE, ApiClient, FakeClock, SpecChecker, load_checker  # noqa: E402

from projects_emulator.editions import CURRENT  # noqa: E402
from projects_emulator.emulator import ProjectsEmulator  # noqa: E402


@pytest.fixture(scope="session")
def checker() -> SpecChecker | None:
    """The spec checker, or None when the reference extracts are not beside the repository."""
    return load_checker()


@pytest.fixture
def spec(checker: SpecChecker | None) -> SpecChecker:
    """The spec checker for tests about the spec itself; skips without the reference files."""
    if checker is None:
        pytest.skip(f"OpenAPI reference extracts not found in {REFERENCE}")
    return checker


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def edition() -> str:
    """The Gcore edition ``emu`` serves; a test overrides it with ``parametrize("edition", [...])``."""
    return CURRENT


@pytest.fixture
def emu(clock: FakeClock, edition: str) -> Iterator[ProjectsEmulator]:
    with ProjectsEmulator(clock=clock, edition=edition) as emulator:
        yield emulator


@pytest.fixture
def gcore(emu: ProjectsEmulator, checker: SpecChecker | None) -> Iterator[ApiClient]:
    client = ApiClient("gcore", emu.gcore_url, f"APIKey {emu.gcore_key}", checker, lambda: emu.edition)
    yield client
    client.session.close()


@pytest.fixture
def gcai(emu: ProjectsEmulator, checker: SpecChecker | None) -> Iterator[ApiClient]:
    client = ApiClient("gcai", emu.gcai_url, emu.gcai_org_key, checker)
    yield client
    client.session.close()


@pytest.fixture
def gcai_user(emu: ProjectsEmulator, checker: SpecChecker | None) -> Iterator[ApiClient]:
    client = ApiClient("gcai", emu.gcai_url, emu.gcai_user_key, checker)
    yield client
    client.session.close()
