"""A mapped GC AI update for tests/distributed: ``conf = {"project_ids": [...], "instructions": "..."}``."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator

with DAG(
    dag_id="dist_gcai_update",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    max_active_tasks=8,
    params={"project_ids": [], "instructions": ""},
    tags=["distributed-tests"],
):

    @task
    def project_ids(**context: object) -> list[str]:
        params = context["params"]
        assert isinstance(params, dict)
        return list(params["project_ids"])

    GcaiUpdateProjectOperator.partial(
        task_id="update",
        custom_instructions="{{ params.instructions }}",
    ).expand(project_id=project_ids())
