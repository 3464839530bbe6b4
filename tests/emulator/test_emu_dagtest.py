"""``DagRunReport``: what a finished ``dag.test()`` run reports, and what it says when asked for a missing XCom."""

from __future__ import annotations

import pytest

from projects_emulator.dagtest import DagRunReport, XComNotFound


@pytest.fixture
def report() -> DagRunReport:
    return DagRunReport(
        dag_id="rollout",
        run_id="manual__1",
        state="failed",
        task_states={"load": "success", "rename": "failed", "fan[0]": "success", "fan[1]": "success"},
        xcoms={
            ("load", -1, "return_value"): {"release": "2026.11"},
            ("load", -1, "rows"): 12,
            ("fan", 0, "return_value"): "a",
            ("fan", 1, "return_value"): "b",
        },
    )


def test_xcom_returns_the_value_by_task_key_and_map_index(report: DagRunReport) -> None:
    assert report.xcom("load") == {"release": "2026.11"}
    assert report.xcom("load", key="rows") == 12
    assert report.xcom("fan", map_index=1) == "b"
    assert report.failures == {"rename": "failed"}


def test_a_missing_key_names_the_task_the_key_and_the_keys_it_has(report: DagRunReport) -> None:
    with pytest.raises(XComNotFound) as caught:
        report.xcom("load", key="row_count")
    assert str(caught.value) == (
        "task 'load' of run 'manual__1' (rollout) pushed no XCom 'row_count'; its keys: 'return_value', 'rows'"
    )
    assert isinstance(caught.value, KeyError)  # code that caught the bare KeyError still does


def test_a_mapped_task_asked_without_its_index_names_the_indexes(report: DagRunReport) -> None:
    with pytest.raises(XComNotFound, match=r"task 'fan' .* at map indexes \[0, 1\]: pass map_index="):
        report.xcom("fan")


def test_a_task_without_xcoms_gives_its_state_and_the_tasks_that_have_some(report: DagRunReport) -> None:
    with pytest.raises(XComNotFound) as caught:
        report.xcom("rename")
    assert str(caught.value) == (
        "task 'rename' of run 'manual__1' (rollout) pushed no XCom 'return_value' (its state: failed); "
        "tasks with XComs: fan[0], fan[1], load"
    )
    with pytest.raises(XComNotFound, match=r"'renmae' .*its state: not in this run"):
        report.xcom("renmae")
