"""Run each time a Gcore project is unlocked: event-driven scheduling with an ``AssetWatcher``.

The DAG is scheduled on an ``Asset`` whose watcher runs ``GcoreProjectUnlockedEventTrigger`` in
the triggerer: one asset event, so one DAG run, per locked -> unlocked edge of the project. The
task reads what the event carries (the unlocked project and the task that held its lock) and says
how the lock ended: a task that ended in ``ERROR`` may have left the project half changed.

It fires on edges only: a project already unlocked when the watch starts fires nothing, and a lock
shorter than ``poll_interval`` goes unseen. See docs/sensors.md, "Event-driven".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_projects.triggers.gcore_events import GcoreProjectUnlockedEventTrigger

# The trigger's arguments are fixed when the DAG is parsed (the triggerer runs the watch with no
# DAG run, so no template nor param reaches it): the project is named here.
GCORE_PROJECT_ID = 2

project_unlocked = Asset(
    f"gcore_project_{GCORE_PROJECT_ID}_unlocked",
    watchers=[
        AssetWatcher(
            name=f"gcore_project_{GCORE_PROJECT_ID}_lock",
            trigger=GcoreProjectUnlockedEventTrigger(project_id=GCORE_PROJECT_ID, poll_interval=5),
        )
    ],
)

with DAG(
    dag_id="gcore_project_unlocked",
    schedule=[project_unlocked],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "gcore", "event-driven"],
    doc_md=__doc__,
):

    @task
    def report_unlock(**context: Any) -> list[str]:
        """One line per unlock that started this run (the scheduler may batch several events)."""
        lines = []
        for events in context["triggering_asset_events"].values():
            for event in events:
                payload = event.extra["payload"]
                project, lock_task = payload["project"], payload["lock_task"]
                # lock_task is None when the task that held the lock could not be read.
                ended = f"task {lock_task['id']} ended {lock_task['state']}" if lock_task else "lock task unknown"
                lines.append(f"project {project['id']} ({project['name']!r}) is unlocked; {ended}")
        print("\n".join(lines) or "no unlock event: this run was not started by the watcher")
        return lines

    report_unlock()
