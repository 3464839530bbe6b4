"""After the nightly load: rename the Gcore project for the release, wait for its lock to clear,
then point the GC AI project's custom instructions at the new release.

Ids come from params so the same DAG runs against production or the built-in emulator
(the defaults are the emulator's seeded projects). Connections: ``gcore_default`` and
``gcai_default``. Set ``[operators] default_deferrable = True`` to wait in the triggerer.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
from airflow_provider_projects.operators.gcore import GcoreReplaceProjectOperator
from airflow_provider_projects.sensors.gcore import GcoreProjectUnlockedSensor

with DAG(
    dag_id="projects_release_rollout",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"gcore_project_id": 2, "gcai_project_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a"},
    tags=["example", "gcore", "gcai"],
    doc_md=__doc__,
):

    @task
    def nightly_load() -> dict[str, object]:
        """Stands in for the data pipeline that precedes the project changes."""
        return {"release": "2026.11", "rows_loaded": 1_284_113}

    load = nightly_load()

    rename = GcoreReplaceProjectOperator(
        task_id="rename_gcore_project",
        project_id="{{ params.gcore_project_id }}",
        name="analytics-{{ ti.xcom_pull(task_ids='nightly_load')['release'] }}",
        # run_after, not ds: a run triggered without a logical date (what `airflow dags trigger`
        # and the REST API create by default in Airflow 3) has no ds, and rendering would fail.
        description=(
            "Release {{ ti.xcom_pull(task_ids='nightly_load')['release'] }}, loaded {{ dag_run.run_after | ds }}"
        ),
        poll_interval=1,
        lock_timeout=300,
    )

    settled = GcoreProjectUnlockedSensor(
        task_id="wait_for_gcore_unlock",
        project_id="{{ params.gcore_project_id }}",
        poke_interval=1,
        timeout=300,
    )

    instruct = GcaiUpdateProjectOperator(
        task_id="update_gcai_instructions",
        project_id="{{ params.gcai_project_id }}",
        custom_instructions=(
            "Answer from release {{ ti.xcom_pull(task_ids='nightly_load')['release'] }} data "
            "({{ ti.xcom_pull(task_ids='nightly_load')['rows_loaded'] }} rows). Cite the table you used."
        ),
    )

    load >> rename >> settled >> instruct
