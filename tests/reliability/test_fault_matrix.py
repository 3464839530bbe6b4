"""The fault matrix: every operator and sensor against every fault, with exact request counts.

Each row of ``matrix.SCENARIOS`` runs once against a fresh emulator (real HTTP on 127.0.0.1) on a
fake clock. Checked per row: the outcome (success or the typed error), the requests the emulator
received, the PUT/PATCH among them, the writes the API carried out, and every second slept.
Checked across rows: a change is written at most once (a second write only where the first
one's answer was lost, with the same body), no error message carries raw HTML, and the matrix
covers each fault for each target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_projects.errors import ProjectsApiError

from .harness import (
    GCAI_INSTRUCTIONS,
    GCAI_NAME,
    MUTATING,
    NEW_DESCRIPTION,
    NEW_NAME,
    TARGETS,
    Result,
    Scenario,
)
from .matrix import IDEMPOTENT, SCENARIOS

pytestmark = pytest.mark.integration

ROWS = [
    pytest.param(s, id=s.id, marks=pytest.mark.xfail(strict=True, reason=s.bug) if s.bug else ()) for s in SCENARIOS
]
#: What the issue asks of every target (a fault that cannot apply is replaced by its nearest kin).
REQUIRED = {
    "429-retry-after-seconds",
    "429-retry-after-date",
    "503-burst",
    "500",
    "502-html",
    "dropped",
    "read-timeout",
    "refused",
    "truncated-json",
    "missing-field",
    "lock-error",
    "404-mid-wait",
    "401-mid-wait",
}
NOT_APPLICABLE = {
    # GC AI has no locks and no waits: a revoked key and a deleted project are tested on the PATCH.
    "gcai_update": {"lock-error", "404-mid-wait", "401-mid-wait"},
    # Before deferring, the operator's requests are the blocking operator's: refused is tested there.
    "replace_deferred": {"refused"},
}
LOCKS = {"replace": "409-lock-race", "replace_deferred": "409-lock-race"}


@pytest.mark.parametrize("scenario", ROWS)
def test_scenario(scenario: Scenario, matrix_result: Callable[[Scenario], Result]) -> None:
    result = matrix_result(scenario)
    trail = "\n".join(f"  {a.method} {a.path}: {a.outcome} -> {a.decision}" for a in result.trail)
    assert (result.outcome, result.requests, result.mutating, result.applied, result.slept) == (
        scenario.outcome,
        scenario.requests,
        scenario.mutating,
        scenario.applied,
        scenario.slept,
    ), f"{result.message}\nwhat the client saw:\n{trail}"
    # Every try reached the emulator, except where nothing could (a closed port).
    assert result.attempts == (scenario.requests if scenario.attempts is None else scenario.attempts)
    for expected in scenario.message:
        assert expected in result.message


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if not s.bug], ids=lambda s: s.id)
def test_errors_are_typed_and_readable(scenario: Scenario, matrix_result: Callable[[Scenario], Result]) -> None:
    result = matrix_result(scenario)
    if result.error is None:
        return
    from airflow.sdk.exceptions import AirflowSensorTimeout

    assert isinstance(result.error, ProjectsApiError | AirflowSensorTimeout), repr(result.error)
    assert "<html" not in result.message.lower() and "<h1>" not in result.message.lower()
    assert len(result.message) < 1000


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.mutating], ids=lambda s: s.id)
def test_a_change_is_written_once(scenario: Scenario, matrix_result: Callable[[Scenario], Result]) -> None:
    """No mutating request after one that succeeded; repeats carry the same body; two writes only
    where the first one's answer was lost (then the repeat sets the same absolute values)."""
    result = matrix_result(scenario)
    mutating = [a for a in result.trail if a.method in MUTATING]
    accepted = [i for i, a in enumerate(mutating) if a.decision == "accept"]
    assert len(accepted) <= 1
    if accepted:
        assert accepted[0] == len(mutating) - 1, "a write was sent again after one succeeded"
    bodies = [entry.body for entry in result.journal if entry.method in MUTATING]
    assert all(body == bodies[0] for body in bodies)
    assert result.applied <= 1 or scenario.note == IDEMPOTENT


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.outcome == "success"], ids=lambda s: s.id)
def test_success_returns_the_final_state(scenario: Scenario, matrix_result: Callable[[Scenario], Result]) -> None:
    value: Any = matrix_result(scenario).value
    expected: dict[str, Any] = {
        "replace": {"name": NEW_NAME, "description": NEW_DESCRIPTION, "task_id": None},
        "replace_deferred": {"name": NEW_NAME, "description": NEW_DESCRIPTION, "task_id": None},
        "gcai_update": {"name": GCAI_NAME, "custom_instructions": GCAI_INSTRUCTIONS},
        "unlocked_poke": {"id": 2, "task_id": None},
        "unlocked_deferred": {"id": 2, "task_id": None},
        "task_poke": {"state": "FINISHED"},
        "task_deferred": {"state": "FINISHED"},
    }[scenario.target]
    if scenario.target.startswith("replace") and scenario.kwargs.get("name"):
        expected["name"] = scenario.kwargs["name"]
    assert isinstance(value, dict)
    assert {key: value.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if s.id.endswith((":lock", ":lock-error"))], ids=lambda s: s.id
)
def test_a_lock_holder_that_ended_in_error_is_reported(
    scenario: Scenario, matrix_result: Callable[[Scenario], Result]
) -> None:
    result = matrix_result(scenario)
    failed = scenario.id.endswith("error")
    logged = any("ended in ERROR" in text for source, text in result.texts if source.startswith("structlog"))
    if scenario.target.startswith("task"):
        assert ("Quota exceeded" in result.message) is failed
        return
    if scenario.target == "replace_deferred":
        # The triggerer waits for the project's lock to clear; how its holder ended is read (one
        # request) only when fail_on_lock_error needs it, so without it nothing is said of it.
        assert not logged
        return
    assert logged is failed
    if scenario.target.startswith("unlocked"):
        assert result.pushed["lock_task"]["state"] == ("ERROR" if failed else "FINISHED")


def test_the_matrix_covers_every_fault_for_every_target() -> None:
    keys: dict[str, set[str]] = {target: set() for target in TARGETS}
    for scenario in SCENARIOS:
        keys[scenario.target].add(scenario.id.split(":", 1)[1])
    for target, present in keys.items():
        missing = REQUIRED - NOT_APPLICABLE.get(target, set()) - present
        assert not missing, f"{target} lacks {sorted(missing)}"
        if target in LOCKS:
            assert LOCKS[target] in present
    assert {"401-revoked", "404-deleted"} <= keys["gcai_update"]
