"""``airflow connections test <id>`` (the CLI) against the emulator, for both connection types.

Each case runs the real CLI in a subprocess with a scratch AIRFLOW_HOME and the connection in an
``AIRFLOW_CONN_*`` variable (JSON form); no database or server is needed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import airflow
import pytest
from packaging.version import Version

from projects_emulator import ProjectsEmulator

from .conn_types import GCAI, GCORE, ConnType
from .support import Result, airflow_env, run_airflow

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def connections_test(emu: ProjectsEmulator, ct: ConnType, key: str, *flags: str, **env: str) -> Result:
    conn_id = f"cli_{ct.conn_type}"
    conn = {
        "conn_type": ct.conn_type,
        "host": ct.url(emu),
        "password": key,
        "extra": {"timeout": 10, "max_retries": 0},
    }
    with tempfile.TemporaryDirectory(prefix="cli-airflow-home-") as home:
        environ = airflow_env(Path(home), **{f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}, **env)
        return run_airflow(["connections", "test", *flags, conn_id], environ)


@pytest.mark.parametrize("ct", [pytest.param(GCORE, id="gcore"), pytest.param(GCAI, id="gcai")])
def test_cli_connection_test_succeeds(ui_emulator: ProjectsEmulator, ct: ConnType) -> None:
    ui_emulator.clear_journal()
    result = connections_test(ui_emulator, ct, ct.key(ui_emulator))
    assert result.returncode == 0, result.output
    assert "Connection success!" in result.output
    # It really asked the emulator, with the call test_connection() makes.
    assert ui_emulator.requests(api=ct.conn_type, method="GET", path=ct.test_path), result.output


@pytest.mark.parametrize("ct", [pytest.param(GCORE, id="gcore"), pytest.param(GCAI, id="gcai")])
def test_cli_connection_test_success_does_not_print_the_message(ui_emulator: ProjectsEmulator, ct: ConnType) -> None:
    """What docs/connections.md says of the CLI on 3.3.2: a success prints only "Connection success!".

    The CLI drops the message test_connection() returns, and silences every log line unless -v is
    given; if Airflow starts printing it, this fails and the docs need updating.
    """
    result = connections_test(ui_emulator, ct, ct.key(ui_emulator))
    assert result.returncode == 0, result.output
    assert "Connection success!" in result.output
    assert f"Connected to {ct.hook_name}" not in result.output


@pytest.mark.parametrize("ct", [pytest.param(GCORE, id="gcore"), pytest.param(GCAI, id="gcai")])
def test_cli_connection_test_verbose_shows_the_message(ui_emulator: ProjectsEmulator, ct: ConnType) -> None:
    """``-v`` lets log lines through: the hook's logged message is the one way the CLI shows it."""
    result = connections_test(ui_emulator, ct, ct.key(ui_emulator), "-v")
    assert result.returncode == 0, result.output
    assert f"Connected to {ct.hook_name} at {ct.url(ui_emulator)}" in result.flat
    if ct is GCAI:
        assert "an organisation key of organisation" in result.flat


@pytest.mark.parametrize(
    ("ct", "expected"),
    [
        pytest.param(
            GCORE,
            (
                "Gcore Cloud GET /cloud/v1/projects failed: HTTP 401 NotAuthenticated",
                "password field must hold the API token alone (the provider sends it as 'APIKey <token>')",
            ),
            id="gcore",
        ),
        pytest.param(
            GCAI,
            (
                "GC AI GET /me failed: HTTP 403",
                "Invalid API key",
                "create a new one in GC AI under Settings -> API",
            ),
            id="gcai",
        ),
    ],
)
def test_cli_connection_test_wrong_key(ui_emulator: ProjectsEmulator, ct: ConnType, expected: tuple[str, ...]) -> None:
    result = connections_test(ui_emulator, ct, ct.wrong_key())
    # Airflow 3.3 made a failed `connections test` exit 1; 3.2 printed the failure and exited 0.
    assert result.returncode == (1 if Version(airflow.__version__).release >= (3, 3) else 0), result.output
    assert "Connection failed!" in result.output
    for text in expected:
        assert text in result.flat, f"{text!r} not in:\n{result.output}"
    assert ct.wrong_key() not in result.output


def test_cli_connection_test_needs_the_setting(ui_emulator: ProjectsEmulator) -> None:
    """Without ``[core] test_connection = Enabled`` the CLI refuses, and says so (no request is sent)."""
    ui_emulator.clear_journal()
    result = connections_test(ui_emulator, GCORE, GCORE.key(ui_emulator), AIRFLOW__CORE__TEST_CONNECTION="Disabled")
    assert result.returncode == 1, result.output
    assert "Testing connections is disabled" in result.flat
    assert not ui_emulator.requests(api="gcore")
