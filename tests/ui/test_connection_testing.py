"""Testing a connection through the api-server: the REST endpoint, and the UI's "Test Connection" button.

Both run the hook's ``test_connection()`` inside the api-server process against the emulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from projects_emulator import ProjectsEmulator

from .conn_types import CONN_TYPES, ConnType
from .support import ApiServer, rest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

pytestmark = [pytest.mark.slow, pytest.mark.integration]

#: apache/airflow#73298 (merged 2026-09-17): the UI sends ``port: 0`` for a connection with no port,
#: the API takes that for another destination and answers 400 with this text.
PORTLESS_TEST_BUG = "The host or port to test differs from the stored connection"


def connection_body(conn_id: str, ct: ConnType, url: str, key: str) -> dict[str, str]:
    return {
        "connection_id": conn_id,
        "conn_type": ct.conn_type,
        "host": url,
        "password": key,
        "extra": json.dumps({"timeout": 10, "max_retries": 0}),
    }


def save_connection(api_server: ApiServer, emu: ProjectsEmulator, ct: ConnType, conn_id: str) -> str:
    """Save a connection to the emulator through the REST API (as the UI's form would); returns its id."""
    status, answer = rest(
        "POST", f"{api_server.url}/api/v2/connections", connection_body(conn_id, ct, ct.url(emu), ct.key(emu))
    )
    assert status == 201, answer
    return conn_id


@pytest.mark.parametrize("ct", CONN_TYPES)
def test_rest_test_endpoint(api_server: ApiServer, ui_emulator: ProjectsEmulator, ct: ConnType) -> None:
    """``POST /api/v2/connections/test`` with the right key, then a wrong one."""
    url = f"{api_server.url}/api/v2/connections/test"
    ui_emulator.clear_journal()
    status, answer = rest(
        "POST", url, connection_body(f"rest_{ct.conn_type}", ct, ct.url(ui_emulator), ct.key(ui_emulator))
    )
    assert status == 200, answer
    assert answer["status"] is True, answer["message"]
    assert answer["message"].startswith(f"Connected to {ct.hook_name} at {ct.url(ui_emulator)}")
    assert ui_emulator.requests(api=ct.conn_type, method="GET", path=ct.test_path)

    status, answer = rest(
        "POST", url, connection_body(f"rest_{ct.conn_type}_bad", ct, ct.url(ui_emulator), ct.wrong_key())
    )
    assert status == 200, answer
    assert answer["status"] is False
    message = answer["message"]
    assert ct.wrong_key() not in message
    if ct.conn_type == "gcore":
        assert "HTTP 401" in message
        assert "password field must hold the API token alone" in message
    else:
        assert "HTTP 403" in message
        assert "Invalid API key" in message


@pytest.mark.parametrize("ct", CONN_TYPES)
def test_rest_test_endpoint_reuses_a_stored_key(
    api_server: ApiServer, ui_emulator: ProjectsEmulator, ct: ConnType
) -> None:
    """The docs' REST example: only the id and type of a saved connection, no key to retype; the
    answer carries the hook's message (on 3.3.2 the one path that shows it on a success)."""
    conn_id = save_connection(api_server, ui_emulator, ct, f"rest_stored_{ct.conn_type}")
    status, answer = rest(
        "POST", f"{api_server.url}/api/v2/connections/test", {"connection_id": conn_id, "conn_type": ct.conn_type}
    )
    assert status == 200, answer
    assert answer["status"] is True, answer["message"]
    assert answer["message"].startswith(f"Connected to {ct.hook_name} at {ct.url(ui_emulator)}")
    if ct.conn_type == "gcai":
        assert "an organisation key of organisation" in answer["message"]


@pytest.mark.parametrize("ct", CONN_TYPES)
def test_test_button_in_connection_list(
    browser_context: BrowserContext,
    api_server: ApiServer,
    ui_emulator: ProjectsEmulator,
    artifacts: Path,
    ct: ConnType,
) -> None:
    """Admin -> Connections -> the row's "Test Connection" button on a saved connection."""
    from playwright.sync_api import expect

    conn_id = save_connection(api_server, ui_emulator, ct, f"ui_button_{ct.conn_type}")
    ui_emulator.clear_journal()
    page = browser_context.new_page()
    try:
        page.goto(f"{api_server.url}/connections")
        row = page.get_by_role("row").filter(has_text=conn_id)
        toast = page.get_by_role("status").filter(has_text="Test Connection")
        with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as response_info:
            row.get_by_role("button", name="Test Connection").click()
        response = response_info.value
        expect(toast).to_be_visible()
        snapshot(page, artifacts / f"test-button-{ct.conn_type}.png")
        hit_bug = response.status == 400 and PORTLESS_TEST_BUG in response.text()
        if hit_bug:
            # What the fixed API does (port 0 taken as no port), done to the request: the rest of the
            # path, the UI -> api-server -> our hook -> the emulator -> the toast, still gets checked.
            page.route("**/api/v2/connections/test", send_without_port_zero)
            expect(toast).to_have_count(0, timeout=15_000)
            with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as response_info:
                row.get_by_role("button", name="Test Connection").click()
            response = response_info.value
            expect(toast).to_be_visible()
            snapshot(page, artifacts / f"test-button-{ct.conn_type}-port-fixed.png")
        assert response.status == 200, response.text()
        assert response.json()["status"] is True, response.json()
        expect(toast).to_contain_text("Test Connection Successful")
        expect(toast).to_contain_text(f"Connected to {ct.hook_name} at {ct.url(ui_emulator)}")
        assert ui_emulator.requests(api=ct.conn_type, method="GET", path=ct.test_path)
    finally:
        page.close()
    if hit_bug:
        pytest.xfail(
            "Airflow bug apache/airflow#73298: the UI sends port 0 for a connection without a port "
            "(ours hide the port) and the API refuses it with 400 before our hook runs; with the port "
            "left out of the request, the test succeeded"
        )


def snapshot(page: Page, path: Path) -> None:
    """A screenshot once the toast has finished sliding in."""
    page.wait_for_timeout(800)
    page.screenshot(path=path)


def send_without_port_zero(route: Route) -> None:
    body = route.request.post_data_json
    if isinstance(body, dict) and body.get("port") == 0:
        body["port"] = None
    route.continue_(post_data=json.dumps(body))
