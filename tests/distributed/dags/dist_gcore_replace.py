"""Mapped deferrable Gcore replaces for tests/distributed: the targets come from the run's conf.

``conf = {"targets": [{"project_id": 12, "name": "...", "description": "..."}, ...]}``. Retries
are on: the chaos scenarios (a worker killed mid-write, broker and database restarts) rely on
Airflow's own retries, and the operator must make a retry safe.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator

with DAG(
    dag_id="dist_gcore_replace",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=4,
    max_active_tasks=8,
    default_args={"retries": 5, "retry_delay": timedelta(seconds=2)},
    params={"targets": []},
    tags=["distributed-tests"],
):

    @task
    def targets(**context: object) -> list[dict[str, object]]:
        params = context["params"]
        assert isinstance(params, dict)
        return list(params["targets"])

    GcoreReplaceProjectOperator.partial(
        task_id="replace",
        deferrable=True,
        poll_interval=2,
        lock_timeout=900,
    ).expand_kwargs(targets())
