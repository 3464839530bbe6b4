"""The docs site (``bash scripts/docs.sh``) as a reader gets it: served over HTTP on 127.0.0.1 and
opened in Debian's Chromium, its landing page and an API page; and no page links to a file that
the site does not have.

The site is the one ``scripts/test.sh`` built (``PROJECTS_DOCS_SITE``), or one built here with
the same command.
"""

from __future__ import annotations

import functools
import os
import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pytest

from .support import REPO

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = [pytest.mark.slow]

#: Bound on building the site (about 10 s, plus installing the docs tools on a first run).
BUILD_TIMEOUT = 600
OPERATOR = "airflow_provider_projects.operators.gcore.GcoreReplaceProjectOperator"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prebuilt = os.environ.get("PROJECTS_DOCS_SITE")
    if prebuilt and (Path(prebuilt) / "index.html").is_file():
        return Path(prebuilt)
    out = tmp_path_factory.mktemp("docs-site")
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "docs.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site_url(site: Path) -> Iterator[str]:
    """The site served by a static file server on 127.0.0.1, as any web server would serve it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_landing_page_lists_the_guides_and_leads_to_the_api_and_the_search(
    browser_context: BrowserContext, site_url: str
) -> None:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        response = page.goto(f"{site_url}/index.html")
        assert response is not None and response.status == 200
        assert page.title().startswith("airflow-provider-projects")
        assert page.locator("h1").first.inner_text().startswith("airflow-provider-projects documentation")
        sidebar = page.locator(".sidebar-tree")
        for guide in ("Connections", "Deferrable mode", "API reference", "Changelog"):
            assert sidebar.get_by_role("link", name=guide, exact=True).count() == 1, guide
        page.locator("article").get_by_role("link", name="API reference", exact=True).click()
        page.wait_for_url("**/api/index.html")
        assert page.locator("h1").first.inner_text().startswith("API reference")
        # The search (the site's JavaScript and its index) finds an API object.
        page.locator("input.sidebar-search").first.fill("GcoreTaskSensor")
        page.keyboard.press("Enter")
        page.wait_for_url("**/search.html?q=GcoreTaskSensor*")
        hit = page.locator("#search-results li a", has_text="GcoreTaskSensor").first
        hit.wait_for()
        assert "api/sensors.html" in (hit.get_attribute("href") or "")
        assert errors == []
    finally:
        page.close()


def test_an_api_page_shows_the_operator_its_signature_and_its_parameters(
    browser_context: BrowserContext, site_url: str
) -> None:
    page = browser_context.new_page()
    try:
        response = page.goto(f"{site_url}/api/operators.html")
        assert response is not None and response.status == 200
        # Sphinx gives each documented object an anchor named after it.
        signature = page.locator(f"dt[id='{OPERATOR}']")
        assert signature.is_visible()
        text = " ".join(signature.inner_text().split())
        assert "GcoreReplaceProjectOperator" in text
        assert "project_id" in text and "gcore_conn_id" in text
        body = page.locator(f"dt[id='{OPERATOR}'] + dd").inner_text()
        assert "Parameters" in body.title() and "lock_timeout" in body
        # From the docstring, not made up: the operator's own sentence is there.
        assert "Replace a Gcore Cloud project" in body
        # Its [source] link leads to the module's highlighted code.
        page.locator(f"dt[id='{OPERATOR}'] .viewcode-link").first.click()
        page.wait_for_url("**/_modules/airflow_provider_projects/operators/gcore.html*")
        assert "class GcoreReplaceProjectOperator" in page.locator(".highlight").first.inner_text()
    finally:
        page.close()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.targets += [v for k, v in attrs if k in ("href", "src") and v]


def test_no_page_links_to_a_file_the_site_lacks(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 20, "the guides and the API pages"
    missing = []
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text())
        for target in parser.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # another site, or an anchor on this page
            if not (page.parent / unquote(parts.path)).resolve().exists():
                missing.append(f"{page.relative_to(site)} -> {target}")
    assert missing == []
