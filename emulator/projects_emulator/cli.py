"""Run the emulator from a shell: ``python -m projects_emulator --help``.

Prints one ``name=value`` line per fact (URLs, the fake test keys, seeded ids, ready-made
``AIRFLOW_CONN_*`` values) so both people and scripts can read it, then serves until SIGINT or
SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from projects_emulator.editions import CURRENT, EDITIONS
from projects_emulator.emulator import ProjectsEmulator


def _rate(text: str) -> tuple[int, float]:
    limit, _, window = text.partition("/")
    try:
        return int(limit), float(window or 60)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected LIMIT/WINDOW_SECONDS, e.g. 120/60") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m projects_emulator",
        description="Offline Gcore Cloud + GC AI project APIs on local ports.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--gcore-port", type=int, default=0, help="Gcore Cloud port (default: ephemeral)")
    parser.add_argument("--gcai-port", type=int, default=0, help="GC AI port (default: ephemeral)")
    parser.add_argument(
        "--lock-seconds",
        type=float,
        default=None,
        help="lock a Gcore project by a running task for this many seconds at start",
    )
    parser.add_argument(
        "--lock-project", type=int, default=None, help="project to lock (default: first non-default one)"
    )
    parser.add_argument("--edition", choices=EDITIONS, default=CURRENT, help="Gcore spec edition (2026-08: no PUT)")
    parser.add_argument("--gcai-rate-limit", type=_rate, default=None, help="LIMIT/WINDOW_SECONDS, e.g. 120/60")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Start the emulator, print how to reach it, serve until a stop signal."""
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    emu = ProjectsEmulator(
        host=args.host,
        gcore_port=args.gcore_port,
        gcai_port=args.gcai_port,
        edition=args.edition,
        rate_limit=args.gcai_rate_limit,
    )
    with emu:
        lines = [
            f"gcore_url={emu.gcore_url}",
            f"gcai_url={emu.gcai_url}",
            f"gcore_key={emu.gcore_key}",
            f"gcai_org_key={emu.gcai_org_key}",
            f"gcai_user_key={emu.gcai_user_key}",
            f"gcore_project_ids={','.join(str(i) for i in emu.gcore_project_ids)}",
            f"gcai_project_ids={','.join(emu.gcai_project_ids)}",
        ]
        if args.lock_seconds is not None:
            project_id = args.lock_project or emu.gcore_project_ids[1]
            task_id = emu.lock_gcore_project(project_id, seconds=args.lock_seconds)
            lines.append(f"locked_gcore_project={project_id} task_id={task_id} seconds={args.lock_seconds:g}")
        lines += [f"{name}={value}" for name, value in emu.airflow_connection_env().items()]
        lines.append("serving; stop with Ctrl+C (SIGINT) or SIGTERM")
        print("\n".join(lines), flush=True)
        while not stop.wait(0.5):
            pass
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
