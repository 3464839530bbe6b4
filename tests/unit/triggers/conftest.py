"""Every trigger test runs with the two ``gcore`` connections of ``support.py`` set."""

from __future__ import annotations

import pytest

from .support import CONN, CONN_RETRYING, connect


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> None:
    connect(monkeypatch, CONN)
    connect(monkeypatch, CONN_RETRYING, retries=2)
