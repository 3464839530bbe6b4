"""The "Add Connection" form of Airflow's real UI for our two connection types.

A session-wide ``airflow api-server`` (scratch home, simple auth manager, everyone admin) serves
the UI; Debian's headless Chromium, driven by Playwright, opens the form, checks what
``ui-field-behaviour`` and ``conn-fields`` in the provider info promise, fills it with the
emulator's URL and key, saves it, and keeps screenshots in ``test-artifacts/ui/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_projects.provider_info import CONN_FIELDS, KEY_PLACEHOLDERS
from projects_emulator import ProjectsEmulator

from .conn_types import CONN_TYPES, ConnType
from .support import ApiServer, rest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page

pytestmark = [pytest.mark.slow, pytest.mark.integration]

#: Labels Airflow gives the standard fields we hide or relabel; none may show on our forms.
STANDARD_LABELS = {"Host", "Login", "Password", "Port", "Schema"}
HIDDEN_INPUTS = ("login", "port", "schema")
FORM_VALUES = {"timeout": "12.5", "max_retries": "2"}


def label_texts(scope: Locator) -> set[str]:
    """The text of every ``<label>`` in ``scope``, without the required-field star."""
    return {" ".join(text.replace("*", " ").split()) for text in scope.locator("label").all_text_contents()}


def open_add_form(page: Page, server: ApiServer, conn_id: str, hook_name: str) -> Locator:
    """Connections page -> "Add Connection" -> id and type filled in; returns the dialog."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Add Connection")).to_be_visible()
    dialog.locator('input[name="connection_id"]').fill(conn_id)
    combo = dialog.get_by_role("combobox", name="Connection Type")
    combo.click()
    combo.fill(hook_name)
    page.get_by_role("option", name=hook_name, exact=True).click()
    # The standard fields appear once the type's metadata is applied.
    expect(dialog.get_by_role("button", name="Standard Fields")).to_be_visible()
    return dialog


@pytest.fixture
def page(browser_context: BrowserContext) -> Any:
    page = browser_context.new_page()
    yield page
    page.close()


@pytest.mark.parametrize("ct", CONN_TYPES)
def test_hook_meta_served_by_api_server(api_server: ApiServer, ct: ConnType) -> None:
    """What the UI builds the form from (no browser needed): ``GET /ui/connections/hook_meta``."""
    status, metas = rest("GET", f"{api_server.url}/ui/connections/hook_meta")
    assert status == 200
    meta = next((m for m in metas if m["connection_type"] == ct.conn_type), None)
    assert meta is not None, f"{ct.conn_type} not among {[m['connection_type'] for m in metas]}"
    assert meta["hook_name"] == ct.hook_name
    assert meta["hook_class_name"].startswith("airflow_provider_projects.hooks.")
    fields = meta["standard_fields"]
    for name in ("url_schema", "port", "login"):
        assert fields[name]["hidden"] is True, name
    assert fields["host"] == {"hidden": False, "title": "API base URL", "placeholder": ct.default_base_url}
    assert fields["password"] == {
        "hidden": False,
        "title": "API key",
        "placeholder": KEY_PLACEHOLDERS[ct.default_base_url],
    }
    assert set(meta["extra_fields"]) == set(CONN_FIELDS)
    for name, spec in CONN_FIELDS.items():
        served = meta["extra_fields"][name]
        assert served["schema"]["title"] == spec["label"]
        assert served["description"] == spec["description"]
        assert {k: v for k, v in served["schema"].items() if k != "title"} == spec["schema"]


