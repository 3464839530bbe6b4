"""The Gcore triggers driven end to end through the async HTTP core, against a scripted API.

Requests go through ``httpx.MockTransport`` (the shared client is swapped), the connection comes
from an ``AIRFLOW_CONN_*`` variable via ``BaseHook.aget_connection``, and time is a fake clock
that only the trigger's fake ``sleep`` moves: no test waits for real.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from airflow.sdk import BaseHook
from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_projects._http import aio
from airflow_provider_projects.errors import (
    AuthenticationError,
    GcoreTaskFailedError,
    LockConflictError,
    NotFoundError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
)
from airflow_provider_projects.triggers.gcore import (
    GcoreProjectUnlockedEventTrigger,
    GcoreProjectUnlockedTrigger,
    GcoreTaskTrigger,
    error_event,
    error_from_event,
)

BASE = "https://gcore.test"
API_KEY = "gcore-SECRET-key-8f3a91c7"
CONN = "gcore_wait"
CONN_RETRYING = "gcore_wait_retrying"
PROJECT = 2
TASK_A = "7244e161-664c-4afd-a34e-7003eac4d949"
TASK_B = "0b7c1a52-9d7e-4c39-a9a5-5f4b8f4c2e10"
PROJECT_PATH = f"/cloud/v1/projects/{PROJECT}"
START = 1_000_000.0


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


@dataclass(frozen=True)
class Status:
    """A scripted error answer."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> httpx.Response:
        body = {"exception_class": "Error", "message": f"scripted {self.code}", "request_id": "req-1"}
        return httpx.Response(self.code, json=body, headers=self.headers)


Reply = dict[str, Any] | Status


class FakeGcore:
    """Answers each path from its script in order; the last reply repeats once the script runs out."""

    def __init__(self, scripts: dict[str, list[Reply]]) -> None:
        self.scripts = {path: list(replies) for path, replies in scripts.items()}
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        script = self.scripts.get(request.url.path)
        if not script:
            return Status(404).response()
        reply = script.pop(0) if len(script) > 1 else script[0]
        return reply.response() if isinstance(reply, Status) else httpx.Response(200, json=reply)

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


class Stop(Exception):
    """Ends a watch that would otherwise run forever (raised by the fake sleep)."""


class FakeTime:
    """A wall clock that moves only when the trigger sleeps."""

    def __init__(self, now: float = START, max_sleeps: int | None = None) -> None:
        self.now = now
        self.pauses: list[float] = []
        self.max_sleeps = max_sleeps

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if self.max_sleeps is not None and len(self.pauses) >= self.max_sleeps:
            raise Stop
        self.pauses.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    for conn_id, retries in ((CONN, 0), (CONN_RETRYING, 2)):
        conn = {"conn_type": "gcore", "host": BASE, "password": API_KEY, "extra": {"max_retries": retries}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeGcore], None]:
    """Route the shared async client of whatever loop runs next to a FakeGcore."""

    def install(api: FakeGcore) -> None:
        clients: dict[int, httpx.AsyncClient] = {}

        def shared_client() -> httpx.AsyncClient:
            loop = id(asyncio.get_running_loop())
            if loop not in clients:
                clients[loop] = httpx.AsyncClient(transport=httpx.MockTransport(api.handler))
            return clients[loop]

        monkeypatch.setattr(aio, "shared_client", shared_client)

    return install


def run(trigger: BaseTrigger, fake: FakeTime) -> list[dict[str, Any]]:
    """Run a trigger to its end on the fake clock; return the payloads it yielded."""
    trigger.clock = fake.clock  # type: ignore[attr-defined]
    trigger.sleep = fake.sleep  # type: ignore[attr-defined]

    async def main() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(main())


def watch(trigger: GcoreProjectUnlockedEventTrigger, fake: FakeTime) -> list[dict[str, Any]]:
    """Run a never-ending watch until the fake sleep stops it; return the payloads so far."""
    trigger.sleep = fake.sleep
    events: list[dict[str, Any]] = []

    async def main() -> None:
        gen: AsyncIterator[TriggerEvent] = trigger.run()
        async for event in gen:
            events.append(event.payload)

    with pytest.raises(Stop):
        asyncio.run(main())
    return events


def import_string(classpath: str) -> Any:
    """What the triggerer does with a serialized classpath."""
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)


