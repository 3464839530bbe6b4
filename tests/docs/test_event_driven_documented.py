"""The event-driven section (README, docs/sensors.md) shows the example DAG's own watch and the
trigger's real numbers.

The shown block declares an ``Asset`` and its ``AssetWatcher`` but builds no task, so the doc
snippet tests (tests/integration/test_doc_snippets.py) do not run it; a scheduled-on-an-asset DAG
cannot run under ``dag.test()`` anyway. It must instead be the text of
example_dags/gcore_project_unlocked.py, whose watch tests/integration/test_example_dags.py runs
against the emulator: an edit to one without the other fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_projects import defaults
from airflow_provider_projects.triggers.gcore_events import GcoreProjectUnlockedEventTrigger
from airflow_provider_projects.waiting import MAX_WATCH_PAUSE

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example_dags" / "gcore_project_unlocked.py"
DOCUMENTS = ("README.md", "docs/sensors.md")
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def watch_blocks(document: str) -> list[str]:
    text = (REPO / document).read_text()
    return [block for block in _PYTHON_BLOCK.findall(text) if "AssetWatcher(" in block]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_shown_watch_is_the_example_dags_text(document: str) -> None:
    blocks = watch_blocks(document)
    assert len(blocks) == 1, f"{document} should show the watch once"
    (block,) = blocks
    assert "GcoreProjectUnlockedEventTrigger(" in block
    assert block in EXAMPLE.read_text(), f"{document}'s watch differs from {EXAMPLE.name}"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_five_points_are_stated(document: str) -> None:
    text = " ".join((REPO / document).read_text().split())  # line breaks as spaces
    section = text[text.index("Event-driven: ") :]
    for point in (
        "already unlocked when the watch starts fires nothing",  # edges, not a state
        "handover",  # locks between polls go unseen
        "up to 10 minutes",  # never fails, backs off
        "asset state store",  # its memory, 3.3+ only
        "Pausing the DAG cancels the watch",
        "2.4-5.2 s",  # the user's measurement
    ):
        assert point in section, f"{document} does not say {point!r}"


def test_the_documented_numbers_are_the_triggers() -> None:
    """10 minutes, the key, and the defaults sensors.md names: the code's, not a memory of them."""
    assert MAX_WATCH_PAUSE == 10 * 60
    assert GcoreProjectUnlockedEventTrigger(project_id=2, gcore_conn_id="c").state_key == "gcore_lock_task:c:2"
    sensors = (REPO / "docs" / "sensors.md").read_text()
    assert "key `gcore_lock_task:<gcore_conn_id>:<project_id>`" in sensors
    assert f"`poll_interval` ({defaults.POLL_INTERVAL:g} s)" in sensors
    assert f"`max_consecutive_errors` ({defaults.MAX_CONSECUTIVE_ERRORS})" in sensors
