"""The defaults of waiting are defined once, in ``defaults.py``, and every waiting class uses them.

Each waiting class is built with nothing but what it requires, and what it then holds (and sends
to its trigger, and waits for) must be the value in ``defaults.py``; the signatures carry the
same values, and the docstrings that quote a default must agree.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from typing import Any

import pytest
from samples import TASK_ID

from airflow_provider_projects import defaults
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
from airflow_provider_projects.sensors._base import GcoreSensor as _GcoreSensor
from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor, GcoreTaskSensor
from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger, GcoreTaskTrigger, GcoreWaitTrigger
from airflow_provider_projects.triggers.gcore_events import GcoreProjectUnlockedEventTrigger
from airflow_provider_projects.waiting import PollTolerance

NAMES = ("POLL_INTERVAL", "MAX_CONSECUTIVE_ERRORS", "DEFER_MARGIN", "LOCK_TIMEOUT", "SENSOR_TIMEOUT")


def test_the_values_suit_the_api_and_airflow() -> None:
    assert 5.0 <= defaults.POLL_INTERVAL <= 30.0  # Gcore recommends polling every 5-30 s
    assert defaults.MAX_CONSECUTIVE_ERRORS >= 1
    assert defaults.DEFER_MARGIN > defaults.POLL_INTERVAL  # room for the trigger's own timeout event
    assert (defaults.LOCK_TIMEOUT, defaults.SENSOR_TIMEOUT) == (1800.0, 7200.0)


def constructed_with_defaults() -> list[tuple[str, Any]]:
    """Every waiting class, built with nothing but what it requires: what it will use unless told."""
    return [
        ("PollTolerance", PollTolerance()),
        ("GcoreProjectUnlockedSensor", GcoreProjectUnlockedSensor(task_id="s1", project_id=1)),
        ("GcoreTaskSensor", GcoreTaskSensor(task_id="s2", gcore_task_id=TASK_ID)),
        ("GcoreReplaceProjectOperator", GcoreReplaceProjectOperator(task_id="o", project_id=1, name="abc")),
        ("GcoreTaskTrigger", GcoreTaskTrigger(gcore_task_id=TASK_ID, deadline=1.0)),
        ("GcoreProjectUnlockedTrigger", GcoreProjectUnlockedTrigger(project_id=1, deadline=1.0)),
        ("GcoreProjectUnlockedEventTrigger", GcoreProjectUnlockedEventTrigger(project_id=1)),
    ]


#: The attribute each waiting default lands in, and the default it must hold.
USED_AS = {
    "poll_interval": "POLL_INTERVAL",
    "poke_interval": "POLL_INTERVAL",
    "max_consecutive_errors": "MAX_CONSECUTIVE_ERRORS",
    "timeout": "SENSOR_TIMEOUT",
    "lock_timeout": "LOCK_TIMEOUT",
}


@pytest.mark.parametrize("name", NAMES)
def test_every_waiting_class_uses_the_defaults_module_unless_told(name: str) -> None:
    """What each class uses when a DAG author sets nothing is the value in ``defaults.py``.

    A copy of a default elsewhere (a literal in a signature, a constant of its own) would keep its
    old value when ``defaults.py`` changes: here the values are checked where they are used, so a
    copy shows the day the two differ, which is the day it matters.
    """
    seen = []
    for what, built in constructed_with_defaults():
        for attribute, default in USED_AS.items():
            if default == name and attribute in vars(built):
                assert vars(built)[attribute] == getattr(defaults, name), f"{what}.{attribute}"
                seen.append(f"{what}.{attribute}")
    if name == "DEFER_MARGIN":
        return  # added to a deferral's timeout: the sensor and operator suites check it there
    assert seen, f"no waiting class uses {name}"


def test_every_waiting_default_lands_where_it_is_used() -> None:
    # The test above would pass on classes that renamed their attributes: make sure it sees them.
    built = dict(constructed_with_defaults())
    assert vars(built["PollTolerance"])["max_consecutive_errors"] == defaults.MAX_CONSECUTIVE_ERRORS
    for sensor in ("GcoreProjectUnlockedSensor", "GcoreTaskSensor"):
        assert {k: vars(built[sensor])[k] for k in ("poke_interval", "timeout", "max_consecutive_errors")} == {
            "poke_interval": defaults.POLL_INTERVAL,
            "timeout": defaults.SENSOR_TIMEOUT,
            "max_consecutive_errors": defaults.MAX_CONSECUTIVE_ERRORS,
        }
    operator = vars(built["GcoreReplaceProjectOperator"])
    assert (operator["poll_interval"], operator["lock_timeout"]) == (defaults.POLL_INTERVAL, defaults.LOCK_TIMEOUT)
    for trigger in ("GcoreTaskTrigger", "GcoreProjectUnlockedTrigger", "GcoreProjectUnlockedEventTrigger"):
        kwargs = built[trigger].serialize()[1]
        assert (kwargs["poll_interval"], kwargs["max_consecutive_errors"]) == (
            defaults.POLL_INTERVAL,
            defaults.MAX_CONSECUTIVE_ERRORS,
        )


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (PollTolerance.__init__, {"max_consecutive_errors": defaults.MAX_CONSECUTIVE_ERRORS}),
        (
            _GcoreSensor.__init__,
            {
                "poke_interval": defaults.POLL_INTERVAL,
                "timeout": defaults.SENSOR_TIMEOUT,
                "max_consecutive_errors": defaults.MAX_CONSECUTIVE_ERRORS,
            },
        ),
        (
            GcoreWaitTrigger.__init__,
            {"poll_interval": defaults.POLL_INTERVAL, "max_consecutive_errors": defaults.MAX_CONSECUTIVE_ERRORS},
        ),
        (
            GcoreProjectUnlockedEventTrigger.__init__,
            {"poll_interval": defaults.POLL_INTERVAL, "max_consecutive_errors": defaults.MAX_CONSECUTIVE_ERRORS},
        ),
        (
            GcoreReplaceProjectOperator.__init__,
            {"poll_interval": defaults.POLL_INTERVAL, "lock_timeout": defaults.LOCK_TIMEOUT},
        ),
    ],
    ids=lambda value: getattr(value, "__qualname__", ""),
)
def test_the_signatures_carry_the_defaults(function: Any, expected: dict[str, Any]) -> None:
    parameters = inspect.signature(function).parameters
    assert {name: parameters[name].default for name in expected} == expected


@pytest.mark.parametrize(
    ("documented", "parameter", "value"),
    [
        (GcoreProjectUnlockedSensor, "poke_interval", defaults.POLL_INTERVAL),
        (GcoreProjectUnlockedSensor, "timeout", defaults.SENSOR_TIMEOUT),
        (GcoreReplaceProjectOperator, "poll_interval", defaults.POLL_INTERVAL),
        (GcoreReplaceProjectOperator, "lock_timeout", defaults.LOCK_TIMEOUT),
        (GcoreProjectUnlockedEventTrigger, "poll_interval", defaults.POLL_INTERVAL),
    ],
)
def test_the_docstrings_quote_the_defaults_as_they_are(documented: type, parameter: str, value: float) -> None:
    match = re.search(rf":param {parameter}:[^:]*?\(default (\d+)", documented.__doc__ or "")
    assert match is not None, f"{documented.__name__} does not document the default of {parameter}"
    assert float(match.group(1)) == value


def test_defaults_is_a_leaf_module_cheap_at_dag_parse_time() -> None:
    code = (
        "import sys, airflow_provider_projects.defaults; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'airflow_provider_projects')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['airflow_provider_projects', 'airflow_provider_projects.defaults']"
