"""The package descriptions (what PyPI shows) read well off the repository.

A relative link works on a repository page and breaks on PyPI, where the description is shown
without the files beside it; we have no public repository URL to make the links absolute, so no
link in a description may be relative (nor a heading anchor: PyPI gives headings none). The
provider's description is assembled from the README by hatch-fancy-pypi-readme (pyproject.toml),
which turns the README's relative links into the path they name, "in the source distribution":
that path must then be there.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from .conftest import Built

DISTS = ("airflow-provider-projects", "airflow-provider-projects-emulator")
_IN_SDIST = re.compile(r"`([\w./-]+)`,? in the source distribution")


class _HtmlLinks(HTMLParser):
    """href and src of raw HTML in the Markdown (an <a> or <img> tag is Markdown too)."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.targets += [value for name, value in attrs if name in ("href", "src") and value is not None]


def _walk(tokens: list[Token]) -> list[Token]:
    flat: list[Token] = []
    for token in tokens:
        flat.append(token)
        flat += _walk(token.children or [])
    return flat


def link_targets(markdown: str) -> list[str]:
    """Every link and image target in ``markdown``: inline, reference-style, autolinks and raw HTML."""
    targets: list[str] = []
    html = _HtmlLinks()
    for token in _walk(MarkdownIt("commonmark").parse(markdown)):
        if token.type == "link_open":
            targets.append(str(token.attrGet("href")))
        elif token.type == "image":
            targets.append(str(token.attrGet("src")))
        elif token.type in ("html_block", "html_inline"):
            html.feed(token.content)
    return targets + html.targets


def breaks_off_the_repository(target: str) -> bool:
    return urlsplit(target).scheme not in ("http", "https", "mailto")


def description(built: Built, dist: str) -> str:
    metadata = built.metadata(dist)
    assert metadata["Description-Content-Type"].startswith("text/markdown")
    body = metadata.get_payload()
    assert isinstance(body, str)
    return body


@pytest.mark.parametrize(
    ("target", "breaks"),
    [
        ("docs/connections.md", True),
        ("../docs/emulator.md", True),
        ("#known-issues", True),
        ("docs/deferrable.md#triggerer-capacity", True),
        ("https://api.gcore.com/docs/cloud", False),
        ("mailto:someone@example.org", False),
    ],
)
def test_relative_targets_are_told_from_absolute_ones(target: str, breaks: bool) -> None:
    assert breaks_off_the_repository(target) is breaks


def test_every_kind_of_link_is_found() -> None:
    markdown = (
        "[a](docs/a.md) ![b](img/b.png) <https://example.org/c> [d][ref]\n\n"
        '[ref]: docs/d.md\n\n<a href="docs/e.md">e</a>\n\nSee `[f](docs/f.md)` in code, no link.\n'
    )
    assert sorted(link_targets(markdown)) == sorted(
        ["docs/a.md", "img/b.png", "https://example.org/c", "docs/d.md", "docs/e.md"]
    )


@pytest.mark.parametrize("dist", DISTS)
def test_the_description_holds_no_relative_link(built: Built, dist: str) -> None:
    relative = [t for t in link_targets(description(built, dist)) if breaks_off_the_repository(t)]
    assert relative == [], f"{dist}: links that break on PyPI (see tests/release/test_description.py)"


@pytest.mark.parametrize("dist", DISTS)
def test_no_project_url_is_declared(built: Built, dist: str) -> None:
    """There is no public repository or docs URL yet: none may be made up. Add the real one here
    (and to pyproject's [project.urls]) once it exists."""
    metadata = built.metadata(dist)
    assert metadata.get_all("Project-URL") is None
    assert metadata.get("Home-page") is None


def test_the_provider_description_is_the_readme_for_users(built: Built) -> None:
    text = description(built, "airflow-provider-projects")
    assert text.startswith("# airflow-provider-projects\n")
    for section in ("## Install", "## Connections", "## Operators", "## Errors", "## Testing your DAGs offline"):
        assert f"\n{section}\n" in text
    # The commands that need a checkout (the README's top) and the Development section stay out.
    assert "bash scripts/demo.sh" not in text
    assert "## Development" not in text
    assert "<!--" not in text


def test_each_path_said_to_be_in_the_source_distribution_is_there(built: Built) -> None:
    text = description(built, "airflow-provider-projects")
    named = set(_IN_SDIST.findall(text))
    assert named, "the description names the guides it refers to"
    sdist = built.sdist("airflow-provider-projects")
    members = {str(PurePosixPath(*PurePosixPath(m.name).parts[1:])) for m in sdist.getmembers()}
    assert sorted(named - members) == []
