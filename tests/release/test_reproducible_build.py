"""``scripts/release.sh`` builds reproducibly: the same sources give the same bytes, dated by the
last commit, wherever and whenever they are built.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .conftest import REPO, Built, release_build


def last_commit_time() -> int:
    if shutil.which("git") is None:
        pytest.skip("git is missing")
    out = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%ct"], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        pytest.skip(f"no git history: {out.stderr.strip()}")
    return int(out.stdout)


def sha256s(built: Built) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in built.files}


def copy_of_the_checkout(to: Path) -> Path:
    """The files git would commit (tracked or not ignored), elsewhere, every one touched an hour later."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    later = time.time() + 3600
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():  # deleted in the working tree, not yet in a commit
            continue
        target = to / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        os.utime(target, (later, later))
    return to


def test_all_four_files_are_built(built: Built) -> None:
    names = [path.name for path in built.files]
    assert len(names) == 4, names
    assert {name.split("-")[0] for name in names} == {"airflow_provider_projects", "airflow_provider_projects_emulator"}


def test_every_timestamp_is_the_last_commits(built: Built) -> None:
    """Not the files' times nor the clock: what SOURCE_DATE_EPOCH says, which release.sh takes from git."""
    epoch = last_commit_time()
    expected = datetime.fromtimestamp(epoch, UTC).timetuple()[:6]
    for dist in ("airflow-provider-projects", "airflow-provider-projects-emulator"):
        # A zip entry keeps the time to 2 s, rounded down.
        assert {info.date_time for info in built.wheel(dist).infolist()} == {
            (*expected[:5], expected[5] - expected[5] % 2)
        }
        assert {member.mtime for member in built.sdist(dist).getmembers()} == {epoch}


def test_a_second_build_elsewhere_with_newer_files_gives_the_same_bytes(built: Built, tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is missing")
    copy = copy_of_the_checkout(tmp_path / "checkout")
    again = tmp_path / "again"
    # The copy has no .git: give it the epoch release.sh took from the original's last commit.
    release_build(again, source=copy, SOURCE_DATE_EPOCH=str(last_commit_time()))
    assert sha256s(Built(again)) == sha256s(built)
