"""Offline emulator of the two project APIs this provider talks to: Gcore Cloud and GC AI.

Real HTTP/1.1 (keep-alive) on 127.0.0.1, standard library only, one port per API, so hooks,
operators and DAGs can be exercised end to end without network or credentials. Importing this
package is cheap: the server code loads on first use of ``ProjectsEmulator``.

Quick tour::

    from projects_emulator import ProjectsEmulator

    with ProjectsEmulator() as emu:                   # both servers, ephemeral ports
        emu.gcore_url                                 # http://127.0.0.1:<p1>  (+ /cloud/v1/...)
        emu.gcai_url                                  # http://127.0.0.1:<p2>/api/external/v1
        emu.gcore_key                                 # "emu-gcore-key-0001" -> "Authorization: APIKey <key>"
        emu.gcai_org_key, emu.gcai_user_key           # "gcai_emulator_org_key", "u:gcai_emulator_user_key"
        emu.gcore_project_ids                         # (1, 2, 3); 1 is the default project
        emu.gcai_project_ids                          # four fixed UUIDs (see gcai_state.SEED_PROJECTS)

        task_id = emu.lock_gcore_project(2, seconds=16)   # PUT/PATCH -> 409 ConflictError until it ends
        emu.finish_task(task_id, state="ERROR", error="boom")
        ids = emu.add_gcore_projects(10_000)          # one call; then lock them, each ending at its time:
        emu.lock_gcore_projects(ids, seconds=[30 + i % 60 for i in range(len(ids))])
        emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", status=503, times=2)
        emu.requests(api="gcore", method="PATCH")     # journal: .status, .wall_time; keys redacted

Constructor: ``ProjectsEmulator(host="127.0.0.1", gcore_port=0, gcai_port=0, clock=time.monotonic,
edition="2026-08", rate_limit=None, control_port=None)``; ``gcore_put_removed=`` is a deprecated
alias of the edition. Every time-based behaviour (task progress, rate-limit window, ``updated_at``,
the journal's ``wall_time``) reads ``clock`` lazily on each request, so tests inject a fake clock
instead of sleeping.

Every public method and property of ``ProjectsEmulator`` (a test keeps this list whole)::

    Lifecycle   start() -> emu; stop(); running; or ``with ProjectsEmulator() as emu:``
    Addresses   gcore_url, gcai_url, control_url (None unless control_port=), gcore_port, gcai_port
    Keys        gcore_key, gcai_org_key, gcai_user_key; airflow_connection_env() -> AIRFLOW_CONN_* values
    Settings    edition ("2026-08": PUT answers 405; "2026-05": PUT accepted); gcore_put_removed
                (deprecated alias); gcore_delete_seconds (a DELETE's task length, None: until
                finished); set_gcai_rate_limit(limit, window_seconds=60.0); reset()
    Gcore       gcore_project_ids; gcore_project(project_id) -> dict; gcore_project_revision(project_id)
                add_gcore_project(name, *, description=None, is_default=False, project_id=None) -> id
                add_gcore_projects(count, *, name_prefix="project", description=None) -> [id, ...]
                delete_gcore_project(project_id)
                lock_gcore_project(project_id, *, seconds=None, task_type="update_project",
                                   outcome="FINISHED", error=None, running_after=0.5) -> task id
                lock_gcore_projects(project_ids, *, seconds=None | S | [S, ...], <the same options>)
                                   -> [task id, ...], all or nothing
                finish_task(task_id, *, state="FINISHED", error=None); gcore_task(task_id) -> dict
    GC AI       gcai_project_ids; gcai_project(project_id) -> dict (as the organisation key sees it)
                add_gcai_project(name, *, description, custom_instructions, access_controlled,
                                 user_access, project_id) -> id; delete_gcai_project(project_id)
    Faults      add_fault(api, method, path_pattern, *, status, headers, body, delay, drop, truncate,
                          times=1, stall, stall_timeout) -> Fault; faults(); remove_fault(fault)
                clear_faults() -> how many
    Stalls      stalled(); wait_for_stalled(count=1, timeout=10.0); release_stalled(fault=None);
                drop_stalled(fault=None)
    Journal     requests(api=None, method=None, path=None) -> [RecordedRequest]; clear_journal() -> how many

Faults (see ``faults``): ``status`` answers instead of the API, ``delay`` holds the answer back,
``drop`` closes the connection unanswered, ``truncate`` cuts the JSON in half, ``headers`` are
added to the answer; ``stall=True`` holds each matching request before the API sees it::

        fault = emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", stall=True)
        ...                                           # the worker sends its PATCH; it is held unapplied
        emu.wait_for_stalled(1, timeout=10); emu.release_stalled(fault)   # or drop_stalled()

Command line: ``projects-emulator serve`` prints ``export AIRFLOW_CONN_...`` lines and a control
URL; ``projects-emulator add-projects|lock|finish|fail|fault|faults|release|reset|journal ...``
change a running emulator through that URL (``ProjectsEmulator(control_port=0)`` serves it; see
``control``).

Pytest: installing this distribution registers the fixtures ``projects_emulator`` and
``projects_emulator_env`` (the latter also sets AIRFLOW_CONN_*) through the ``pytest11`` entry point.
``projects_emulator.dagtest`` runs a DAG file with ``dag.test()`` against the emulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from projects_emulator.emulator import ProjectsEmulator
    from projects_emulator.faults import Fault
    from projects_emulator.journal import RecordedRequest

__all__ = ["Fault", "ProjectsEmulator", "RecordedRequest", "__version__"]

_LAZY = {
    "ProjectsEmulator": "projects_emulator.emulator",
    "Fault": "projects_emulator.faults",
    "RecordedRequest": "projects_emulator.journal",
}


def __getattr__(name: str) -> Any:
    """Load the public classes on first access, keeping ``import ...emulator`` cheap."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
