"""``projects-emulator serve``: run both APIs and the control endpoint until Ctrl+C or SIGTERM.

What it prints on stdout pastes into a shell as it is: ``export`` lines, and ``#`` comments for
everything else, so the whole block (or any line of it) can be copied in one go.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from types import FrameType

from projects_emulator import __version__
from projects_emulator.control_client import URL_VARIABLE
from projects_emulator.emulator import ProjectsEmulator
from projects_emulator.listeners import BindError

#: Which option sets each server's port, to name it when that port is busy.
PORT_FLAGS = {"gcore": "--gcore-port", "gcai": "--gcai-port", "control": "--control-port"}
_NAMES = {"gcore": "Gcore Cloud", "gcai": "GC AI", "control": "the control endpoint"}


def serve(emu: ProjectsEmulator) -> int:
    """Start ``emu``, print how to reach it, serve until a stop signal; returns the exit status."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        emu.start()
    except BindError as exc:
        flag = PORT_FLAGS.get(exc.api, "--host")
        hint = f"choose another with {flag} N (0 picks a free port)" if exc.in_use else f"check {flag} and --host"
        print(f"projects-emulator: {exc.strerror} for {_NAMES[exc.api]}; {hint}", file=sys.stderr)
        return 1
    try:
        print(banner(emu), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
    print("# stopped", flush=True)
    return 0


def banner(emu: ProjectsEmulator) -> str:
    """The lines ``serve`` prints: exports to paste, then what runs where, as shell comments.

    Every id it prints is whole and readable with the key its ``export`` line sets (the
    organisation key, for GC AI); it says which key sees the access-controlled projects.
    """
    exports = {**emu.airflow_connection_env(), URL_VARIABLE: emu.control_url or ""}
    lines = [f"# projects-emulator {__version__}: Gcore Cloud (spec edition {emu.edition}) and GC AI on {emu.host}"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
    lines += [
        f"# Gcore Cloud   {emu.gcore_url}  key {emu.gcore_key} (Authorization: APIKey <key>)",
        f"#               projects {', '.join(map(str, emu.gcore_project_ids))} (1 is the default project)",
        *_gcai_lines(emu),
        f"# Control       {emu.control_url}  (projects-emulator lock|finish|fail|fault|release|reset|journal ...)",
        "# Serving until Ctrl+C or SIGTERM.",
    ]
    return "\n".join(lines)


def _gcai_lines(emu: ProjectsEmulator) -> list[str]:
    org_wide = [pid for pid in emu.gcai_project_ids if not emu.gcai_project(pid)["is_access_controlled"]]
    hidden = len(emu.gcai_project_ids) - len(org_wide)
    return [
        f"# GC AI         {emu.gcai_url}  key {emu.gcai_org_key} (organisation; the export above)",
        f"#               projects {', '.join(org_wide)}",
        f"#               the personal key {emu.gcai_user_key} also sees {hidden} access-controlled projects",
        "#               (GET /projects with it lists them; the organisation key gets 404 for them)",
    ]
