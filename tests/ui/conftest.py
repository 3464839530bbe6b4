"""Fixtures for the tests against real Airflow processes: the emulator, the api-server, a browser.

The api-server and the browser are started once per session and only when a test asks for them.
The browser tests skip, saying why, when Debian's Chromium or the ``playwright`` package is
missing (``scripts/install-browser.sh`` installs both).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from projects_emulator import ProjectsEmulator

from .support import ARTIFACTS, ApiServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = Path("/usr/bin/chromium")
#: What this machine needs to run Chromium as root with no network but loopback.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Playwright's bound on each action and wait, in milliseconds.
BROWSER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="package")
def ui_emulator() -> Iterator[ProjectsEmulator]:
    """Both emulated APIs on 127.0.0.1, for the tests/ui package (tests clear the journal as needed)."""
    with ProjectsEmulator() as emu:
        yield emu


@pytest.fixture(scope="package")
def artifacts() -> Path:
    """``test-artifacts/ui/`` in the repo (gitignored): screenshots and the api-server log."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def api_server(artifacts: Path) -> Iterator[ApiServer]:
    """``airflow api-server`` on a free port of 127.0.0.1, no login needed; its log is kept as an artifact."""
    home = Path(tempfile.mkdtemp(prefix="ui-airflow-home-"))
    server = ApiServer(home)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if server.log_path.exists():
            shutil.copyfile(server.log_path, artifacts / "api-server.log")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="package")
def browser_context() -> Iterator[BrowserContext]:
    """Debian's headless Chromium driven by Playwright, with a fresh user-data-dir."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install-browser.sh (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: run scripts/install-browser.sh"
    )
    user_data_dir = tempfile.mkdtemp(prefix="ui-chromium-profile-")
    try:
        with sync_api.sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                user_data_dir,
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1280, "height": 1000},
                timeout=BROWSER_TIMEOUT_MS,
            )
            context.set_default_timeout(BROWSER_TIMEOUT_MS)
            sync_api.expect.set_options(timeout=BROWSER_TIMEOUT_MS // 2)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(user_data_dir, ignore_errors=True)
