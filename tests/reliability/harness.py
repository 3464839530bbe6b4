"""Runs one fault-matrix scenario against a fresh emulator and records everything it did.

Shared by the tests in this folder and by ``scripts/reliability_report.py``, so it patches with
``unittest.mock`` (not pytest fixtures) and cleans up after itself.

Nothing sleeps for real. One fake clock (``World``) drives everything time-based:

* the emulator (``ProjectsEmulator(clock=...)``): locks end as fake time passes;
* the provider's one seam for time, ``_clock``: its wall clock, both sleeps (retry pauses, lock
  waits, trigger polls) and a fixed jitter (0.5), so an HTTP-date ``Retry-After`` is deterministic;
* ``hooks.base.HttpCore`` is replaced by a subclass that records each ``decide()`` call, i.e.
  every attempt the client made, even one that never reached a server;
* poke mode is driven here: ``poke()``, then ``poke_interval`` on the fake clock, until done.

Read timeouts are the one real wait: the connection's ``timeout`` extra (1 s) against an
emulator ``delay`` (2.5 s): generous, so a loaded CI machine does not time out a healthy request.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import socket
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import TaskDeferred
from structlog.testing import capture_logs

from airflow_provider_projects import _clock
from airflow_provider_projects._http.core import Accept, GiveUp, HttpCore, Retry
from airflow_provider_projects._http.wire import TransportFailure
from airflow_provider_projects.hooks import base as hooks_base
from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor, GcoreTaskSensor
from projects_emulator import ProjectsEmulator

#: Where the fake clock starts (an epoch in 2030: far from the real time on purpose, so any code
#: reading the real clock where it should read the injected one shows up as a wrong deadline).
START = 1_900_000_000.0
#: Gcore's current edition (PUT answers 405): the default replace sends one PATCH, which every
#: edition lists, so each fault on the write is counted on the API as it is today; the rows about
#: the 2026-05 edition (PUT still listed) set it.
MATRIX_EDITION = "2026-08"
#: The Gcore project every scenario works on (seeded: "analytics", "Dashboards and reports").
GCORE_PID = 2
NEW_NAME = "analytics-2026"
NEW_DESCRIPTION = "Q4 dashboards"
#: The GC AI project (seeded, organisation-wide) and the change sent to it.
GCAI_PID = ProjectsEmulator.gcai_project_ids[0]
GCAI_NAME = "Vendor: Acme MSA (2026)"
GCAI_INSTRUCTIONS = "Cite clause numbers and dates."
POLL = 5.0
MUTATING = frozenset({"PUT", "PATCH", "POST", "DELETE"})
#: A sensor that is still waiting after this many pokes fails the scenario.
MAX_POKES = 40
MAX_DEFERRALS = 10
SECRET_WINDOW = 8

Step = Callable[["World"], None]


@dataclass(frozen=True)
class Scenario:
    """One row of the fault matrix: what to break, what must happen, and what it may cost.

    ``requests`` and ``mutating`` count what the emulator received (its journal); ``applied``
    counts the writes the emulated API carried out; ``slept`` is every pause on the fake clock
    (HTTP backoff, poll and poke intervals). ``attempts`` is what the client tried, when it differs
    from ``requests`` (nothing reaches a closed port). ``bug`` marks a row whose expectation the
    code does not meet yet (its test is a strict xfail).
    """

    id: str
    target: str
    fault: str
    outcome: str
    requests: int
    mutating: int
    applied: int
    slept: float
    setup: tuple[Step, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    refused: bool = False
    attempts: int | None = None
    message: tuple[str, ...] = ()
    note: str = ""
    bug: str | None = None
    #: The connections' keys (Gcore, GC AI) when not the emulator's own (which it accepts).
    keys: tuple[str, str] | None = None


@dataclass
class Attempt:
    """One try of one request, as the client's HTTP core judged it."""

    method: str
    path: str
    outcome: str
    decision: str


@dataclass
class Result:
    """What a scenario did; ``texts`` is everything it exposed (for the secrets audit)."""

    scenario: Scenario
    outcome: str
    error: BaseException | None
    value: Any
    requests: int
    mutating: int
    applied: int
    attempts: int
    slept: float
    backoff: float
    journal: list[Any]
    pushed: dict[str, Any]
    trail: list[Attempt]
    texts: list[tuple[str, str]]
    secrets: tuple[str, ...]
    seconds: float

    @property
    def message(self) -> str:
        return "" if self.error is None else str(self.error)


