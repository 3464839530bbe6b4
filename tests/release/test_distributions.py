"""What both published distributions carry: the Apache-2.0 text, and no pin or development tool.

Issue 22: the wheel declared ``License-Expression: Apache-2.0`` without the licence text (PEP 639
wants it beside the metadata), and the published ``dev`` and ``cluster`` extras pinned exact
versions, a constraints file's job.
"""

from __future__ import annotations

import hashlib
import tomllib

import pytest
from packaging.requirements import Requirement

from .conftest import REPO, Built

#: SHA-256 of the Apache License 2.0 as the ASF publishes it (LICENSE-2.0.txt), which is also
#: Debian's /usr/share/common-licenses/Apache-2.0.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
LICENSE = REPO / "LICENSE"
DISTS = {"airflow-provider-projects": REPO, "airflow-provider-projects-emulator": REPO / "emulator"}


def test_the_licence_is_the_apache_2_text_in_both_projects() -> None:
    assert hashlib.sha256(LICENSE.read_bytes()).hexdigest() == APACHE_2_SHA256
    # The emulator keeps a copy (PEP 639 forbids ".." in license-files): the same bytes.
    assert (REPO / "emulator" / "LICENSE").read_bytes() == LICENSE.read_bytes()


@pytest.mark.parametrize("dist", DISTS)
def test_the_wheel_carries_the_licence_beside_its_expression(built: Built, dist: str) -> None:
    wheel = built.wheel(dist)
    (licence,) = (n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE"))
    assert wheel.read(licence) == LICENSE.read_bytes()
    metadata = built.metadata(dist)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert "License" not in metadata  # the legacy free-text field, which PEP 639 replaces


@pytest.mark.parametrize("dist", DISTS)
def test_the_sdist_carries_the_licence(built: Built, dist: str) -> None:
    sdist = built.sdist(dist)
    (licence,) = (m for m in sdist.getmembers() if m.name.count("/") == 1 and m.name.endswith("/LICENSE"))
    assert licence.isfile()  # a real file: a symbolic link would dangle once unpacked
    extracted = sdist.extractfile(licence)
    assert extracted is not None
    assert extracted.read() == LICENSE.read_bytes()


@pytest.mark.parametrize("dist", DISTS)
def test_no_published_requirement_pins_an_exact_version(built: Built, dist: str) -> None:
    requirements = [Requirement(line) for line in built.metadata(dist).get_all("Requires-Dist") or []]
    pinned = [str(r) for r in requirements if any(s.operator in ("==", "===") for s in r.specifier)]
    assert pinned == [], "exact versions belong in constraints/, not in the published metadata"


@pytest.mark.parametrize("dist", DISTS)
def test_no_development_group_is_published_as_an_extra(built: Built, dist: str) -> None:
    project = tomllib.loads((DISTS[dist] / "pyproject.toml").read_text())
    groups = set(project.get("dependency-groups", {}))
    extras = set(built.metadata(dist).get_all("Provides-Extra") or [])
    assert not extras & (groups | {"dev", "test", "ui", "cluster", "docs", "release", "lint"})


def test_the_provider_has_development_groups_and_no_extras() -> None:
    """Guards the test above against passing on an empty pyproject: the groups are where tools went."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert {"dev", "test", "ui", "cluster", "docs", "release"} <= set(project["dependency-groups"])
    assert "optional-dependencies" not in project["project"]


def test_the_provider_wheel_holds_the_package_and_its_type_marker(built: Built) -> None:
    names = built.wheel("airflow-provider-projects").namelist()
    assert "airflow_provider_projects/py.typed" in names
    assert "airflow_provider_projects/operators/gcore.py" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "projects_emulator/"))]
