"""The extra links: read the pushed project only after a success, and link only to the vendor's own API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from airflow.sdk import TaskInstanceState

from airflow_provider_projects.links import GcaiProjectLink, GcoreProjectLink, is_vendor_api
from airflow_provider_projects.provider_info import GCAI_BASE_URL, GCORE_BASE_URL

GCAI_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


@dataclass
class RunningTi:
    """What the task runner passes as ``ti_key``: the key fields plus the state the task stops in."""

    state: TaskInstanceState | None
    dag_id: str = "d"
    task_id: str = "t"
    run_id: str = "r"
    map_index: int = -1


@dataclass
class Operator:
    gcore_conn_id: str = "gcore_default"
    gcai_conn_id: str = "gcai_default"
    do_xcom_push: bool = True


@pytest.fixture
def xcom_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for XCom.get_value; records each key read (the project pushed has id 2 / GCAI_ID)."""
    from airflow.sdk.execution_time.xcom import XCom

    reads: list[str] = []

    def get_value(*, ti_key: Any, key: str) -> Any:
        reads.append(key)
        return {"id": 2 if ti_key.task_id == "gcore" else GCAI_ID}

    monkeypatch.setattr(XCom, "get_value", get_value)
    return reads


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn_type: str, host: str | None) -> None:
    conn: dict[str, Any] = {"conn_type": conn_type, "password": "k"}
    if host is not None:
        conn["host"] = host
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.mark.parametrize(
    "state",
    [
        TaskInstanceState.DEFERRED,
        TaskInstanceState.FAILED,
        TaskInstanceState.UP_FOR_RETRY,
        TaskInstanceState.UP_FOR_RESCHEDULE,
        TaskInstanceState.SKIPPED,
    ],
)
def test_no_xcom_read_unless_the_task_succeeded(
    state: TaskInstanceState, xcom_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read of the missing return_value is what logs "[error] XCom not found" (finding 2)."""
    set_connection(monkeypatch, "gcore_default", "gcore", None)
    assert GcoreProjectLink().get_link(Operator(), ti_key=RunningTi(state, task_id="gcore")) == ""
    assert xcom_reads == []


def test_links_to_the_console_after_a_success_on_the_vendor_api(
    xcom_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(monkeypatch, "gcore_default", "gcore", None)
    set_connection(monkeypatch, "gcai_default", "gcai", GCAI_BASE_URL)
    assert (
        GcoreProjectLink().get_link(Operator(), ti_key=RunningTi(TaskInstanceState.SUCCESS, task_id="gcore"))
        == "https://portal.gcore.com/cloud/projects/2"
    )
    assert (
        GcaiProjectLink().get_link(Operator(), ti_key=RunningTi(TaskInstanceState.SUCCESS))
        == f"https://app.gc.ai/projects/{GCAI_ID}"
    )
    assert xcom_reads == ["return_value", "return_value"]


@pytest.mark.parametrize(
    "host", ["http://127.0.0.1:8080", "https://staging.api.gcore.com", "https://api.gcore.com:8443"]
)
def test_no_link_when_the_connection_points_elsewhere(
    host: str, xcom_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator or a staging host: the project does not exist in the vendor's console (finding 6b)."""
    set_connection(monkeypatch, "gcore_default", "gcore", host)
    assert GcoreProjectLink().get_link(Operator(), ti_key=RunningTi(TaskInstanceState.SUCCESS, task_id="gcore")) == ""
    assert xcom_reads == []


def test_no_link_without_xcom_push(xcom_reads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "gcai_default", "gcai", None)
    assert GcaiProjectLink().get_link(Operator(do_xcom_push=False), ti_key=RunningTi(TaskInstanceState.SUCCESS)) == ""
    assert xcom_reads == []


@pytest.mark.parametrize(
    ("host", "default", "vendor"),
    [
        (None, GCORE_BASE_URL, True),
        ("  ", GCORE_BASE_URL, True),
        ("api.gcore.com", GCORE_BASE_URL, True),
        ("HTTPS://API.gcore.com/", GCORE_BASE_URL, True),
        ("http://api.gcore.com", GCORE_BASE_URL, False),
        ("https://app.gc.ai/api/external/v1/", GCAI_BASE_URL, True),
        ("https://app.gc.ai", GCAI_BASE_URL, False),
        ("http://127.0.0.1:4010/api/external/v1", GCAI_BASE_URL, False),
    ],
)
def test_is_vendor_api(host: str | None, default: str, vendor: bool) -> None:
    assert is_vendor_api(host, default) is vendor