def unlocked_trigger(deadline: float = START + 100, **kwargs: Any) -> GcoreProjectUnlockedTrigger:
    kwargs.setdefault("gcore_conn_id", CONN)
    return GcoreProjectUnlockedTrigger(project_id=PROJECT, deadline=deadline, poll_interval=10, **kwargs)


# -- the project lock -----------------------------------------------------------------------------------


def test_locked_locked_unlocked_ends_with_the_project_and_the_lock_holder(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore(
        {
            PROJECT_PATH: [project(TASK_A), project(TASK_A), project(None)],
            f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "FINISHED")],
        }
    )
    serve(api)
    fake = FakeTime()
    [event] = run(unlocked_trigger(), fake)

    assert event["status"] == "success"
    assert event["project"] == project(None)
    assert (event["lock_task"]["id"], event["lock_task"]["state"]) == (TASK_A, "FINISHED")
    assert api.paths() == [PROJECT_PATH] * 3 + [f"/cloud/v1/tasks/{TASK_A}"]
    assert fake.pauses == [10.0, 10.0]
    assert api.requests[0].headers["Authorization"] == f"APIKey {API_KEY}"
    assert json.loads(json.dumps(event)) == event


def test_a_lock_holder_that_ended_in_error_is_reported_with_its_error_text(
    serve: Callable[[FakeGcore], None],
) -> None:
    api = FakeGcore(
        {
            PROJECT_PATH: [project(TASK_A), project(None)],
            f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "ERROR", error="Quota exceeded for region 76")],
        }
    )
    serve(api)
    [event] = run(unlocked_trigger(), FakeTime())

    assert event["status"] == "success"
    assert event["lock_task"]["state"] == "ERROR"
    assert event["lock_task"]["error"] == "Quota exceeded for region 76"


