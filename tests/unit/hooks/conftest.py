"""Fixtures the hook tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def pem(tmp_path: Path) -> Iterator[Path]:
    """A readable file where a CA bundle path is expected."""
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    yield path
