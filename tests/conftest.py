"""Test-wide setup: a throwaway AIRFLOW_HOME before Airflow is imported, and shared helpers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="app-tests-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(_HOME / "dags"))

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture
def reference_dir() -> Path:
    """``../shared/reference`` (the vendors' specs); tests that need it skip, saying why, without it."""
    if not REFERENCE.is_dir():
        pytest.skip(f"the API reference folder {REFERENCE} is absent (it sits beside the repo in CI)")
    return REFERENCE


# Virtual time and the scripted APIs, for every suite (see fakes.py).
from fakes import api, clock  # noqa: E402, F401
