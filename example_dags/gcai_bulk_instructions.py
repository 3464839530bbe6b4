"""Refresh the custom instructions of many GC AI projects at once with a mapped task.

Only ``custom_instructions`` is sent: names and descriptions stay as they are. GC AI allows 120
requests per minute per organisation; on 429 the hook waits as ``Retry-After`` says, so a large
mapping finishes instead of failing. ``description=None`` would clear the descriptions instead.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator

with DAG(
    dag_id="gcai_bulk_instructions",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "project_ids": [
            "3c90c3cc-0d44-4b50-8888-8dd25736052a",
            "5b0e6f64-1c1d-4a8e-9f57-2f3b9d2c7a11",
        ]
    },
    tags=["example", "gcai"],
    doc_md=__doc__,
):

    @task
    def projects_to_refresh(**context: object) -> list[str]:
        """In real life: the projects a policy change touches (here: the ids in params)."""
        params = context["params"]
        assert isinstance(params, dict)
        return list(params["project_ids"])

    GcaiUpdateProjectOperator.partial(
        task_id="refresh_instructions",
        custom_instructions="Follow the 2026 drafting policy: plain English, defined terms in bold.",
    ).expand(project_id=projects_to_refresh())
