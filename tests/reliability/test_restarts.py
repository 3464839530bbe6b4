"""Triggerer restarts: a deferred wait torn down mid-wait, rebuilt from ``serialize()``, completes.

What the triggerer does is reproduced step by step: the trigger's ``serialize()`` goes through
JSON (the database), ``run()`` is cancelled (the triggerer stops), then a new trigger is built from
the classpath and kwargs and run again; the task resumes on a fresh operator instance. The
emulator and the provider share a fake clock, so "the triggerer was down for 20 s" is one line.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest import mock

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_projects import _clock
from airflow_provider_projects.errors import GcoreTaskFailedError, LockWaitTimeoutError
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor, GcoreTaskSensor
from projects_emulator import ProjectsEmulator

from .harness import GCORE_PID, NEW_DESCRIPTION, NEW_NAME, POLL, START, World, first_event, import_string, make_context

pytestmark = pytest.mark.integration


def stored(deferred: TaskDeferred) -> tuple[str, dict[str, Any]]:
    """The trigger row as the database keeps it: classpath and JSON kwargs."""
    classpath, kwargs = deferred.trigger.serialize()
    return classpath, json.loads(json.dumps(kwargs))


def build(world: World, classpath: str, kwargs: dict[str, Any]) -> Any:
    """What the triggerer does with a trigger row (time is the world's, through ``_clock``)."""
    return import_string(classpath)(**kwargs)


def tear_down_after_first_poll(world: World, emu: ProjectsEmulator, trigger: Any) -> None:
    """Run the trigger until it pauses after its first poll, then cancel it (the triggerer stops).

    A pause before any poll (a sensor's trigger first waits out the interval its worker poke used)
    passes on the fake clock as usual.
    """
    before = len(emu.requests())

    async def main() -> None:
        paused = asyncio.Event()

        async def pause(seconds: float) -> None:
            if len(emu.requests()) == before:
                await world.async_sleep(seconds)
                return
            paused.set()
            await asyncio.Event().wait()  # a long poll interval; the restart comes first

        with mock.patch.object(_clock, "asleep", pause):
            running = asyncio.ensure_future(first_event(trigger))
            await asyncio.wait_for(paused.wait(), timeout=10)
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running

    asyncio.run(main())


def replace_op(world: World, **kwargs: Any) -> GcoreReplaceProjectOperator:
    return GcoreReplaceProjectOperator(
        task_id="replace_project",
        project_id=GCORE_PID,
        name=NEW_NAME,
        description=NEW_DESCRIPTION,
        poll_interval=POLL,
        lock_timeout=kwargs.pop("lock_timeout", 120),
        deferrable=True,
        **kwargs,
    )


def test_replace_lock_wait_survives_a_triggerer_restart(world: World, emu: ProjectsEmulator) -> None:
    emu.lock_gcore_project(GCORE_PID, seconds=12)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferral:
        replace_op(world).execute(context)
    classpath, kwargs = stored(deferral.value)
    assert kwargs["deadline"] == START + 120  # absolute: a rebuilt wait keeps the original deadline

    tear_down_after_first_poll(world, emu, build(world, classpath, kwargs))
    # The worker's read, then the trigger's poll of the project (the wait is for its lock to clear).
    assert [(r.method, r.path.split("/")[3]) for r in emu.requests()] == [("GET", "projects"), ("GET", "projects")]

    world.now += 20  # the triggerer is down for 20 s; the lock ends meanwhile (at 12 s)
    rebuilt = build(world, classpath, kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    event = asyncio.run(first_event(rebuilt))
    assert event["status"] == "done" and event["value"]["project"]["task_id"] is None

    result = getattr(replace_op(world), deferral.value.method_name)(
        context, event=event, **(deferral.value.kwargs or {})
    )
    assert (result["name"], result["description"], result["task_id"]) == (NEW_NAME, NEW_DESCRIPTION, None)
    methods = [r.method for r in emu.requests()]
    assert methods == ["GET", "GET", "GET", "GET", "PATCH"]  # read, poll | restart | poll, read, write once
    assert emu.gcore_project_revision(GCORE_PID) == 1


def test_replace_wait_rebuilt_after_its_deadline_polls_once_then_times_out(world: World, emu: ProjectsEmulator) -> None:
    emu.lock_gcore_project(GCORE_PID, seconds=None)  # never ends
    context = make_context()
    with pytest.raises(TaskDeferred) as deferral:
        replace_op(world, lock_timeout=30).execute(context)
    classpath, kwargs = stored(deferral.value)
    tear_down_after_first_poll(world, emu, build(world, classpath, kwargs))

    world.now += 60  # down past the deadline
    event = asyncio.run(first_event(build(world, classpath, kwargs)))
    assert event["status"] == "timeout"
    with pytest.raises(LockWaitTimeoutError):
        getattr(replace_op(world, lock_timeout=30), deferral.value.method_name)(
            context, event=event, **(deferral.value.kwargs or {})
        )
    assert [r.method for r in emu.requests()] == ["GET", "GET", "GET"]  # no write


def test_unlocked_sensor_remembers_the_lock_holder_across_a_restart(world: World, emu: ProjectsEmulator) -> None:
    """The rebuilt trigger never sees the lock itself: the holder comes back from ``serialize()``,
    travels in the event, and the resumed sensor reads how it ended (on the worker, once)."""
    emu.lock_gcore_project(GCORE_PID, seconds=12, outcome="ERROR", error="Quota exceeded")

    def sensor() -> GcoreProjectUnlockedSensor:
        return GcoreProjectUnlockedSensor(
            task_id="wait_unlocked", project_id=GCORE_PID, poke_interval=POLL, deferrable=True, fail_on_lock_error=True
        )

    context = make_context()
    with pytest.raises(TaskDeferred) as deferral:
        sensor().execute(context)
    classpath, kwargs = stored(deferral.value)
    assert kwargs["lock_task_id"] is not None

    tear_down_after_first_poll(world, emu, build(world, classpath, kwargs))
    world.now += 20
    event = asyncio.run(first_event(build(world, classpath, kwargs)))
    assert event["status"] == "done"
    assert event["lock_task_id"] == kwargs["lock_task_id"]
    assert event["value"]["holder"] is None  # not read in the triggerer
    with pytest.raises(GcoreTaskFailedError, match="Quota exceeded"):
        sensor().execute_complete(context, event=event)
    # worker poke (locked), first trigger poll (locked) | restart | poll (unlocked) | the worker's GET of the holder
    assert [r.path.split("/")[3] for r in emu.requests()] == ["projects", "projects", "projects", "tasks"]


def test_task_sensor_torn_down_during_a_poll_completes_after_the_restart(world: World, emu: ProjectsEmulator) -> None:
    """The triggerer stops while a poll is in flight (the answer is held back): the cancel is prompt.

    Prompt means it does not wait for the answer: the emulator still holds the poll when the
    cancelled trigger has ended. No wall clock is read: a cancel that waited would find the poll
    gone (dropped after ``stall_timeout``) or, failing that, hang until the test's own timeout.
    """
    task_id = emu.lock_gcore_project(GCORE_PID, seconds=12)

    def sensor() -> GcoreTaskSensor:
        return GcoreTaskSensor(task_id="wait_task", gcore_task_id=task_id, poke_interval=POLL, deferrable=True)

    context = make_context()
    with pytest.raises(TaskDeferred) as deferral:
        sensor().execute(context)
    classpath, kwargs = stored(deferral.value)
    held = emu.add_fault("gcore", "GET", r"/cloud/v1/tasks/.*", stall=True, stall_timeout=30)

    async def stop_during_the_poll() -> None:
        running = asyncio.ensure_future(first_event(build(world, classpath, kwargs)))
        reached = await asyncio.to_thread(emu.wait_for_stalled, 1, 30.0)
        assert reached, "the trigger's poll never reached the emulator"
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert len(emu.stalled()) == 1  # the answer is still held back: the cancel did not wait for it

    asyncio.run(stop_during_the_poll())
    emu.remove_fault(held)
    emu.drop_stalled(held)
    world.now += 20
    event = asyncio.run(first_event(build(world, classpath, kwargs)))
    assert event["status"] == "done"
    assert sensor().execute_complete(context, event=event)["state"] == "FINISHED"
    assert len(emu.requests()) == 3  # poke, the cancelled poll, the poll after the restart
