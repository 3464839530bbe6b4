"""``help(projects_emulator)`` lists every public method and property of ``ProjectsEmulator``.

The README and docs/emulator.md send users there; this keeps the list whole in both directions:
a method added without its line fails, and so does a line naming something that is gone.
"""

from __future__ import annotations

import inspect
import pydoc
import re

import projects_emulator
from projects_emulator import ProjectsEmulator

DOC = projects_emulator.__doc__ or ""
_REFERENCE = re.compile(r"Every public method and property of ``ProjectsEmulator``.*?::\n\n(.*?)\n\n", re.DOTALL)


def _public() -> dict[str, bool]:
    """Each public name of the class, and whether it is called (a method) or read (the rest)."""
    names = (name for name in dir(ProjectsEmulator) if not name.startswith("_"))
    return {name: inspect.isfunction(inspect.getattr_static(ProjectsEmulator, name)) for name in names}


def _reference() -> str:
    found = _REFERENCE.search(DOC)
    assert found is not None, "the package docstring has no list of every public method and property"
    return found.group(1)


def test_the_reference_names_every_public_method_with_a_call_and_every_property_without() -> None:
    reference = _reference()
    for name, is_method in _public().items():
        called = re.search(rf"\b{name}\(", reference) is not None
        read = re.search(rf"\b{name}\b(?!\()", reference) is not None
        assert called if is_method else read, f"{name} ({'method' if is_method else 'property'}) missing"


def test_the_reference_and_the_tour_name_nothing_the_class_lacks() -> None:
    public = _public()
    called = set(re.findall(r"\b([a-z_][a-z0-9_]*)\(", _reference())) - {"with"}
    assert called <= {name for name, is_method in public.items() if is_method}
    used = set(re.findall(r"\bemu\.([a-z_][a-z0-9_]*)", DOC))
    assert used <= set(public), used - set(public)


def test_help_shows_the_reference() -> None:
    shown = pydoc.render_doc(projects_emulator, renderer=pydoc.plaintext)
    assert all(re.search(rf"\b{name}\b", shown) for name in _public())
    # The four the README's claim missed (issue 22) among them.
    assert {"clear_faults", "remove_fault", "delete_gcai_project", "gcore_project_revision"} <= set(_public())
