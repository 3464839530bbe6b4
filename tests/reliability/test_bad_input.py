"""Bad input: every parameter, every kind of wrong value, a clear error naming it, zero requests.

Two moments: literal values are refused when the operator is built (DAG parsing), templated ones
after a real ``render_template_fields`` with the DAG's Jinja environment (string and native
rendering), when the task runs. Either way ``InvalidInputError.field`` names the parameter, the
message starts with it, and the emulator (which every connection points at) received nothing.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_projects.errors import ConnectionNotFoundError, ConnectionSetupError, InvalidInputError
from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor, GcoreTaskSensor
from projects_emulator import ProjectsEmulator

from .harness import GCAI_PID, World, first_event, make_context

pytestmark = pytest.mark.integration

UUID = "7244e161-664c-4afd-a34e-7003eac4d949"
HEX = UUID.replace("-", "")


def replace(**kwargs: Any) -> GcoreReplaceProjectOperator:
    args: dict[str, Any] = {"task_id": "replace", "project_id": 2, "name": "analytics-2026", **kwargs}
    return GcoreReplaceProjectOperator(**args)


def gcai(**kwargs: Any) -> GcaiUpdateProjectOperator:
    args: dict[str, Any] = {"task_id": "update", "project_id": GCAI_PID, "name": "Renamed", **kwargs}
    return GcaiUpdateProjectOperator(**args)


def unlocked(**kwargs: Any) -> GcoreProjectUnlockedSensor:
    args: dict[str, Any] = {"task_id": "wait_unlocked", "project_id": 2, **kwargs}
    return GcoreProjectUnlockedSensor(**args)


def task(**kwargs: Any) -> GcoreTaskSensor:
    args: dict[str, Any] = {"task_id": "wait_task", "gcore_task_id": UUID, **kwargs}
    return GcoreTaskSensor(**args)


MAKERS: dict[str, Callable[..., Any]] = {"replace": replace, "gcai": gcai, "unlocked": unlocked, "task": task}


# (maker, parameter, value, the field the error must name)
LITERALS: list[Any] = [
    # GcoreReplaceProjectOperator.project_id: a positive int64, or its decimal text
    *[("replace", "project_id", v, "project_id") for v in (None, 1.5, 2.0, True, [2], b"2", "", " ", "\t")],
    *[("replace", "project_id", v, "project_id") for v in ("9" * 30, 2**63, 0, -1, "-1", "0", "abc", "12a")],
    *[("replace", "project_id", v, "project_id") for v in ("1e3", "0x1f", "+5", "1_000", " 12", "12 ", "\u0662")],
    pytest.param("replace", "project_id", "12\n", "project_id", id="replace-project_id-nl"),
    # .name: 3-63 characters of Gcore's pattern
    *[("replace", "name", v, "name") for v in (None, 5, b"abc", "", " ", "   ", "ab", "a" * 64)],
    *[("replace", "name", v, "name") for v in ("-abc", "abc-", "abc\n", "ab\tc", "proj\u00e9t", "a/b", "<b>x</b>")],
    # .description: None or at most 255 characters
    *[("replace", "description", v, "description") for v in (5, ["a"], {"a": 1}, True, "x" * 256)],
    # .poll_interval / .lock_timeout: seconds > 0
    *[
        ("replace", field, v, field)
        for field in ("poll_interval", "lock_timeout")
        for v in (0, -1, "5", None, True, math.nan, [5])
    ],
    *[
        pytest.param("replace", field, math.inf, field, id=f"replace-{field}-inf")
        for field in ("poll_interval", "lock_timeout")
    ],
    # GcaiUpdateProjectOperator.project_id: a UUID
    *[("gcai", "project_id", v, "project_id") for v in (None, 5, "", " ", "abc", UUID[:-1], UUID + "0", UUID + "\n")],
    *[("gcai", "project_id", v, "project_id") for v in (UUID[:-1] + "g", "{" + HEX + "}", UUID.replace("-", "_"))],
    *[
        pytest.param("gcai", "project_id", v, "project_id", id=f"gcai-project_id-{label}")
        for v, label in (("urn:" + HEX, "urn"), (HEX + "----", "hyphens-at-the-end"))
    ],
    # .name: a string, not empty after trimming
    *[("gcai", "name", v, "name") for v in (None, 5, ["x"], "", " ", "\n\t")],
    # .description / .custom_instructions: a string, or None to clear
    *[
        ("gcai", field, v, field)
        for field in ("description", "custom_instructions")
        for v in (5, 1.5, True, ["x"], {"a": 1}, b"x")
    ],
    # GcoreProjectUnlockedSensor.project_id, GcoreTaskSensor.gcore_task_id
    *[("unlocked", "project_id", v, "project_id") for v in (None, 1.5, "", " ", "abc", 0, -3, "9" * 20)],
    *[("task", "gcore_task_id", v, "gcore_task_id") for v in (None, 5, "", " ", "abc", UUID[:-1], UUID + "0")],
    # the sensors' own knobs
    *[
        pytest.param(maker, "max_consecutive_errors", v, "max_consecutive_errors")
        for maker in ("unlocked", "task")
        for v in ("x", None, True)
    ],
    *[pytest.param(maker, "poke_interval", 0, "poke_interval") for maker in ("unlocked", "task")],
]


@pytest.mark.parametrize(("maker", "param", "value", "field"), LITERALS)
def test_a_bad_literal_is_refused_when_the_dag_is_parsed(
    maker: str, param: str, value: Any, field: str, emu: ProjectsEmulator
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        made = MAKERS[maker]
        made(**{param: value})
    assert refused.value.field == field
    # A DAG of forty tasks names the one at fault: "Task 'replace': project_id must be ...".
    task_id = {"replace": "replace", "gcai": "update", "unlocked": "wait_unlocked", "task": "wait_task"}[maker]
    assert str(refused.value).startswith(f"Task {task_id!r}: {field}")
    assert isinstance(refused.value, AirflowFailException)  # no Airflow retries for bad input
    assert emu.requests() == []


def test_an_update_with_nothing_to_change_is_refused(emu: ProjectsEmulator) -> None:
    with pytest.raises(InvalidInputError) as refused:
        GcaiUpdateProjectOperator(task_id="update", project_id=GCAI_PID)
    assert refused.value.field == "name, description, custom_instructions"
    assert emu.requests() == []


@pytest.mark.parametrize(
    ("maker", "param", "value"),
    [
        ("unlocked", "poke_interval", -1),
        ("unlocked", "poke_interval", "5"),
        ("task", "timeout", -1),
        ("task", "timeout", "60"),
    ],
)
def test_airflows_own_sensor_checks_name_the_parameter(maker: str, param: str, value: Any) -> None:
    # poke_interval is checked by this provider first (it also refuses 0), timeout by Airflow.
    with pytest.raises((ValueError, InvalidInputError), match=param):
        MAKERS[maker](**{param: value})


def test_a_bad_literal_next_to_a_template_is_still_refused_at_parse_time() -> None:
    with pytest.raises(InvalidInputError) as refused:
        GcaiUpdateProjectOperator(task_id="update", project_id=GCAI_PID, name="  ", description="{{ params.d }}")
    assert refused.value.field == "name"


# -- templates rendered into something invalid, refused when the task runs ----------------------------------

# (maker, parameter, rendered value, native rendering?)
TEMPLATED: list[tuple[str, str, Any, bool]] = [
    *[("replace", "project_id", v, False) for v in ("abc", "0", "-2", "1.5", "", " ", "9" * 30, "None")],
    *[("replace", "project_id", v, True) for v in (1.5, 0, True, [2])],
    *[("replace", "name", v, False) for v in ("", "   ", "ab", "a" * 64, "-abc", "None!")],
    ("replace", "name", 12345, True),
    ("replace", "description", "x" * 256, False),
    ("replace", "description", 42, True),
    *[("gcai", "project_id", v, False) for v in ("abc", "", " ", UUID[:-1], "None")],
    ("gcai", "project_id", 5, True),
    *[("gcai", "name", v, False) for v in ("", "   ", "\n")],
    ("gcai", "name", ["x"], True),
    ("gcai", "description", 5, True),
    ("gcai", "custom_instructions", {"a": 1}, True),
    *[("unlocked", "project_id", v, False) for v in ("abc", "0", "", "12a")],
    ("unlocked", "project_id", 2.5, True),
    *[("task", "gcore_task_id", v, False) for v in ("abc", "", UUID + "0", "None")],
    ("task", "gcore_task_id", 7, True),
]


CASES = [
    pytest.param(maker, param, value, native, deferrable, id=f"{maker}-{param}-{value!r:.20}-{mode}")
    for maker, param, value, native in TEMPLATED
    for deferrable, mode in ((False, "blocking"), (True, "deferrable"))
    if not (maker == "gcai" and deferrable)  # GcaiUpdateProjectOperator never defers
]


@pytest.mark.parametrize(("maker", "param", "value", "native", "deferrable"), CASES)
def test_a_template_rendering_to_a_bad_value_is_refused_before_any_request(
    *, maker: str, param: str, value: Any, native: bool, deferrable: bool, emu: ProjectsEmulator, world: World
) -> None:
    emu.lock_gcore_project(2, seconds=12)  # a waiting operator or sensor would poll if it got that far
    kwargs: dict[str, Any] = {param: "{{ params.value }}"}
    if maker != "gcai":
        kwargs["deferrable"] = deferrable
    with DAG(f"bad_input_{maker}_{param}", schedule=None, render_template_as_native_obj=native) as dag:
        op = MAKERS[maker](**kwargs)
    context = make_context(params={"value": value}, task=op)
    op.render_template_fields(context, jinja_env=dag.get_template_env())
    assert getattr(op, param) == (value if native else str(value))
    with pytest.raises(InvalidInputError) as refused:
        op.execute(context)
    assert refused.value.field == param
    assert str(refused.value).startswith(param)
    assert emu.requests() == []


def test_a_deferred_wait_never_polls_back_to_back(emu: ProjectsEmulator, world: World) -> None:
    """What poke_interval=0 does today: the trigger polls with no pause at all (here stopped after 20)."""
    task_id = emu.lock_gcore_project(2, seconds=None)
    try:
        sensor = task(gcore_task_id=task_id, poke_interval=0, deferrable=True)
    except InvalidInputError:
        return  # refused up front: nothing can hammer the API
    with pytest.raises(TaskDeferred) as deferral:
        sensor.execute(make_context())
    trigger: Any = deferral.value.trigger
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) >= 20:
            raise asyncio.CancelledError

    trigger.clock, trigger.sleep = world.clock, pause
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(first_event(trigger))
    assert min(pauses) > 0, f"{len(emu.requests())} requests, pauses {sorted(set(pauses))}"


# -- the connection is input too -----------------------------------------------------------------------------

WITH_KEY = {"conn_type": "gcore", "host": "{url}", "password": "{key}"}
BAD_CONNECTIONS = [
    ("missing", None, "no_such_conn"),
    ("no key", {"conn_type": "gcore", "host": "{url}"}, "has no"),
    ("key in login", {"conn_type": "gcore", "host": "{url}", "login": "{key}"}, "Login field"),
    *[(f"timeout {v!r}", {**WITH_KEY, "extra": {"timeout": v}}, "timeout") for v in ("abc", -1, 0, 3601, True)],
    *[
        (f"max_retries {v!r}", {**WITH_KEY, "extra": {"max_retries": v}}, "max_retries")
        for v in ("abc", -1, 11, 2.5, True)
    ],
]


@pytest.mark.parametrize(("label", "conn", "mentions"), BAD_CONNECTIONS, ids=[c[0] for c in BAD_CONNECTIONS])
def test_a_bad_connection_is_named_and_nothing_is_sent(
    label: str, conn: dict[str, Any] | None, mentions: str, emu: ProjectsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    conn_id = "no_such_conn" if conn is None else "bad_conn"
    if conn is not None:
        text = json.dumps(conn).replace("{url}", emu.gcore_url).replace("{key}", emu.gcore_key)
        monkeypatch.setenv("AIRFLOW_CONN_BAD_CONN", text)
    for op in (
        replace(gcore_conn_id=conn_id, deferrable=False),
        unlocked(gcore_conn_id=conn_id, deferrable=False),
        unlocked(gcore_conn_id=conn_id, deferrable=True),
    ):
        # A missing connection is retried by the task's retries (the SDK also reports one it could not
        # read, during a database restart, as missing); a malformed one fails the task at once.
        with pytest.raises(ConnectionNotFoundError if conn is None else ConnectionSetupError) as refused:
            op.execute(make_context())
        assert mentions in str(refused.value)
        assert conn_id in str(refused.value)
        assert emu.gcore_key not in str(refused.value)
    assert emu.requests() == []
