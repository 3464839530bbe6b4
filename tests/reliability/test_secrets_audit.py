"""Secrets audit: the connection's API key appears nowhere a user, a log or the database could see.

Every run of the fault matrix (every operator and sensor, through success and every failure
path) collects what it exposed: every stdlib log record at DEBUG (root, ``airflow.*``, the
provider, ``httpx``/``httpcore``/``urllib3``) and every structlog event (``self.log`` of tasks and
hooks in the Task SDK), warnings, XCom values (returned and pushed), each error's ``str``,
``repr``, ``args``, attributes, traceback and the locals of the provider's frames in it (the whole
cause/context chain), trigger ``serialize()`` kwargs, trigger events, the reprs of operators,
sensors, hooks, transports and HTTP cores, the hooks' attributes, and the rendered template
fields. No 8-character piece of either key may appear in any of it, and no masked echo of one:
a prefix or suffix of four or more characters next to asterisks, which is how Gcore quotes a
wrong key back ("AUDIT*****7c1e0").

The emulator accepts only its own keys (``emu-gcore-key-0001``, ``gcai_emulator_org_key``: there
is no API to register others), so those are audited on every path of the matrix; the distinctive
keys ``AUDIT-GCORE-77c1e0`` and ``gcai_AUDIT_5f3e9a7b`` are audited on the rejected-key paths.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.hooks.gcai import GcaiHook
from airflow_provider_projects.hooks.gcore import GcoreHook
from projects_emulator import ProjectsEmulator

from .harness import TARGETS, Result, Scenario, leaks, run_scenario, windows
from .matrix import SCENARIOS, lock

pytestmark = pytest.mark.integration

GCORE_AUDIT_KEY = "AUDIT-GCORE-77c1e0"
GCAI_AUDIT_KEY = "gcai_AUDIT_5f3e9a7b"
ALL_TARGETS = list(TARGETS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_no_piece_of_a_key_in_anything_a_run_exposed(
    scenario: Scenario, matrix_result: Callable[[Scenario], Result]
) -> None:
    result = matrix_result(scenario)
    assert leaks(result.texts, result.secrets) == []
    sources = {source.split(".")[0] for source, _ in result.texts}
    assert {"structlog", "task", "template", "xcom"} <= sources  # the audit saw the run, not nothing
    if result.error is not None:
        assert {"error"} <= sources
    if scenario.target.endswith("deferred") and result.requests > 1:
        assert "trigger" in sources
    if result.requests:  # the key was really sent (the journal keeps only the scheme word)
        assert any("authorization" in entry.headers for entry in result.journal)


def test_the_audit_finds_a_piece_of_a_key_and_a_masked_echo_of_one() -> None:
    key = GCORE_AUDIT_KEY
    assert leaks([("log", f"token={key[4:12]}...")], (key,)) != []
    assert leaks([("error.args", repr((key,)))], (key,)) != []
    # The server's masked echo is a piece of the key too: its first and last characters.
    assert leaks([("log", "Invalid <APIKey> authentication token: AUDIT*****7c1e0")], (key,)) != []
    assert leaks([("log", "token: AUDI*****")], (key,)) != []
    assert leaks([("log", "token: *****c1e0")], (key,)) != []
    # Shorter than four characters beside the asterisks says nothing about the key.
    assert leaks([("log", "token: AUD*****1e0")], (key,)) == []
    assert leaks([("log", "Invalid <APIKey> authentication token: ***")], (key,)) == []
    assert len(windows(key)) == len(key) - 7


def rejected(target: str, gcore_key: str, gcai_key: str, label: str) -> Scenario:
    """A run whose connection key the emulator refuses (401/403 on the first request)."""
    return Scenario(
        id=f"{target}:{label}",
        target=target,
        fault=f"rejected key ({label})",
        outcome="AuthenticationError",
        requests=1,
        mutating=1 if target == "gcai_update" else 0,
        applied=0,
        slept=0,
        setup=(lock(),),
        keys=(gcore_key, gcai_key),
    )


REJECTED = [
    rejected(target, gcore, gcai, label)
    for target in ALL_TARGETS
    for gcore, gcai, label in (
        (GCORE_AUDIT_KEY, GCAI_AUDIT_KEY, "distinctive-key"),
        (f"APIKey {GCORE_AUDIT_KEY}", f"Bearer {GCAI_AUDIT_KEY}", "key-with-scheme-word"),
        (GCORE_AUDIT_KEY, "AUDIT-GCAI-5f3e9a7b", "gcai-key-without-prefix"),
    )
]


@pytest.mark.parametrize("scenario", REJECTED, ids=lambda s: s.id)
def test_a_rejected_key_stays_hidden(scenario: Scenario) -> None:
    result = run_scenario(scenario)
    assert result.outcome == "AuthenticationError", result.message
    assert result.requests == 1
    assert leaks(result.texts, (GCORE_AUDIT_KEY, GCAI_AUDIT_KEY, "AUDIT-GCAI-5f3e9a7b")) == []


@pytest.mark.parametrize("accepted", [True, False], ids=["accepted-key", "rejected-key"])
def test_the_connection_test_button_hides_the_key(
    accepted: bool, emu: ProjectsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = (emu.gcore_key, emu.gcai_org_key) if accepted else (GCORE_AUDIT_KEY, GCAI_AUDIT_KEY)
    for var, conn_type, host, key in (
        ("AIRFLOW_CONN_GCORE_DEFAULT", "gcore", emu.gcore_url, keys[0]),
        ("AIRFLOW_CONN_GCAI_DEFAULT", "gcai", emu.gcai_url, keys[1]),
    ):
        monkeypatch.setenv(var, json.dumps({"conn_type": conn_type, "host": host, "password": key}))
    texts = []
    for hook in (GcoreHook(), GcaiHook()):
        ok, message = hook.test_connection()
        assert ok is accepted, message
        texts += [("message", message), ("hook", repr(hook)), ("vars", repr(vars(hook)))]
        texts += [("settings", repr(hook._settings)), ("transport", repr(hook.transport))]
    assert leaks(texts, keys) == []


# -- keys a user can paste but HTTP cannot carry ----------------------------------------------------------


@pytest.mark.parametrize("target", ["replace", "gcai_update", "task_deferred"])
def test_a_key_with_a_line_break_is_refused_without_showing_it(target: str) -> None:
    gcore, gcai = "AUDIT-GCORE\n77c1e0", "gcai_AUDIT\r\n5f3e9a7b"
    result = run_scenario(rejected(target, gcore, gcai, "line-break"))
    found = leaks(result.texts, (gcore, gcai, *gcore.splitlines(), *gcai.splitlines()), size=8)
    assert found == [], found[:3]
    assert isinstance(result.error, ProjectsApiError)
    assert result.requests == 0 and result.attempts == 0  # a key HTTP cannot carry is refused, not retried


@pytest.mark.parametrize("target", ["replace", "task_deferred"])
def test_a_key_with_a_non_latin1_character_is_refused_without_showing_it(target: str) -> None:
    gcore, gcai = "AUDIT-GCORE\u201377c1e0", "gcai_AUDIT\u20135f3e9a7b"
    result = run_scenario(rejected(target, gcore, gcai, "non-latin1"))
    assert isinstance(result.error, ProjectsApiError), repr(result.error)
    assert leaks(result.texts, (gcore, gcai)) == []


def test_rendered_template_fields_and_trigger_kwargs_hold_no_key(
    matrix_result: Callable[[Scenario], Result],
) -> None:
    """Spelled out for the two places that reach the database: rendered fields and trigger rows."""
    seen: dict[str, Any] = {}
    for scenario in SCENARIOS:
        for source, text in matrix_result(scenario).texts:
            if source.startswith(("template.", "trigger.serialize", "deferral.")):
                seen.setdefault(source, text)
    assert {"template.project_id", "template.name", "trigger.serialize", "deferral.json"} <= set(seen)
    assert leaks(list(seen.items()), ("emu-gcore-key-0001", "gcai_emulator_org_key")) == []