def test_the_last_of_several_lock_holders_is_the_one_reported(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore(
        {
            PROJECT_PATH: [project(TASK_A), project(TASK_B), project(None)],
            f"/cloud/v1/tasks/{TASK_B}": [task(TASK_B, "FINISHED")],
        }
    )
    serve(api)
    [event] = run(unlocked_trigger(lock_task_id=TASK_A), FakeTime())
    assert event["lock_task"]["id"] == TASK_B
    assert api.paths()[-1] == f"/cloud/v1/tasks/{TASK_B}"


def test_a_project_unlocked_from_the_start_reads_no_task(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({PROJECT_PATH: [project(None)]})
    serve(api)
    [event] = run(unlocked_trigger(), FakeTime())
    assert (event["status"], event["lock_task"]) == ("success", None)
    assert api.paths() == [PROJECT_PATH]


def test_an_unreadable_lock_holder_does_not_spoil_the_success(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({PROJECT_PATH: [project(TASK_A), project(None)], f"/cloud/v1/tasks/{TASK_A}": [Status(404)]})
    serve(api)
    [event] = run(unlocked_trigger(), FakeTime())
    assert (event["status"], event["lock_task"]) == ("success", None)


# -- errors ------------------------------------------------------------------------------------------


def test_transient_503s_are_tolerated(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({PROJECT_PATH: [Status(503), Status(503), project(None)]})
    serve(api)
    [event] = run(unlocked_trigger(max_consecutive_errors=2), FakeTime())
    assert event["status"] == "success"
    assert len(api.requests) == 3


def test_one_503_more_than_tolerated_ends_with_an_error_event(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({PROJECT_PATH: [Status(503), Status(503), Status(503), project(None)]})
    serve(api)
    [event] = run(unlocked_trigger(max_consecutive_errors=2), FakeTime())

    assert (event["status"], event["error_type"], event["http_status"]) == ("error", "ServerError", 503)
    assert "3 failed polls in a row" in event["message"]
    assert len(api.requests) == 3
    error = error_from_event(event)
    assert isinstance(error, ServerError)
    assert error.status == 503


def test_each_poll_retries_inside_the_http_core_before_counting_as_failed(
    serve: Callable[[FakeGcore], None],
) -> None:
    # max_retries=2: one poll is up to 3 requests; the core's back-off uses the trigger's fake sleep.
    api = FakeGcore({PROJECT_PATH: [Status(503), Status(503), Status(503), Status(503), project(None)]})
    serve(api)
    fake = FakeTime()
    [event] = run(unlocked_trigger(gcore_conn_id=CONN_RETRYING, max_consecutive_errors=1), fake)
    assert event["status"] == "success"
    assert len(api.requests) == 5  # poll 1: 3 x 503; poll 2: 503, then 200
    assert len(fake.pauses) == 2 + 1 + 1  # core back-offs in poll 1, the poll pause, the core back-off in poll 2


@pytest.mark.parametrize(
    ("status", "error_type"), [(401, AuthenticationError), (403, AuthenticationError), (404, NotFoundError)]
)
def test_401_403_404_end_the_wait_at_once(
    serve: Callable[[FakeGcore], None], status: int, error_type: type[Exception]
) -> None:
    api = FakeGcore({PROJECT_PATH: [Status(status), project(None)]})
    serve(api)
    fake = FakeTime()
    [event] = run(unlocked_trigger(gcore_conn_id=CONN_RETRYING), fake)

    assert (event["status"], event["http_status"]) == ("error", status)
    assert isinstance(error_from_event(event), error_type)
    assert len(api.requests) == 1
    assert fake.pauses == []
    assert API_KEY not in json.dumps(event)


def test_retry_after_of_a_429_lengthens_the_pause(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({PROJECT_PATH: [Status(429, {"Retry-After": "45"}), project(TASK_A), project(None)]})
    serve(api)
    fake = FakeTime()
    run(unlocked_trigger(), fake)
    assert fake.pauses == [45.0, 10.0]


@pytest.mark.parametrize(
    ("error", "fields"),
    [
        (RateLimitedError("HTTP 429", status=429, retry_after=30.0), ("retry_after",)),
        (LockConflictError("HTTP 409", status=409, task_id=TASK_A), ("task_id", "task_type", "resource_id")),
        (GcoreTaskFailedError("ERROR: boom", task_id=TASK_A, task_error="boom"), ("task_id", "task_error")),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_an_error_rebuilt_from_its_event_has_its_type_and_every_field(
    error: ProjectsApiError, fields: tuple[str, ...]
) -> None:
    rebuilt = error_from_event(json.loads(json.dumps(error_event(error))))
    assert type(rebuilt) is type(error)
    assert (str(rebuilt), rebuilt.status) == (str(error), error.status)
    assert {name: getattr(rebuilt, name) for name in fields} == {name: getattr(error, name) for name in fields}


# -- timeout -------------------------------------------------------------------------------------------


def test_timeout_is_its_own_event_after_an_exact_number_of_polls(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({PROJECT_PATH: [project(TASK_A)]})
    serve(api)
    fake = FakeTime()
    [event] = run(unlocked_trigger(deadline=START + 25), fake)

    assert event["status"] == "timeout"
    assert "after 4 polls" in event["message"]
    assert len(api.requests) == 4  # at +0, +10, +20 and at the deadline (+25)
    assert fake.now == START + 25


# -- the first poll ------------------------------------------------------------------------------------


def test_first_poll_at_delays_the_first_poll(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({PROJECT_PATH: [project(None)]})
    serve(api)
    fake = FakeTime()
    [event] = run(unlocked_trigger(first_poll_at=START + 10), fake)
    assert event["status"] == "success"
    assert fake.pauses == [10.0]
    assert len(api.requests) == 1


def test_a_first_poll_time_already_passed_polls_at_once(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({PROJECT_PATH: [project(None)]})
    serve(api)
    fake = FakeTime()
    run(unlocked_trigger(first_poll_at=START - 3), fake)
    assert fake.pauses == []


def test_a_first_poll_time_after_the_deadline_still_polls_once_at_the_deadline(
    serve: Callable[[FakeGcore], None],
) -> None:
    api = FakeGcore({PROJECT_PATH: [project(TASK_A)]})
    serve(api)
    fake = FakeTime()
    [event] = run(unlocked_trigger(deadline=START + 5, first_poll_at=START + 60), fake)
    assert event["status"] == "timeout"
    assert fake.pauses == [5.0]
    assert len(api.requests) == 1


# -- the task trigger ----------------------------------------------------------------------------------


def test_task_trigger_follows_a_task_to_error_and_carries_its_error_text(
    serve: Callable[[FakeGcore], None],
) -> None:
    path = f"/cloud/v1/tasks/{TASK_A}"
    api = FakeGcore({path: [task(TASK_A, "NEW"), task(TASK_A, "RUNNING"), task(TASK_A, "ERROR", error="boom")]})
    serve(api)
    trigger = GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=START + 600, gcore_conn_id=CONN, poll_interval=5)
    fake = FakeTime()
    [event] = run(trigger, fake)

    assert event["status"] == "success"
    assert (event["task"]["state"], event["task"]["error"]) == ("ERROR", "boom")
    assert api.paths() == [path] * 3
    assert fake.pauses == [5.0, 5.0]


def test_task_trigger_times_out(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "RUNNING")]})
    serve(api)
    trigger = GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=START + 30, gcore_conn_id=CONN, poll_interval=10)
    [event] = run(trigger, FakeTime())
    assert event["status"] == "timeout"
    assert len(api.requests) == 4


# -- serialize() and a triggerer restart ------------------------------------------------------------------


def all_triggers() -> list[BaseTrigger]:
    return [
        GcoreProjectUnlockedTrigger(
            project_id=PROJECT, lock_task_id=TASK_A, deadline=START + 60, gcore_conn_id=CONN, first_poll_at=START + 5
        ),
        GcoreTaskTrigger(gcore_task_id=TASK_A, deadline=START + 60, gcore_conn_id=CONN),
        GcoreProjectUnlockedEventTrigger(project_id=PROJECT, gcore_conn_id=CONN, poll_interval=15),
    ]


@pytest.mark.parametrize("trigger", all_triggers(), ids=lambda t: type(t).__name__)
def test_serialize_is_json_safe_holds_no_key_and_rebuilds_the_same_trigger(
    serve: Callable[[FakeGcore], None], trigger: BaseTrigger
) -> None:
    # Make the hook read the connection (and so hold the key) before serializing.
    serve(FakeGcore({PROJECT_PATH: [project(None)], f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "FINISHED")]}))
    hook = trigger._hook()  # type: ignore[attr-defined]
    asyncio.run(hook.async_transport())

    classpath, kwargs = trigger.serialize()
    text = json.dumps(kwargs)
    assert API_KEY not in text
    assert "password" not in text
    assert kwargs["gcore_conn_id"] == CONN
    rebuilt = import_string(classpath)(**json.loads(text))
    assert type(rebuilt) is type(trigger)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_a_trigger_rebuilt_after_a_triggerer_restart_keeps_the_same_deadline(
    serve: Callable[[FakeGcore], None],
) -> None:
    api = FakeGcore({PROJECT_PATH: [project(TASK_A)]})
    serve(api)
    first = unlocked_trigger(deadline=START + 100)
    died = FakeTime(max_sleeps=2)  # the triggerer dies during the third pause, at START + 20
    with pytest.raises(Stop):
        run(first, died)
    assert len(api.requests) == 3

    classpath, kwargs = first.serialize()
    rebuilt = import_string(classpath)(**json.loads(json.dumps(kwargs)))
    restarted = FakeTime(now=died.now + 5)  # it comes back 5 s later
    api.requests.clear()
    [event] = run(rebuilt, restarted)

    assert rebuilt.deadline == START + 100
    assert event["status"] == "timeout"
    assert restarted.now == START + 100  # not START + 125: the same wait, not a new one
    assert len(api.requests) == 9  # +25, +35, ... +95, then at the deadline


def test_a_trigger_rebuilt_after_its_deadline_still_reports_a_cleared_lock(
    serve: Callable[[FakeGcore], None],
) -> None:
    api = FakeGcore({PROJECT_PATH: [project(None)], f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "FINISHED")]})
    serve(api)
    classpath, kwargs = unlocked_trigger(deadline=START + 100, lock_task_id=TASK_A).serialize()
    rebuilt = import_string(classpath)(**json.loads(json.dumps(kwargs)))
    [event] = run(rebuilt, FakeTime(now=START + 500))
    assert event["status"] == "success"
    assert event["lock_task"]["id"] == TASK_A  # the holder seen before deferring survived serialize()


def test_the_connection_is_fetched_with_aget_connection_in_the_event_loop(
    serve: Callable[[FakeGcore], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []
    original = BaseHook.aget_connection.__func__  # type: ignore[attr-defined]

    async def spy(cls: type[BaseHook], conn_id: str) -> Any:
        fetched.append(conn_id)
        return await original(cls, conn_id)

    def blocking(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the blocking get_connection ran inside the event loop")

    monkeypatch.setattr(BaseHook, "aget_connection", classmethod(spy))
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(blocking))
    api = FakeGcore(
        {PROJECT_PATH: [project(TASK_A), project(None)], f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "FINISHED")]}
    )
    serve(api)
    [event] = run(unlocked_trigger(), FakeTime())

    assert event["status"] == "success"
    assert fetched == [CONN]  # once for the whole wait
    assert {r.headers["Authorization"] for r in api.requests} == {f"APIKey {API_KEY}"}
    assert {str(r.url.host) for r in api.requests} == {"gcore.test"}


def test_a_missing_connection_is_an_error_event_that_says_how_to_fix_it(
    serve: Callable[[FakeGcore], None],
) -> None:
    api = FakeGcore({PROJECT_PATH: [project(None)]})
    serve(api)
    [event] = run(unlocked_trigger(gcore_conn_id="no_such_gcore_conn"), FakeTime())
    assert (event["status"], event["error_type"]) == ("error", "ConnectionSetupError")
    assert "AIRFLOW_CONN_NO_SUCH_GCORE_CONN" in event["message"]
    assert api.requests == []


# -- the AssetWatcher trigger (edge-triggered) -------------------------------------------------------------


class FakeAssetStateStore:
    """What the triggerer injects as ``asset_state_store`` for a watcher of one asset."""

    def __init__(self, values: dict[str, Any] | None = None, broken: bool = False) -> None:
        self.values = dict(values or {})
        self.writes: list[tuple[str, Any]] = []
        self.broken = broken

    async def aget(self, key: str, default: Any = None) -> Any:
        if self.broken:
            raise ValueError("Task has 2 concrete inlets and outlets")
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.writes.append((key, value))
        self.values[key] = value

    async def adelete(self, key: str) -> None:
        self.writes.append((key, None))
        self.values.pop(key, None)


def event_trigger(**kwargs: Any) -> GcoreProjectUnlockedEventTrigger:
    return GcoreProjectUnlockedEventTrigger(project_id=PROJECT, gcore_conn_id=CONN, poll_interval=10, **kwargs)


def test_watch_fires_once_per_locked_to_unlocked_transition(serve: Callable[[FakeGcore], None]) -> None:
    polls: list[Reply] = [
        project(None),  # unlocked at the start: no event
        project(None),
        project(TASK_A),
        project(TASK_A),
        project(None),  # -> event 1
        project(None),  # still unlocked: nothing more
        project(None),
        project(TASK_B),
        project(None),  # -> event 2
        project(None),
    ]
    api = FakeGcore(
        {
            PROJECT_PATH: polls,
            f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "FINISHED")],
            f"/cloud/v1/tasks/{TASK_B}": [task(TASK_B, "ERROR", error="boom")],
        }
    )
    serve(api)
    fake = FakeTime(max_sleeps=len(polls) - 1)  # stop after the last scripted poll
    events = watch(event_trigger(), fake)

    assert [(e["status"], e["lock_task"]["id"], e["lock_task"]["state"]) for e in events] == [
        ("unlocked", TASK_A, "FINISHED"),
        ("unlocked", TASK_B, "ERROR"),
    ]
    assert events[1]["lock_task"]["error"] == "boom"
    assert events[0]["project"] == project(None)
    assert events[0]["project_id"] == PROJECT
    assert api.paths().count(PROJECT_PATH) == len(polls)
    assert len(api.requests) == len(polls) + 2  # one task read per event
    assert set(fake.pauses) == {10.0}
    assert json.loads(json.dumps(events)) == events


