"""What the trigger tests share: the scripted Gcore answers, the connection, and running a trigger.

The connection comes from an ``AIRFLOW_CONN_*`` variable through ``BaseHook.aget_connection``;
requests go to :class:`FakeApi`; ``run_virtual`` runs the triggerer's loop on the virtual clock,
so no test waits for real.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from airflow.triggers.base import BaseTrigger
from fakes import START, Reply, VirtualClock, ok, run_virtual

from airflow_provider_projects._http.wire import Request
from airflow_provider_projects.models.gcore import GcoreProjectLock
from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger
from airflow_provider_projects.waiting import WaitOutcome

BASE = "https://gcore.test"
API_KEY = "gcore-SECRET-key-8f3a91c7"
CONN = "gcore_wait"
CONN_RETRYING = "gcore_wait_retrying"
PROJECT = 2
TASK_A = "7244e161-664c-4afd-a34e-7003eac4d949"
TASK_B = "0b7c1a52-9d7e-4c39-a9a5-5f4b8f4c2e10"
PROJECT_PATH = f"/cloud/v1/projects/{PROJECT}"
TASK_A_PATH = f"/cloud/v1/tasks/{TASK_A}"
TASK_B_PATH = f"/cloud/v1/tasks/{TASK_B}"


def project(task_id: str | None = None) -> dict[str, Any]:
    return {
        "id": PROJECT,
        "client_id": 1,
        "name": "analytics",
        "description": "Dashboards and reports",
        "created_at": "2026-01-01T00:00:00+0000",
        "deleted_at": None,
        "is_default": False,
        "state": "ACTIVE",
        "task_id": task_id,
    }


def task(task_id: str, state: str, error: str | None = None) -> dict[str, Any]:
    return {
        "id": task_id,
        "user_id": 1001,
        "task_type": "update_project",
        "state": state,
        "created_on": "2026-05-01T12:00:00",
        "finished_on": "2026-05-01T12:00:16" if state in {"FINISHED", "ERROR"} else None,
        "error": error,
        "project_id": PROJECT,
    }


def status(code: int, **headers: str) -> Reply:
    return Reply(code, {"exception_class": "Error", "message": f"scripted {code}", "request_id": "req-1"}, headers)


def locked_until(clock: VirtualClock, moment: float, holder: str = TASK_A) -> Callable[[Request], Reply]:
    """The project as Gcore shows it: locked by ``holder`` until ``moment`` s after the start."""
    return lambda request: ok(project(holder if clock.now < START + moment else None))


def connect(monkeypatch: pytest.MonkeyPatch, conn_id: str, key: str = API_KEY, retries: int = 0) -> None:
    conn = {"conn_type": "gcore", "host": BASE, "password": key, "extra": {"max_retries": retries}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def run(clock: VirtualClock, trigger: BaseTrigger) -> dict[str, Any]:
    """Run a trigger to its one event in virtual time; the event as the triggerer stores it (JSON)."""

    async def main() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    [event] = run_virtual(clock, main())
    assert json.loads(json.dumps(event)) == event
    return event


def watch(clock: VirtualClock, trigger: BaseTrigger, seconds: float) -> list[dict[str, Any]]:
    """Run a never-ending watch for ``seconds`` of virtual time; the events it fired meanwhile."""
    events: list[dict[str, Any]] = []

    async def consume() -> None:
        gen: AsyncIterator[Any] = trigger.run()
        async for event in gen:
            events.append(event.payload)

    async def main() -> None:
        running = asyncio.ensure_future(consume())
        await asyncio.sleep(seconds)
        assert not running.done(), "a watch never ends by itself"
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    run_virtual(clock, main())
    return events


def import_string(classpath: str) -> Any:
    """What the triggerer does with a serialized classpath."""
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)


def rebuilt(trigger: BaseTrigger) -> Any:
    """The trigger as a triggerer rebuilds it from the database: classpath and JSON kwargs."""
    classpath, kwargs = trigger.serialize()
    return import_string(classpath)(**json.loads(json.dumps(kwargs)))


def unlocked_trigger(deadline: float = 100, **kwargs: Any) -> GcoreProjectUnlockedTrigger:
    kwargs.setdefault("gcore_conn_id", CONN)
    kwargs.setdefault("poll_interval", 10)
    return GcoreProjectUnlockedTrigger(project_id=PROJECT, deadline=START + deadline, **kwargs)


def lock_of(event: dict[str, Any]) -> WaitOutcome[GcoreProjectLock]:
    return WaitOutcome.from_event(event, GcoreProjectLock)