class World:
    """The fake clock, the record of sleeps and attempts, and the texts a run exposed."""

    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []
        self.backoff: list[float] = []
        self.trail: list[Attempt] = []
        self.texts: list[tuple[str, str]] = []
        self.writes = 0
        self.task_id: str | None = None
        self.emu: ProjectsEmulator | None = None
        self._actions: list[tuple[int, Step]] = []

    # -- time ---------------------------------------------------------------------------------
    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)

    # -- what the client saw --------------------------------------------------------------------
    def after_answers(self, count: int, action: Step) -> None:
        """Run ``action`` right after the client has judged its ``count``-th answer (or failure)."""
        self._actions.append((count, action))

    def judged(self, method: str, path: str, outcome: Any, decision: Any) -> None:
        seen = outcome.kind.value if isinstance(outcome, TransportFailure) else f"HTTP {outcome.status}"
        if isinstance(decision, Retry):
            self.backoff.append(decision.delay)
            verdict = f"retry in {decision.delay:g} s"
        elif isinstance(decision, GiveUp):
            verdict = f"give up: {type(decision.error).__name__}"
        else:
            verdict = "accept"
        self.trail.append(Attempt(method, path, seen, verdict))
        for count, action in list(self._actions):
            if count == len(self.trail):
                self._actions.remove((count, action))
                action(self)

    # -- audit material -------------------------------------------------------------------------
    def note(self, source: str, value: Any) -> None:
        try:
            text = value if isinstance(value, str) else repr(value)
        except Exception as exc:  # a repr that fails is itself worth seeing
            text = f"<repr failed: {exc!r}>"
        self.texts.append((source, text))

    def note_exception(self, error: BaseException) -> None:
        """The error as a user, a log line, a pickle or a crash reporter would see it."""
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self.note("error.str", str(current))
            self.note("error.repr", current)
            self.note("error.args", current.args)
            self.note("error.vars", vars(current) if hasattr(current, "__dict__") else {})
            self.note("error.traceback", "".join(traceback.format_exception(current, chain=False)))
            tb = current.__traceback__
            while tb is not None:
                frame = tb.tb_frame
                name = frame.f_code.co_filename
                if "airflow_provider_projects" in name and "emulator" not in name:
                    for local, value in frame.f_locals.items():
                        self.note(f"error.locals.{frame.f_code.co_name}.{local}", value)
                tb = tb.tb_next
            current = current.__cause__ or current.__context__


class FakeTI:
    """``context["ti"]``: records XCom pushes."""

    def __init__(self) -> None:
        self.try_number = 1
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def __repr__(self) -> str:
        return f"FakeTI(xcoms={self.xcoms!r})"


def make_context(**extra: Any) -> dict[str, Any]:
    return {"ti": FakeTI(), "params": {}, "ds": "2026-01-01", **extra}


# -- patches ------------------------------------------------------------------------------------------


def recording_core(world: World) -> type[HttpCore]:
    class RecordingCore(HttpCore):
        """The real core with a record of each judgement."""

        def decide(self, request: Any, attempt: int, outcome: Any) -> Retry | GiveUp | Accept:
            decision = super().decide(request, attempt, outcome)
            world.judged(request.method, request.path, outcome, decision)
            return decision

    return RecordingCore


@contextlib.contextmanager
def injected(world: World) -> Iterator[None]:
    """Every clock and sleep of the provider (its one seam, ``_clock``) pointed at ``world``."""
    with (
        mock.patch.object(_clock, "now", world.clock),
        mock.patch.object(_clock, "sleep", world.sleep),
        mock.patch.object(_clock, "asleep", world.async_sleep),
        mock.patch.object(_clock, "jitter", lambda: 0.5),
        mock.patch.object(hooks_base, "HttpCore", recording_core(world)),
    ):
        yield


