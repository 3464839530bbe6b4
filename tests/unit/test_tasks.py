"""What the operators and the sensors share (``_tasks.py``): template detection, parse-time checks
naming the task, the deferrable default, and the hook they open and close."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_projects import validation
from airflow_provider_projects._tasks import HookOwner, checked_literal, default_deferrable, is_template
from airflow_provider_projects.errors import InvalidInputError
from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator


@pytest.mark.parametrize(
    ("value", "templated"),
    [
        ("{{ params.pid }}", True),
        ("prefix {{ ds }} suffix", True),
        ("{% if x %}a{% endif %}", True),
        ("{# a comment #}", True),
        ("plain", False),
        ("a { b } c", False),
        ("", False),
        (42, False),
        (None, False),
    ],
)
def test_is_template_for_literals(value: Any, templated: bool) -> None:
    assert is_template(value) is templated


def test_is_template_for_an_xcom_arg() -> None:
    with DAG("xcom_arg", schedule=None):
        upstream = GcaiUpdateProjectOperator(task_id="up", project_id="3c90c3cc-0d44-4b50-8888-8dd25736052a", name="x")
    assert is_template(upstream.output) is True


def test_checked_literal_returns_the_checked_value() -> None:
    assert checked_literal("t", validation.gcore_project_id, "42") == 42
    assert checked_literal("t", validation.positive_seconds, 5, "poll_interval") == 5.0


def test_checked_literal_names_the_task_and_keeps_field_and_rule() -> None:
    with pytest.raises(InvalidInputError) as caught:
        checked_literal("nightly_rename", validation.gcore_name, "ab")
    error = caught.value
    assert str(error) == "Task 'nightly_rename': name must be 3 to 63 characters long, not 2 (got 'ab')"
    assert (error.field, error.rule) == ("name", "must be 3 to 63 characters long, not 2")
    assert isinstance(error, AirflowFailException)  # a retry cannot fix a DAG file
    assert error.__cause__ is None
    assert error.__suppress_context__ is True


def test_checked_literal_passes_extra_arguments_to_the_check() -> None:
    with pytest.raises(InvalidInputError, match=r"^Task 't': lock_timeout must be") as caught:
        checked_literal("t", validation.positive_seconds, 0, "lock_timeout")
    assert caught.value.field == "lock_timeout"


def test_checked_literal_lets_other_errors_through() -> None:
    def broken(value: Any) -> Any:
        raise KeyError(value)

    with pytest.raises(KeyError):
        checked_literal("t", broken, 1)


@pytest.mark.parametrize(
    ("make", "task_id"),
    [
        (lambda: GcoreReplaceProjectOperator(task_id="g1", project_id=0, name="analytics"), "g1"),
        (lambda: GcoreReplaceProjectOperator(task_id="g2", project_id=1, name="analytics", method="GET"), "g2"),
        (lambda: GcaiUpdateProjectOperator(task_id="a1", project_id="nope", name="x"), "a1"),
        (lambda: GcaiUpdateProjectOperator(task_id="a2", project_id="3c90c3cc-0d44-4b50-8888-8dd25736052a"), "a2"),
    ],
)
def test_both_operators_name_the_task_when_a_dag_fails_to_parse(make: Any, task_id: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"^Task '{task_id}': "):
        make()


def test_a_task_in_a_task_group_is_named_by_its_full_id() -> None:
    from airflow.sdk import TaskGroup

    with DAG("grouped", schedule=None), TaskGroup("projects"), pytest.raises(InvalidInputError) as caught:
        GcoreReplaceProjectOperator(task_id="rename", project_id=1, name="ab")
    assert str(caught.value).startswith("Task 'projects.rename': name ")


@pytest.mark.parametrize(("setting", "expected"), [("True", True), ("false", False)])
def test_default_deferrable_reads_the_airflow_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str, expected: bool
) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    assert default_deferrable() is expected


def test_default_deferrable_is_false_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", raising=False)
    assert default_deferrable() is False


class _FakeHook:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class _Owner(HookOwner[Any]):
    def __init__(self) -> None:
        self.made: list[_FakeHook] = []

    def make_hook(self) -> Any:
        self.made.append(_FakeHook())
        return self.made[-1]


def test_a_hook_is_made_on_first_use_and_then_reused() -> None:
    owner = _Owner()
    assert owner.made == []
    assert owner.hook is owner.hook
    assert len(owner.made) == 1


def test_close_hook_closes_the_opened_hook_once_and_the_next_use_opens_a_new_one() -> None:
    owner = _Owner()
    first = owner.hook
    owner.close_hook()
    owner.close_hook()  # nothing open: nothing to close
    assert first.closed == 1
    assert owner.hook is not first
    assert len(owner.made) == 2


def test_close_hook_without_a_hook_opens_none() -> None:
    owner = _Owner()
    owner.close_hook()
    assert owner.made == []


# -- what mutation testing found unpinned (issue 19) ------------------------------------------------


def test_a_template_is_kept_as_it_is_until_rendering() -> None:
    from airflow_provider_projects._tasks import checked_unless_template

    assert checked_unless_template("t", validation.gcore_project_id, "{{ params.pid }}") == "{{ params.pid }}"


def test_a_literal_is_checked_with_the_checks_own_arguments() -> None:
    from airflow_provider_projects._tasks import checked_unless_template

    assert checked_unless_template("t", validation.positive_seconds, 5, "poll_interval") == 5.0
    with pytest.raises(InvalidInputError, match=r"^Task 't': poll_interval must be a finite number"):
        checked_unless_template("t", validation.positive_seconds, 0, "poll_interval")
