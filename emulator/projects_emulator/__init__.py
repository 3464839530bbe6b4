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
        emu.gcore_project(2), emu.gcore_task(task_id), emu.gcai_project(emu.gcai_project_ids[0])
        emu.add_gcore_project("new-one"), emu.delete_gcore_project(3)
        emu.add_gcai_project("Secret", access_controlled=True, user_access="write")
        emu.set_gcai_rate_limit(120, 60)              # 429 + Retry-After / RateLimit-* when exceeded
        emu.edition = "2026-05"                       # Gcore spec edition: PUT accepted ("2026-08", the
                                                      # default and current one: PUT answers 405)
        emu.gcore_delete_seconds = None               # DELETE's delete_project task runs until finished

        emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", status=503, times=2)
        emu.add_fault("gcai", "GET", r"/ping", delay=5)          # answer held back 5 s
        emu.add_fault("gcai", "*", r"/projects/.*", drop=True)   # connection closed, no answer
        emu.add_fault("gcore", "GET", r"/cloud/v1/projects", truncate=True)  # 200, JSON cut in half

        emu.requests(api="gcore", method="PATCH")     # journal; Authorization stored redacted
        emu.clear_journal(); emu.reset()
        emu.airflow_connection_env()                  # {"AIRFLOW_CONN_GCORE_DEFAULT": ..., "..._GCAI_DEFAULT": ...}

Constructor: ``ProjectsEmulator(host="127.0.0.1", gcore_port=0, gcai_port=0, clock=time.monotonic,
edition="2026-08", rate_limit=None, control_port=None)``; ``gcore_put_removed=`` is a deprecated
alias of the edition. Every time-based behaviour (task progress, rate-limit window, ``updated_at``)
reads ``clock`` lazily on each request, so tests inject a fake clock instead of sleeping.
``start()``/``stop()`` exist besides the context manager.

Stalls, for "the worker died between its read and its write" tests::

        fault = emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", stall=True)
        ...                                           # the worker sends its PATCH; it is held unapplied
        emu.wait_for_stalled(1, timeout=10); emu.release_stalled(fault)   # or drop_stalled()

Command line: ``projects-emulator serve`` prints ``export AIRFLOW_CONN_...`` lines and a control
URL; ``projects-emulator lock|finish|fail|fault|release|reset|journal ...`` change a running
emulator through that URL (``ProjectsEmulator(control_port=0)`` serves it; see ``control``).

Pytest: installing this distribution registers the fixtures ``projects_emulator`` and
``projects_emulator_env`` (the latter also sets AIRFLOW_CONN_*) through the ``pytest11`` entry point.
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