@pytest.mark.parametrize("ct", CONN_TYPES)
def test_add_connection_form(
    page: Page,
    api_server: ApiServer,
    ui_emulator: ProjectsEmulator,
    artifacts: Path,
    ct: ConnType,
) -> None:
    from playwright.sync_api import expect

    conn_id = f"ui_form_{ct.conn_type}"
    dialog = open_add_form(page, api_server, conn_id, ct.hook_name)

    # Standard fields: relabelled, placeholders, the key a password input, login/port/schema gone.
    labels = label_texts(dialog)
    assert {"API base URL", "API key"} <= labels
    assert not labels & STANDARD_LABELS, f"standard labels shown: {labels & STANDARD_LABELS}"
    for name in HIDDEN_INPUTS:
        expect(dialog.locator(f'[name="{name}"]')).to_have_count(0)
    host = dialog.get_by_label("API base URL", exact=True)
    expect(host).to_have_attribute("name", "host")
    expect(host).to_have_attribute("placeholder", ct.default_base_url)
    key = dialog.get_by_label("API key", exact=True)
    expect(key).to_have_attribute("name", "password")
    expect(key).to_have_attribute("type", "password")
    expect(key).to_have_attribute("placeholder", KEY_PLACEHOLDERS[ct.default_base_url])
    page.screenshot(path=artifacts / f"connection-form-{ct.conn_type}-standard.png")  # placeholders shown
    host.fill(ct.url(ui_emulator))
    key.fill(ct.key(ui_emulator))
    expect(key).to_have_attribute("type", "password")  # still masked once typed into

    # Extra fields: exactly the declared conn-fields, with their labels, help texts and bounds.
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    # The accordion panel's aria-labelledby holds an id with a space, so the region has no name.
    region = dialog.locator('[data-part="item-content"][id$=":content:Extra Fields"]')
    expect(region).to_be_visible()
    expect(region.locator("input")).to_have_count(len(CONN_FIELDS))
    assert label_texts(region) == {spec["label"] for spec in CONN_FIELDS.values()}
    for name, spec in CONN_FIELDS.items():
        expect(region.get_by_text(spec["description"], exact=True)).to_be_visible()
        if "string" in spec["schema"]["type"]:
            # Text fields (proxy, TLS paths): Airflow 3.3's form does not tie their label to the input.
            field = region.locator(f'[name="element_{name}"]')
            expect(field).to_have_count(1)
            if spec["schema"].get("format") == "password":  # the proxy URL may carry credentials
                expect(field).to_have_attribute("type", "password")
            continue  # left empty: the environment's proxy, the default trust store
        field = region.get_by_label(spec["label"], exact=True)
        expect(field).to_have_attribute("name", f"element_{name}")
        expect(field).to_have_attribute("role", "spinbutton")
        if "maximum" in spec["schema"]:
            expect(field).to_have_attribute("aria-valuemax", str(spec["schema"]["maximum"]))
        if "minimum" in spec["schema"]:
            expect(field).to_have_attribute("aria-valuemin", str(spec["schema"]["minimum"]))
        field.fill(FORM_VALUES[name])
    page.screenshot(path=artifacts / f"connection-form-{ct.conn_type}-extra.png")

    # Saved as declared: the extras under their own names, nothing in login/port/schema.
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("row").filter(has_text=conn_id)).to_be_visible()
    status, stored = rest("GET", f"{api_server.url}/api/v2/connections/{conn_id}")
    assert status == 200, stored
    assert stored["conn_type"] == ct.conn_type
    assert stored["host"] == ct.url(ui_emulator)
    assert (stored["login"], stored["port"], stored["schema"]) == (None, None, None)
    # The text fields left empty are stored as null, which the hook reads as "not set".
    empty = {"proxy": None, "verify": None, "cert": None, "cert_key": None, "allow_insecure_http": None}
    assert json.loads(stored["extra"]) == {"timeout": 12.5, "max_retries": 2, **empty}

    # ... and the hook takes that connection as meant: the stored max_retries (2) is in force,
    # so three 503 answers in a row make test_connection() give up after three requests (the
    # default, 4, would have reached the fourth and succeeded).
    from airflow_provider_projects import _clock
    from airflow_provider_projects.hooks.gcai import GcaiHook
    from airflow_provider_projects.hooks.gcore import GcoreHook

    conn = {k: stored[k] for k in ("conn_type", "host", "extra")} | {"password": ct.key(ui_emulator)}
    hook_class = GcoreHook if ct.conn_type == "gcore" else GcaiHook
    ui_emulator.clear_journal()
    fault = ui_emulator.add_fault(ct.conn_type, "GET", re.escape(ct.test_path), status=503, times=3)
    with pytest.MonkeyPatch.context() as env:
        env.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))  # the REST API shows the key as ***
        env.setattr(_clock, "sleep", lambda _seconds: None)  # the retry pauses are not the point here
        try:
            ok, message = hook_class(conn_id).test_connection()
        finally:
            ui_emulator.remove_fault(fault)
        assert not ok, message
        assert "503" in message
        assert len(ui_emulator.requests(api=ct.conn_type, path=ct.test_path)) == 3
        ok, message = hook_class(conn_id).test_connection()
    assert ok, message
    assert message.startswith(f"Connected to {ct.hook_name} at {ct.url(ui_emulator)}")


def test_form_check_sees_standard_fields_of_other_types(page: Page, api_server: ApiServer) -> None:
    """Control: the same checks find Login and Port on the HTTP type, so their absence above means something."""
    from playwright.sync_api import expect

    dialog = open_add_form(page, api_server, "ui_form_http_control", "HTTP")
    assert {"Host", "Login", "Password", "Port", "Schema"} <= label_texts(dialog)
    for name in HIDDEN_INPUTS:
        expect(dialog.locator(f'[name="{name}"]')).to_have_count(1)
