"""How the operators tell a change in the task log (``operators/_common.py``)."""

from __future__ import annotations

from airflow_provider_projects.operators._common import describe_change


def test_describe_change_old_to_new() -> None:
    before = {"name": "a", "description": "same"}
    after = {"name": "b", "description": "same"}
    assert describe_change(before, after, ("name", "description")) == "name 'a' -> 'b'; description unchanged"


def test_describe_change_without_a_before_says_what_was_set() -> None:
    assert describe_change(None, {"name": "n", "description": None}, ("name", "description")) == (
        "name = 'n'; description = None"
    )


def test_describe_change_shortens_long_values() -> None:
    line = describe_change(None, {"custom_instructions": "y" * 5000}, ("custom_instructions",))
    assert line.startswith("custom_instructions = 'yyy")
    assert line.endswith("...")
    assert len(line) < 100
