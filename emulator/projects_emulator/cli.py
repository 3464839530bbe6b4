"""The ``projects-emulator`` command: ``serve`` the emulator, and change a running one from another shell.

Every command but ``serve`` talks to the control endpoint whose URL ``serve`` printed (as
``export PROJECTS_EMULATOR_URL=...``), or ``--control-url``. Results go to stdout: ids or JSON
objects one a line, or a sentence saying what changed; a failure is one line on stderr and a
non-zero exit, never a traceback. The commands themselves are in ``cli_commands``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from projects_emulator import __version__
from projects_emulator import cli_commands as run_commands
from projects_emulator.control_client import URL_VARIABLE, ControlClient, ControlError
from projects_emulator.editions import CURRENT, EDITIONS


def parser() -> argparse.ArgumentParser:
    """The whole command line (``serve`` plus the control commands)."""
    top = argparse.ArgumentParser(
        prog="projects-emulator", description="Offline Gcore Cloud + GC AI project APIs on local ports."
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    url_help = f"control URL printed by `serve` (default: ${URL_VARIABLE})"
    top.add_argument("--control-url", default=os.environ.get(URL_VARIABLE), help=url_help)
    # Accepted after the command too; SUPPRESS keeps a value given before the command.
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--control-url", default=argparse.SUPPRESS, help=url_help)
    _add_serve(commands)

    def add(name: str, run: run_commands.Command, summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[remote], help=summary)
        sub.set_defaults(run=run)
        return sub

    _add_gcore_commands(add)
    _add_fault_commands(add)
    _add_other_commands(add)
    return top


Adder = Callable[[str, run_commands.Command, str], argparse.ArgumentParser]


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the emulator until Ctrl+C or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host (fixed public keys!)")
    for name, what in (("gcore", "Gcore Cloud"), ("gcai", "GC AI"), ("control", "control endpoint")):
        serve.add_argument(
            f"--{name}-port", type=int, default=0, metavar="N", help=f"{what} port (default 0: a free one)"
        )
    serve.add_argument("--edition", choices=EDITIONS, default=CURRENT, help=f"Gcore spec edition (default {CURRENT})")
    serve.add_argument(
        "--gcai-rate-limit", type=run_commands.rate, metavar="LIMIT/WINDOW", help="GC AI limit, e.g. 120/60"
    )
    serve.set_defaults(run=None)


def _add_gcore_commands(add: Adder) -> None:
    projects = add("add-projects", run_commands.add_projects, "create Gcore projects at once; prints their ids")
    projects.add_argument("count", type=int, metavar="COUNT")
    projects.add_argument("--name-prefix", default="project", help="names are PREFIX-ID (default project)")
    projects.add_argument("--description", help="every new project's description (default none)")
    lock = add("lock", run_commands.lock, "lock Gcore projects, each by a running task; prints the task ids")
    lock.add_argument(
        "project_ids", type=run_commands.project_ids, nargs="+", metavar="PROJECT_ID", help="an id, or FIRST-LAST"
    )
    how_long = lock.add_mutually_exclusive_group()
    how_long.add_argument("--seconds", type=float, default=16.0, help="the tasks end after this long (default 16)")
    how_long.add_argument("--until-released", action="store_true", help="the tasks run until `finish`/`fail`")
    lock.add_argument("--task-type", default="update_project", help="task type in the 409 message")
    finish = add("finish", run_commands.finish, "end a Gcore task as FINISHED (releases its lock)")
    finish.add_argument("task_id", metavar="TASK_ID")
    fail = add("fail", run_commands.fail, "end a Gcore task as ERROR (releases its lock)")
    fail.add_argument("task_id", metavar="TASK_ID")
    fail.add_argument("--error", required=True, help="the task's error text")


def _add_fault_commands(add: Adder) -> None:
    fault = add("fault", run_commands.fault, "make matching requests misbehave; prints the fault id")
    fault.add_argument("api", choices=("gcore", "gcai"), metavar="API", help="gcore or gcai")
    fault.add_argument("method", metavar="METHOD", help="HTTP method, or * for any")
    fault.add_argument("path_regex", metavar="PATH_REGEX", help="regex for the whole path, e.g. /cloud/v1/projects/2")
    fault.add_argument("--status", type=int, help="answer this status instead of the API (vendor error body)")
    times = fault.add_mutually_exclusive_group()
    times.add_argument("--times", type=int, default=1, help="how many requests it applies to (default 1)")
    times.add_argument("--forever", action="store_true", help="until removed")
    fault.add_argument("--delay", type=float, metavar="S", help="hold the answer back S seconds")
    fault.add_argument("--drop", action="store_true", help="close the connection without an answer")
    fault.add_argument("--stall", action="store_true", help="hold the request unhandled until `release`/`drop`")
    fault.add_argument("--stall-timeout", type=float, metavar="S", help="drop a stalled request after S s (300)")
    fault.add_argument("--truncate", action="store_true", help="cut the answer's body in half")
    fault.add_argument("--header", type=run_commands.header, action="append", metavar="NAME:VALUE", help="add a header")
    fault.add_argument("--body", help="answer this body verbatim")
    faults = add("faults", run_commands.faults, "list the active faults, one JSON object a line")
    faults.add_argument("--clear", action="store_true", help="remove them all instead")
    add("remove-fault", run_commands.remove_fault, "withdraw one fault").add_argument(
        "fault_id", type=int, metavar="FAULT_ID"
    )
    for action, what in (("release", "let stalled requests through"), ("drop", "drop stalled requests unanswered")):
        sub = add(action, run_commands.stalled(action), f"{what}; prints how many")
        sub.add_argument("--fault", type=int, metavar="FAULT_ID", help="only those of this fault")
    add("stalls", run_commands.stalls, "list the requests stall faults hold")


def _add_other_commands(add: Adder) -> None:
    journal = add("journal", run_commands.journal, "print received requests and their answers' status, one a line")
    journal.add_argument("--api", choices=("gcore", "gcai"))
    journal.add_argument("--method")
    journal.add_argument("--path", help="exact path without the base prefix")
    journal.add_argument("--clear", action="store_true", help="forget the journal instead")
    add("rate-limit", run_commands.rate_limit, "limit GC AI requests").add_argument("rate", metavar="LIMIT/WINDOW|off")
    add("edition", run_commands.edition, "switch the Gcore spec edition").add_argument("edition", choices=EDITIONS)
    add("reset", run_commands.reset, "back to the seeded start (data, faults, journal, settings)")
    add("status", run_commands.status, "print what runs where, the faults and the stalled requests")


def _print(result: Any) -> None:
    if isinstance(result, list):
        # Ids one a line, bare (``xargs``-ready); records one JSON object a line.
        for item in result:
            print(item if isinstance(item, str | int) else json.dumps(item, sort_keys=True))
    elif isinstance(result, dict):
        if result:
            print(json.dumps(result, sort_keys=True, indent=2))
    elif result is not None:
        print(result)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = parser().parse_args(argv)
    if args.run is None:
        return _serve(args)
    if not args.control_url:
        print(
            f"projects-emulator: no control URL: pass --control-url or export {URL_VARIABLE} "
            "(`projects-emulator serve` prints it)",
            file=sys.stderr,
        )
        return 2
    try:
        client = ControlClient(args.control_url)
        _print(args.run(client, args))
    except ControlError as exc:
        print(f"projects-emulator {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


def _serve(args: argparse.Namespace) -> int:
    from projects_emulator.emulator import ProjectsEmulator
    from projects_emulator.listeners import is_loopback
    from projects_emulator.serve import serve

    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"projects-emulator: refusing to serve on {args.host}: the emulator accepts fixed, published keys "
            "and its control endpoint has none; use 127.0.0.1, or add --allow-remote",
            file=sys.stderr,
        )
        return 2
    emu = ProjectsEmulator(
        host=args.host,
        gcore_port=args.gcore_port,
        gcai_port=args.gcai_port,
        control_port=args.control_port,
        edition=args.edition,
        rate_limit=args.gcai_rate_limit,
    )
    return serve(emu)


if __name__ == "__main__":
    raise SystemExit(main())