def test_watch_started_on_an_unlocked_project_never_fires(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore({PROJECT_PATH: [project(None)]})
    serve(api)
    assert watch(event_trigger(), FakeTime(max_sleeps=20)) == []
    assert len(api.requests) == 21


def test_watch_remembers_the_holder_in_the_asset_state_store(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore(
        {
            PROJECT_PATH: [project(TASK_A), project(TASK_A), project(None)],
            f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "FINISHED")],
        }
    )
    serve(api)
    trigger = event_trigger()
    store = FakeAssetStateStore()
    trigger.asset_state_store = store  # type: ignore[assignment]
    events = watch(trigger, FakeTime(max_sleeps=2))

    assert len(events) == 1
    assert store.writes == [(trigger.state_key, TASK_A), (trigger.state_key, None)]  # written once, then cleared
    assert str(PROJECT) in trigger.state_key


def test_a_lock_that_cleared_while_the_triggerer_restarted_still_fires_once(
    serve: Callable[[FakeGcore], None],
) -> None:
    api = FakeGcore({PROJECT_PATH: [project(None)], f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "FINISHED")]})
    serve(api)
    trigger = event_trigger()
    store = FakeAssetStateStore({trigger.state_key: TASK_A})  # the watch before the restart saw TASK_A
    trigger.asset_state_store = store  # type: ignore[assignment]
    events = watch(trigger, FakeTime(max_sleeps=3))

    assert [e["lock_task"]["id"] for e in events] == [TASK_A]
    assert store.values == {}
    # ...and the next start (the triggerer runs the watcher again) does not fire a second time.
    again = event_trigger()
    again.asset_state_store = store  # type: ignore[assignment]
    assert watch(again, FakeTime(max_sleeps=3)) == []


