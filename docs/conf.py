"""The docs site: ``bash scripts/docs.sh`` builds docs/ into HTML with this configuration.

Why Sphinx rather than MkDocs: it is what Apache Airflow and its providers document themselves
with; its autodoc imports the real classes, so the API reference shows the signatures and
docstrings Airflow sees; and its nitpicky mode (``-n``) makes every reference that resolves
nowhere an error, as ``-W`` does every other warning (a broken link between guides, a docstring
that is not valid reStructuredText). The guides stay Markdown, read through MyST, so they read the
same in the repository; the theme is furo.

The API reference is ``docs/api/<kind>.md``: one ``.. automodule::`` line per module. The check
at the end of this file fails the build when a public module of the kinds below is on no page.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, TypeVar

from docutils.nodes import Element, Node, reference
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.nodes import make_refnode

from airflow_provider_projects import __version__

project = "airflow-provider-projects"
author = "airflow-provider-projects developers"
copyright = "the airflow-provider-projects developers, Apache License 2.0"
version = release = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"airflow-provider-projects {release}"
html_show_sourcelink = False
html_copy_source = False

# Links between guides may point at a section (deferrable.md#triggerer-capacity): anchors for
# headings down to level 3, the way GitHub makes them.
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

# What may stay plain text instead of a link; every other reference must resolve, or the build
# fails. The build has no network, hence no intersphinx inventory of Python, Airflow or the
# libraries: references to their objects. And private objects (a path part that starts with "_",
# such as the HTTP core's types in a hook's signature), which have no page on purpose.
nitpick_ignore_regex = [
    (r"py:.*", r"(airflow|pydantic|pydantic_core|aiohttp|requests|yarl|multidict)(\..+)?"),
    (r"py:.*", r"(collections\.abc|typing|types|datetime|enum|asyncio|contextlib|dataclasses|ssl|logging)\..+"),
    (r"py:.*", r"airflow_provider_projects(\.\w+)*\._\w+(\.\w+)*"),
    # Airflow's task Context as the sensors' abstract methods name it (unqualified in their signatures).
    (r"py:class", r"Context"),
]

#: Public modules of these packages, and these modules, each belong on an API page.
API_PACKAGES = ("operators", "sensors", "triggers", "hooks", "models")
API_MODULES = ("errors", "links")
_PACKAGE = "airflow_provider_projects"


def public_modules() -> dict[str, str]:
    """Each public module (no ``_`` in its path) that needs a page, and the page it goes on."""
    found = {f"{_PACKAGE}.{name}": name for name in API_MODULES}
    for kind in API_PACKAGES:
        package = importlib.import_module(f"{_PACKAGE}.{kind}")
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                found[info.name] = kind
    return found


def _check_every_public_module_is_documented(app: Sphinx, env: BuildEnvironment) -> None:
    documented = set(env.domains.python_domain.modules)
    for module, page in sorted(public_modules().items()):
        if module not in documented:
            logging.getLogger(__name__).warning(
                "%s is on no API page: add the line '.. automodule:: %s' to docs/api/%s.md",
                module,
                module,
                page,
                type="api",
                subtype="missing-module",
            )


def _type_variables() -> set[str]:
    """``module.T`` for every TypeVar of the package: signatures name them, and no page can."""
    package = importlib.import_module(_PACKAGE)
    modules = [_PACKAGE] + [info.name for info in pkgutil.walk_packages(package.__path__, f"{_PACKAGE}.")]
    return {
        f"{module}.{name}"
        for module in modules
        for name, value in vars(importlib.import_module(module)).items()
        if isinstance(value, TypeVar)
    }


def _resolve_short_name(app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: Element) -> reference | None:
    """A short name (``GcoreHook`` in a docstring, ``WaitOutcome`` in an annotation) links to the one
    documented object of that name: first in the referring module, else anywhere in the package.

    Sphinx itself searches this way only for names written with a leading dot. Docstrings keep
    short names, and keep working when a class moves to another module. A name that matches no
    documented object, or several equally, stays unresolved and fails the build.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target or target in _TYPE_VARIABLES:
        return None
    domain = env.domains.python_domain
    matches = domain.find_obj(env, node.get("py:module"), node.get("py:class"), target, None, 1)
    ours = [(name, entry) for name, entry in matches if name.startswith(f"{_PACKAGE}.")]
    module = node.get("py:module") or ""
    nearby = [(name, entry) for name, entry in ours if module and name.startswith(f"{module}.")]
    for candidates in (nearby, ours):
        if len(candidates) == 1:
            name, entry = candidates[0]
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name)
    return None


def _ignore_type_variables(app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: Element) -> Node | None:
    if node.get("refdomain") == "py" and node.get("reftarget") in _TYPE_VARIABLES:
        return contnode
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", _resolve_short_name)
    app.connect("missing-reference", _ignore_type_variables)
    app.connect("env-check-consistency", _check_every_public_module_is_documented)
    return {"parallel_read_safe": True}


_TYPE_VARIABLES = _type_variables()
