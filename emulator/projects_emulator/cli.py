"""The ``projects-emulator`` command: ``serve`` the emulator, and change a running one from another shell.

Every command but ``serve`` talks to the control endpoint whose URL ``serve`` printed (as
``export PROJECTS_EMULATOR_URL=...``), or ``--control-url``. Results go to stdout (one id, or one
JSON object per line); a failure is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from projects_emulator import __version__
from projects_emulator.control_client import URL_VARIABLE, ControlClient, ControlError
from projects_emulator.editions import CURRENT, EDITIONS

Command = Callable[[ControlClient, argparse.Namespace], Any]


def rate(text: str) -> tuple[int, float]:
    """Parse ``LIMIT/WINDOW_SECONDS`` (``120/60``; the window defaults to 60)."""
    limit, _, window = text.partition("/")
    try:
        return int(limit), float(window or 60)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected LIMIT/WINDOW_SECONDS, e.g. 120/60, or off") from exc


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("expected NAME:VALUE, e.g. Retry-After:3")
    return name.strip(), value.strip()


# -- commands against a running emulator ---------------------------------------------------------
def _lock(client: ControlClient, args: argparse.Namespace) -> Any:
    seconds = None if args.until_released else args.seconds
    body = {"project_id": args.project_id, "seconds": seconds, "task_type": args.task_type}
    return client.call("POST", "/locks", body)["task_id"]


def _finish(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("POST", f"/tasks/{args.task_id}/finish", {"state": "FINISHED"})["task"]["state"]


def _fail(client: ControlClient, args: argparse.Namespace) -> Any:
    body = {"state": "ERROR", "error": args.error}
    return client.call("POST", f"/tasks/{args.task_id}/finish", body)["task"]["state"]


def _fault(client: ControlClient, args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {
        "api": args.api,
        "method": args.method,
        "path": args.path_regex,
        "times": None if args.forever else args.times,
        "drop": args.drop,
        "truncate": args.truncate,
        "stall": args.stall,
    }
    optional = {"status": args.status, "delay": args.delay, "body": args.body, "stall_timeout": args.stall_timeout}
    body.update({name: value for name, value in optional.items() if value is not None})
    if args.header:
        body["headers"] = dict(args.header)
    return client.call("POST", "/faults", body)["fault"]["id"]


def _faults(client: ControlClient, args: argparse.Namespace) -> Any:
    if args.clear:
        return client.call("DELETE", "/faults")
    return client.call("GET", "/faults")["faults"]


def _remove_fault(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("DELETE", f"/faults/{args.fault_id}")


def _stalled(action: str) -> Command:
    def run(client: ControlClient, args: argparse.Namespace) -> Any:
        return client.call("POST", f"/stalls/{action}", {"fault_id": args.fault})["count"]

    return run


def _stalls(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("GET", "/stalls")["stalled"]


def _journal(client: ControlClient, args: argparse.Namespace) -> Any:
    if args.clear:
        return client.call("DELETE", "/journal")
    query = {"api": args.api, "method": args.method, "path": args.path}
    return client.call("GET", "/journal", query=query)["requests"]


def _rate_limit(client: ControlClient, args: argparse.Namespace) -> Any:
    limit, window = (None, 60.0) if args.rate == "off" else rate(args.rate)
    return client.call("PUT", "/rate-limit", {"limit": limit, "window": window})


def _edition(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("PUT", "/edition", {"edition": args.edition})["edition"]


def _reset(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("POST", "/reset")


def _status(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("GET", "/")


# -- the parser ----------------------------------------------------------------------------------
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

    serve = commands.add_parser("serve", help="run the emulator until Ctrl+C or SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host (fixed public keys!)")
    for name, what in (("gcore", "Gcore Cloud"), ("gcai", "GC AI"), ("control", "control endpoint")):
        serve.add_argument(
            f"--{name}-port", type=int, default=0, metavar="N", help=f"{what} port (default 0: a free one)"
        )
    serve.add_argument("--edition", choices=EDITIONS, default=CURRENT, help=f"Gcore spec edition (default {CURRENT})")
    serve.add_argument("--gcai-rate-limit", type=rate, metavar="LIMIT/WINDOW", help="GC AI limit, e.g. 120/60")
    serve.set_defaults(run=None)

    def add(name: str, run: Command, summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[remote], help=summary)
        sub.set_defaults(run=run)
        return sub

    lock = add("lock", _lock, "lock a Gcore project by a running task; prints the task id")
    lock.add_argument("project_id", type=int, metavar="PROJECT_ID")
    how_long = lock.add_mutually_exclusive_group()
    how_long.add_argument("--seconds", type=float, default=16.0, help="the task ends after this long (default 16)")
    how_long.add_argument("--until-released", action="store_true", help="the task runs until `finish`/`fail`")
    lock.add_argument("--task-type", default="update_project", help="task type in the 409 message")
    finish = add("finish", _finish, "end a Gcore task as FINISHED (releases its lock)")
    finish.add_argument("task_id", metavar="TASK_ID")
    fail = add("fail", _fail, "end a Gcore task as ERROR (releases its lock)")
    fail.add_argument("task_id", metavar="TASK_ID")
    fail.add_argument("--error", required=True, help="the task's error text")

    fault = add("fault", _fault, "make matching requests misbehave; prints the fault id")
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
    fault.add_argument("--header", type=_header, action="append", metavar="NAME:VALUE", help="add a header")
    fault.add_argument("--body", help="answer this body verbatim")
    add("faults", _faults, "list the active faults").add_argument("--clear", action="store_true", help="remove all")
    add("remove-fault", _remove_fault, "withdraw one fault").add_argument("fault_id", type=int, metavar="FAULT_ID")
    for action, what in (("release", "let stalled requests through"), ("drop", "drop stalled requests unanswered")):
        sub = add(action, _stalled(action), f"{what}; prints how many")
        sub.add_argument("--fault", type=int, metavar="FAULT_ID", help="only those of this fault")
    add("stalls", _stalls, "list the requests stall faults hold")

    journal = add("journal", _journal, "print received requests, one JSON object a line")
    journal.add_argument("--api", choices=("gcore", "gcai"))
    journal.add_argument("--method")
    journal.add_argument("--path", help="exact path without the base prefix")
    journal.add_argument("--clear", action="store_true", help="forget the journal instead")
    add("rate-limit", _rate_limit, "limit GC AI requests").add_argument("rate", metavar="LIMIT/WINDOW|off")
    add("edition", _edition, "switch the Gcore spec edition").add_argument("edition", choices=EDITIONS)
    add("reset", _reset, "back to the seeded start (data, faults, journal, settings)")
    add("status", _status, "print what runs where, the faults and the stalled requests")
    return top


def _print(result: Any) -> None:
    if isinstance(result, list):
        for item in result:
            print(json.dumps(item, sort_keys=True))
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
    from projects_emulator.serve import is_loopback, serve

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