def test_an_unusable_state_store_falls_back_to_memory(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore(
        {PROJECT_PATH: [project(TASK_A), project(None)], f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "FINISHED")]}
    )
    serve(api)
    trigger = event_trigger()
    trigger.asset_state_store = FakeAssetStateStore(broken=True)  # type: ignore[assignment]
    assert len(watch(trigger, FakeTime(max_sleeps=1))) == 1


def test_watch_rides_out_errors_and_backs_off_after_fatal_ones(serve: Callable[[FakeGcore], None]) -> None:
    api = FakeGcore(
        {
            PROJECT_PATH: [project(TASK_A), Status(503), Status(401), Status(401), project(None)],
            f"/cloud/v1/tasks/{TASK_A}": [task(TASK_A, "FINISHED")],
        }
    )
    serve(api)
    fake = FakeTime(max_sleeps=4)
    events = watch(event_trigger(max_consecutive_errors=3), fake)

    assert [e["lock_task"]["id"] for e in events] == [TASK_A]  # the lock holder survived the errors
    assert fake.pauses == [10.0, 10.0, 40.0, 80.0]  # 503 tolerated; 401s (failures 2 and 3 in a row) back off


def test_watch_reads_the_connection_again_after_a_401(
    serve: Callable[[FakeGcore], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_key = "gcore-FIXED-key-0c4e"
    api = FakeGcore({PROJECT_PATH: [Status(401), project(TASK_A)]})
    real_handler = api.handler

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == f"APIKey {fixed_key}":
            return real_handler(request)
        api.requests.append(request)
        # Someone fixes the connection after the first 401.
        conn = {"conn_type": "gcore", "host": BASE, "password": fixed_key, "extra": {"max_retries": 0}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps(conn))
        return Status(401).response()

    api.handler = handler  # type: ignore[method-assign]
    serve(api)
    watch(event_trigger(), FakeTime(max_sleeps=2))
    assert [r.headers["Authorization"] for r in api.requests] == [
        f"APIKey {API_KEY}",
        f"APIKey {fixed_key}",
        f"APIKey {fixed_key}",
    ]


def test_event_trigger_is_an_asset_watcher_trigger() -> None:
    from airflow.sdk import Asset, AssetWatcher

    trigger = event_trigger()
    assert isinstance(trigger, BaseEventTrigger)
    asset = Asset("gcore_project_2_unlocked", watchers=[AssetWatcher(name="gcore_2", trigger=trigger)])
    assert asset.watchers[0].trigger is trigger
    classpath, kwargs = trigger.serialize()
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(*event_trigger().serialize())
    assert BaseEventTrigger.hash(classpath, kwargs) != BaseEventTrigger.hash(
        *GcoreProjectUnlockedEventTrigger(project_id=3, gcore_conn_id=CONN, poll_interval=10).serialize()
    )


@pytest.fixture(autouse=True)
def _no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any real asyncio.sleep of a second or more is a test bug (fake sleeps are injected)."""
    real = asyncio.sleep

    async def guarded(delay: float, *args: Any, **kwargs: Any) -> Any:
        if delay >= 1:
            raise AssertionError(f"a real sleep of {delay} s")
        return await real(delay, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", guarded)
    yield
