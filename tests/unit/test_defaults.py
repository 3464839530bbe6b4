"""The defaults of waiting are defined once, in ``defaults.py``, and every waiting class uses them.

Parameter defaults are bound when a function is defined, so "uses ``defaults.*``" cannot be seen
by patching the module: the source itself is read (every default of a waiting parameter is
``None`` or ``defaults.<NAME>``, and no other module defines a constant of that name), the
signatures are checked against the values, and the docstrings that quote a default must agree.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_projects import defaults
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
from airflow_provider_projects.sensors._base import GcoreSensor as _GcoreSensor
from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor
from airflow_provider_projects.triggers.gcore import GcoreWaitTrigger
from airflow_provider_projects.triggers.gcore_events import GcoreProjectUnlockedEventTrigger
from airflow_provider_projects.waiting import PollTolerance

PACKAGE = Path(defaults.__file__).parent
NAMES = ("POLL_INTERVAL", "MAX_CONSECUTIVE_ERRORS", "DEFER_MARGIN", "LOCK_TIMEOUT", "SENSOR_TIMEOUT")
#: Parameters whose default is a waiting default (``timeout`` of a single HTTP call defaults to None).
WAITING_PARAMETERS = {"poll_interval", "poke_interval", "max_consecutive_errors", "timeout", "lock_timeout"}
WAITING_MODULES = (
    "waiting.py",
    "polling/driver.py",
    "polling/listeners.py",
    "hooks/gcore.py",
    "sensors/_base.py",
    "sensors/gcore.py",
    "operators/gcore.py",
    "triggers/gcore.py",
    "triggers/gcore_events.py",
)


def test_the_values_suit_the_api_and_airflow() -> None:
    assert 5.0 <= defaults.POLL_INTERVAL <= 30.0  # Gcore recommends polling every 5-30 s
    assert defaults.MAX_CONSECUTIVE_ERRORS >= 1
    assert defaults.DEFER_MARGIN > defaults.POLL_INTERVAL  # room for the trigger's own timeout event
    assert (defaults.LOCK_TIMEOUT, defaults.SENSOR_TIMEOUT) == (1800.0, 7200.0)


def parameter_defaults(path: Path) -> list[tuple[str, str, ast.expr]]:
    """(function, parameter, default) for every waiting parameter with a default in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
        found += [(node.name, arg.arg, default) for arg, default in pairs if arg.arg in WAITING_PARAMETERS]
    return found


@pytest.mark.parametrize("module", WAITING_MODULES)
def test_every_waiting_default_is_taken_from_defaults(module: str) -> None:
    for function, parameter, default in parameter_defaults(PACKAGE / module):
        is_none = isinstance(default, ast.Constant) and default.value is None
        from_defaults = (
            isinstance(default, ast.Attribute)
            and isinstance(default.value, ast.Name)
            and default.value.id == "defaults"
            and default.attr in NAMES
        )
        assert is_none or from_defaults, f"{module}: {function}({parameter}={ast.unparse(default)})"


def test_the_scan_sees_the_waiting_parameters() -> None:
    # The test above would pass on a module it cannot read: make sure it reads what it should.
    seen = {(f, p) for module in WAITING_MODULES for f, p, _ in parameter_defaults(PACKAGE / module)}
    assert {("__init__", "poll_interval"), ("__init__", "poke_interval"), ("__init__", "lock_timeout")} <= seen
    assert ("__init__", "max_consecutive_errors") in seen


def test_no_other_module_defines_a_default_of_its_own() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "defaults.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[Any] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    name = target.id.removeprefix("DEFAULT_")
                    assert name not in NAMES, f"{path.relative_to(PACKAGE)} defines {target.id}"


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