class _Collector(logging.Handler):
    """Every stdlib log record of the run (the emulator's own server logs excepted)."""

    LOGGERS = ("", "airflow", "airflow.task", "airflow_provider_projects", "httpx", "httpcore", "urllib3", "requests")

    def __init__(self, world: World) -> None:
        super().__init__(logging.DEBUG)
        self.world = world
        self.seen: set[int] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if id(record) in self.seen or record.name.startswith("projects_emulator"):
            return
        self.seen.add(id(record))
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg!r} % {record.args!r}"
        self.world.note(f"log.{record.name}", text)
        if record.args:
            self.world.note(f"log.{record.name}.args", record.args)
        if record.exc_info and record.exc_info[1] is not None:
            self.world.note_exception(record.exc_info[1])


@contextlib.contextmanager
def captured(world: World) -> Iterator[None]:
    """All log output (stdlib and structlog) and warnings go into ``world.texts``."""
    handler = _Collector(world)
    loggers = [logging.getLogger(name) for name in _Collector.LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        with capture_logs() as entries, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                for entry in entries:
                    world.note(f"structlog.{entry.get('log_level')}", entry)
                    if isinstance(entry.get("exc_info"), BaseException):
                        world.note_exception(entry["exc_info"])
                for warning in caught:
                    world.note("warning", f"{warning.category.__name__}: {warning.message}")
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connection_env(
    emu: ProjectsEmulator,
    *,
    timeout: float | None = None,
    refused: bool = False,
    keys: tuple[str, str] | None = None,
) -> dict[str, str]:
    """``AIRFLOW_CONN_GCORE_DEFAULT`` / ``..._GCAI_DEFAULT`` for the emulator (or a closed port)."""
    gcore_key, gcai_key = keys or (emu.gcore_key, emu.gcai_org_key)
    gcore_url, gcai_url = emu.gcore_url, emu.gcai_url
    if refused:
        dead = f"http://127.0.0.1:{closed_port()}"
        gcore_url, gcai_url = dead, dead + "/api/external/v1"
    extra = {} if timeout is None else {"timeout": timeout}
    gcore = {"conn_type": "gcore", "host": gcore_url, "password": gcore_key, "extra": extra}
    gcai = {"conn_type": "gcai", "host": gcai_url, "password": gcai_key, "extra": extra}
    return {
        "AIRFLOW_CONN_GCORE_DEFAULT": json.dumps(gcore),
        "AIRFLOW_CONN_GCAI_DEFAULT": json.dumps(gcai),
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "False",
    }


def count_writes(emu: ProjectsEmulator, world: World) -> None:
    """Count the writes each emulated API carries out (the emulator's stores, this instance only)."""
    backend = emu._backend
    for store in (backend.gcore, backend.gcai):
        original = store.write

        def write(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            world.writes += 1
            return _original(*args, **kwargs)

        store.write = write  # type: ignore[method-assign]


# -- driving operators, sensors and triggers -----------------------------------------------------------


def import_string(classpath: str) -> Any:
    """What the triggerer does with a serialized classpath."""
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)


def rebuild_trigger(world: World, deferred: TaskDeferred) -> Any:
    """Serialize the deferral's trigger and build it again from its classpath and kwargs, as the triggerer does."""
    classpath, kwargs = deferred.trigger.serialize()
    world.note("trigger.serialize", (classpath, kwargs))
    world.note("trigger.repr", deferred.trigger)
    world.note("deferral.kwargs", deferred.kwargs)
    world.note("deferral.json", json.dumps(kwargs))  # must be JSON-safe: it goes to the database
    return import_string(classpath)(**kwargs)


async def first_event(trigger: Any) -> dict[str, Any]:
    """Run a trigger until its first event, as the triggerer does, then close it (``asyncio.run``
    closes the loop's HTTP session when the loop shuts down)."""
    run = trigger.run()
    try:
        event = await run.__anext__()
    finally:
        await run.aclose()
    payload: dict[str, Any] = event.payload
    return payload


def run_deferrable(world: World, make: Callable[[], Any], context: dict[str, Any]) -> Any:
    """``execute``, then for each deferral: trigger (rebuilt from ``serialize()``), then the resume
    method on a fresh instance (Airflow resumes a deferred task in a new process)."""
    try:
        return make().execute(context)
    except TaskDeferred as first:
        deferred = first
    for _ in range(MAX_DEFERRALS):
        trigger = rebuild_trigger(world, deferred)
        event = asyncio.run(first_event(trigger))
        world.note("trigger.event", event)
        resumed = make()
        try:
            return getattr(resumed, deferred.method_name)(context, event=event, **(deferred.kwargs or {}))
        except TaskDeferred as again:
            deferred = again
    raise AssertionError(f"still deferring after {MAX_DEFERRALS} deferrals")


def run_pokes(world: World, sensor: Any, context: dict[str, Any]) -> Any:
    """Poke mode without Airflow's loop: poke, then ``poke_interval`` on the fake clock, until done."""
    for _ in range(MAX_POKES):
        result = sensor.poke(context)
        if isinstance(result, PokeReturnValue) and result.is_done:
            return result.xcom_value
        if result is True:
            return None
        world.sleep(sensor.poke_interval)
    raise AssertionError(f"the sensor is still waiting after {MAX_POKES} pokes")


class Targets:
    """Builds each operator or sensor the way a DAG would, and runs it the way Airflow would."""

    def __init__(self, world: World, scenario: Scenario, context: dict[str, Any]) -> None:
        self.world = world
        self.scenario = scenario
        self.context = context
        self.made: list[Any] = []

    def _ready(self, task: Any) -> Any:
        task.render_template_fields(self.context)
        self.made.append(task)
        return task

    def replace_op(self, deferrable: bool) -> GcoreReplaceProjectOperator:
        args: dict[str, Any] = {
            "task_id": "replace_project",
            "project_id": GCORE_PID,
            "name": NEW_NAME,
            "description": NEW_DESCRIPTION,
            "poll_interval": POLL,
            "lock_timeout": 120,
            "deferrable": deferrable,
            **self.scenario.kwargs,
        }
        return self._ready(GcoreReplaceProjectOperator(**args))

    def gcai_op(self) -> GcaiUpdateProjectOperator:
        args: dict[str, Any] = {
            "task_id": "update_gcai_project",
            "project_id": GCAI_PID,
            "name": GCAI_NAME,
            "custom_instructions": GCAI_INSTRUCTIONS,
            **self.scenario.kwargs,
        }
        return self._ready(GcaiUpdateProjectOperator(**args))

    def unlocked_sensor(self, deferrable: bool) -> GcoreProjectUnlockedSensor:
        args: dict[str, Any] = {
            "task_id": "wait_unlocked",
            "project_id": GCORE_PID,
            "poke_interval": POLL,
            "deferrable": deferrable,
            **self.scenario.kwargs,
        }
        return self._ready(GcoreProjectUnlockedSensor(**args))

    def task_sensor(self, deferrable: bool) -> GcoreTaskSensor:
        assert self.world.task_id is not None, "task sensor scenarios need a lock (a Gcore task) in their setup"
        args: dict[str, Any] = {
            "task_id": "wait_task",
            "gcore_task_id": self.world.task_id,
            "poke_interval": POLL,
            "deferrable": deferrable,
            **self.scenario.kwargs,
        }
        return self._ready(GcoreTaskSensor(**args))

    def run(self) -> Any:
        target, world, context = self.scenario.target, self.world, self.context
        if target == "replace":
            return self.replace_op(False).execute(context)
        if target == "replace_deferred":
            return run_deferrable(world, lambda: self.replace_op(True), context)
        if target == "gcai_update":
            return self.gcai_op().execute(context)
        if target == "unlocked_poke":
            return run_pokes(world, self.unlocked_sensor(False), context)
        if target == "unlocked_deferred":
            return run_deferrable(world, lambda: self.unlocked_sensor(True), context)
        if target == "task_poke":
            return run_pokes(world, self.task_sensor(False), context)
        if target == "task_deferred":
            return run_deferrable(world, lambda: self.task_sensor(True), context)
        raise ValueError(f"unknown target {target!r}")

    def note_objects(self) -> None:
        """Reprs of every operator, sensor, hook and transport, and the rendered template fields."""
        for task in self.made:
            self.world.note("task.repr", task)
            for name in task.template_fields:
                self.world.note(f"template.{name}", getattr(task, name))
            hook = getattr(task, "_hook", None)
            if hook is not None:
                self.world.note("hook.repr", hook)
                self.world.note("hook.vars", vars(hook))
                if "transport" in vars(hook):
                    self.world.note("transport.repr", hook.transport)
                    self.world.note("core.repr", hook.transport.core)
                    self.world.note("core.policy", hook.transport.core.policy)


TARGETS: dict[str, str] = {
    "replace": "GcoreReplaceProjectOperator",
    "replace_deferred": "GcoreReplaceProjectOperator (deferrable)",
    "gcai_update": "GcaiUpdateProjectOperator",
    "unlocked_poke": "GcoreProjectUnlockedSensor (poke)",
    "unlocked_deferred": "GcoreProjectUnlockedSensor (deferrable)",
    "task_poke": "GcoreTaskSensor (poke)",
    "task_deferred": "GcoreTaskSensor (deferrable)",
}


def run_scenario(scenario: Scenario) -> Result:
    """Run one scenario on a fresh emulator and fake clock; never raises for the target's own errors."""
    world = World()
    with ProjectsEmulator(clock=world.clock, edition=MATRIX_EDITION) as emu:
        world.emu = emu
        count_writes(emu, world)
        env = connection_env(emu, timeout=scenario.timeout, refused=scenario.refused, keys=scenario.keys)
        context = make_context()
        targets = Targets(world, scenario, context)
        value: Any = None
        error: BaseException | None = None
        started = time.perf_counter()
        with mock.patch.dict(os.environ, env), injected(world), captured(world):
            for step in scenario.setup:
                step(world)
            try:
                value = targets.run()
            except Exception as exc:
                error = exc
        seconds = time.perf_counter() - started
        journal = emu.requests()
        secrets = scenario.keys or (emu.gcore_key, emu.gcai_org_key)
    targets.note_objects()
    world.note("xcom.return_value", value)
    with contextlib.suppress(TypeError, ValueError):
        world.note("xcom.return_value.json", json.dumps(value))
    world.note("xcom.pushed", context["ti"].xcoms)
    if error is not None:
        world.note_exception(error)
    return Result(
        scenario=scenario,
        outcome="success" if error is None else type(error).__name__,
        error=error,
        value=value,
        requests=len(journal),
        mutating=sum(1 for entry in journal if entry.method in MUTATING),
        applied=world.writes,
        attempts=len(world.trail),
        slept=round(sum(world.slept), 3),
        backoff=round(sum(world.backoff), 3),
        journal=journal,
        pushed=context["ti"].xcoms,
        trail=world.trail,
        texts=world.texts,
        secrets=secrets,
        seconds=seconds,
    )


# -- the secrets audit ---------------------------------------------------------------------------------


def windows(secret: str, size: int = SECRET_WINDOW) -> set[str]:
    """Every ``size``-character substring of ``secret`` (the whole key if it is shorter)."""
    if len(secret) <= size:
        return {secret}
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


#: The shortest prefix or suffix of a key, next to asterisks, that counts as a masked echo of it.
MASKED_PIECE = 4


def masked_echoes(secret: str, size: int = MASKED_PIECE) -> set[str]:
    """What a server's masked echo of ``secret`` shows: a prefix before, or a suffix after, asterisks.

    Gcore answers a wrong key with "Invalid <APIKey> authentication token: AUDIT*****7c1e0": its
    first and last five characters, shorter than any window :func:`windows` looks for.
    """
    if len(secret) <= size:
        return set()
    return {secret[:n] + "**" for n in range(size, len(secret))} | {
        "**" + secret[-n:] for n in range(size, len(secret))
    }


def leaks(texts: list[tuple[str, str]], secrets: tuple[str, ...], size: int = SECRET_WINDOW) -> list[str]:
    """Each text that contains a secret, any ``size``-character piece of one, or a masked echo of one."""
    pieces = set().union(*(windows(secret, size) | masked_echoes(secret) for secret in secrets))
    found = []
    for source, text in texts:
        for piece in sorted(pieces):
            if piece in text:
                at = text.index(piece)
                found.append(f"{source}: {piece!r} in ...{text[max(0, at - 60) : at + 60]!r}...")
                break
    return found
