"""Both distributions built once for the session, exactly as ``scripts/release.sh`` builds them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RELEASE = REPO / "scripts" / "release.sh"
#: Bound on building the four files (about 5 s with a warm uv cache).
BUILD_TIMEOUT = 300


def release_build(out: Path, source: Path = REPO, **env: str) -> None:
    """``scripts/release.sh build OUT`` of the checkout at ``source``."""
    if shutil.which("git") is None and "SOURCE_DATE_EPOCH" not in env:
        pytest.skip("git is missing: release.sh dates the build by the last commit")
    environ = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"} | env
    result = subprocess.run(
        ["bash", str(source / "scripts" / "release.sh"), "build", str(out)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass(frozen=True)
class Built:
    """The four files of one build."""

    folder: Path

    @property
    def files(self) -> list[Path]:
        return sorted([*self.folder.glob("*.whl"), *self.folder.glob("*.tar.gz")])

    def wheel(self, dist: str) -> zipfile.ZipFile:
        (path,) = self.folder.glob(f"{dist.replace('-', '_')}-*.whl")
        return zipfile.ZipFile(path)

    def sdist(self, dist: str) -> tarfile.TarFile:
        (path,) = self.folder.glob(f"{dist.replace('-', '_')}-*.tar.gz")
        return tarfile.open(path)

    def metadata(self, dist: str) -> Message:
        wheel = self.wheel(dist)
        (name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(wheel.read(name).decode())


@pytest.fixture(scope="package")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Both distributions, sdist and wheel, dated by the last commit as release.sh does by default."""
    folder = tmp_path_factory.mktemp("dist")
    release_build(folder)
    yield Built(folder)
    shutil.rmtree(folder, ignore_errors=True)
