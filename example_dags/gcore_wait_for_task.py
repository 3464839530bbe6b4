"""Wait for a Gcore task started elsewhere (a provisioning job, a region migration), then rename
the project it worked on and record the outcome.

Pass the task's UUID in the run's conf (``{"gcore_task_id": "..."}``). ``GcoreTaskSensor``
succeeds when the task is FINISHED and fails with the task's own error text on ERROR.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
from airflow_provider_projects.sensors.gcore import GcoreTaskSensor

with DAG(
    dag_id="gcore_wait_for_task",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"gcore_task_id": "00000000-0000-4000-8000-000000000000", "gcore_project_id": 3},
    tags=["example", "gcore"],
    doc_md=__doc__,
):
    finished = GcoreTaskSensor(
        task_id="wait_for_gcore_task",
        gcore_task_id="{{ params.gcore_task_id }}",
        poke_interval=1,
        timeout=300,
    )

    rename = GcoreReplaceProjectOperator(
        task_id="mark_project_ready",
        project_id="{{ params.gcore_project_id }}",
        name="staging-ready",
        description="Provisioned by task {{ params.gcore_task_id }}",
        poll_interval=1,
    )

    @task
    def report(task_result: dict[str, object], project: dict[str, object]) -> str:
        """The line a team would post to its channel."""
        return f"task {task_result['id']} {task_result['state']}; project {project['id']} is now {project['name']!r}"

    # The rename waits for the Gcore task: it must not touch the project before that task has
    # FINISHED, nor at all when it ended in ERROR.
    finished >> rename
    report(finished.output, rename.output)
