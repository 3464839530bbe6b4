"""The lock-aware base of the replace operator, as Airflow's mapping sees it."""

from __future__ import annotations

from datetime import datetime

import pytest
from airflow.sdk import DAG, BaseOperator

from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor, GcoreTaskSensor


@pytest.mark.parametrize(
    ("operator_class", "mapped_argument"),
    [
        (GcoreReplaceProjectOperator, "project_id"),
        (GcaiUpdateProjectOperator, "project_id"),
        (GcoreProjectUnlockedSensor, "project_id"),
        (GcoreTaskSensor, "gcore_task_id"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_a_mapped_task_has_empty_inlets_and_outlets(operator_class: type[BaseOperator], mapped_argument: str) -> None:
    # Airflow builds a mapped task's context from them before it runs: None failed every try.
    with DAG("mapped_defaults", schedule=None, start_date=datetime(2026, 1, 1)):
        mapped = operator_class.partial(task_id="mapped").expand(**{mapped_argument: ["1", "2"]})

    assert (mapped.inlets, mapped.outlets) == ([], [])
