"""What the hook tests share: connections from ``AIRFLOW_CONN_*`` and every rendering of an output."""

from __future__ import annotations

import json
import traceback
from typing import Any

import pytest

from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.hooks.gcore import GcoreHook

SECRET = "ZZ-SECRET-7f3a9c"
PROXY_PASSWORD = "pr0xy-Pa55-91c2"


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def gcore_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str = "conn_x", **extra: Any) -> GcoreHook:
    set_conn(monkeypatch, conn_id, {"conn_type": "gcore", "password": "k-123456", "extra": extra})
    return GcoreHook(conn_id)


def output_of(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    """Everything logged: stdlib records (caplog) and the task-SDK's structlog output (stdout/stderr)."""
    captured = capsys.readouterr()
    return "\n".join([captured.out, captured.err, *(r.getMessage() for r in caplog.records)])


def every_text_of(error: BaseException) -> str:
    """The error as any logger or tracker could render it: str, repr, args, traceback, fields."""
    texts = [str(error), repr(error), repr(error.args), *traceback.format_exception(error)]
    if isinstance(error, ProjectsApiError):
        texts.append(repr(vars(error)))
    return "\n".join(texts)
