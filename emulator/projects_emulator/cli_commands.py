"""What each ``projects-emulator`` command (but ``serve``) does: one control call, one printable result.

A result is a line of text, an id, a list (printed one item a line) or a JSON object. Commands
that change something say what they changed, so a script's log shows it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from projects_emulator.control_client import ControlClient

Command = Callable[[ControlClient, argparse.Namespace], Any]


def rate(text: str) -> tuple[int, float]:
    """Parse ``LIMIT/WINDOW_SECONDS`` (``120/60``; the window defaults to 60)."""
    limit, _, window = text.partition("/")
    try:
        return int(limit), float(window or 60)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected LIMIT/WINDOW_SECONDS, e.g. 120/60, or off") from exc


def header(text: str) -> tuple[str, str]:
    """Parse ``NAME:VALUE``."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("expected NAME:VALUE, e.g. Retry-After:3")
    return name.strip(), value.strip()


def project_ids(text: str) -> list[int]:
    """Parse a project id (``7``) or an inclusive range of them (``4-10003``)."""
    first, sep, last = text.partition("-")
    try:
        start, end = int(first), int(last) if sep else int(first)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected a project id (7) or a range of them (4-10003)") from exc
    if end < start:
        raise argparse.ArgumentTypeError(f"the range {text} is empty: write the lower id first")
    return list(range(start, end + 1))


def add_projects(client: ControlClient, args: argparse.Namespace) -> Any:
    body = {"count": args.count, "name_prefix": args.name_prefix, "description": args.description}
    return client.call("POST", "/gcore/projects", body)["project_ids"]


def lock(client: ControlClient, args: argparse.Namespace) -> Any:
    ids = [pid for chunk in args.project_ids for pid in chunk]
    seconds = None if args.until_released else args.seconds
    body = {"project_ids": ids, "seconds": seconds, "task_type": args.task_type}
    return client.call("POST", "/locks", body)["task_ids"]


def finish(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("POST", f"/tasks/{args.task_id}/finish", {"state": "FINISHED"})["task"]["state"]


def fail(client: ControlClient, args: argparse.Namespace) -> Any:
    body = {"state": "ERROR", "error": args.error}
    return client.call("POST", f"/tasks/{args.task_id}/finish", body)["task"]["state"]


def fault(client: ControlClient, args: argparse.Namespace) -> Any:
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


def faults(client: ControlClient, args: argparse.Namespace) -> Any:
    if args.clear:
        return _counted(client.call("DELETE", "/faults")["cleared"], "removed {n} fault{s}")
    return client.call("GET", "/faults")["faults"]


def remove_fault(client: ControlClient, args: argparse.Namespace) -> Any:
    return f"removed fault {client.call('DELETE', f'/faults/{args.fault_id}')['removed']}"


def stalled(action: str) -> Command:
    def run(client: ControlClient, args: argparse.Namespace) -> Any:
        return client.call("POST", f"/stalls/{action}", {"fault_id": args.fault})["count"]

    return run


def stalls(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("GET", "/stalls")["stalled"]


def journal(client: ControlClient, args: argparse.Namespace) -> Any:
    if args.clear:
        return _counted(client.call("DELETE", "/journal")["cleared"], "forgot {n} request{s}")
    query = {"api": args.api, "method": args.method, "path": args.path}
    return client.call("GET", "/journal", query=query)["requests"]


def rate_limit(client: ControlClient, args: argparse.Namespace) -> Any:
    limit, window = (None, 60.0) if args.rate == "off" else rate(args.rate)
    now = client.call("PUT", "/rate-limit", {"limit": limit, "window": window})
    if now["limit"] is None:
        return "GC AI rate limit: off"
    return f"GC AI rate limit: {now['limit']} requests per {now['window']:g} s per organisation"


def edition(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("PUT", "/edition", {"edition": args.edition})["edition"]


def reset(client: ControlClient, args: argparse.Namespace) -> Any:
    client.call("POST", "/reset")
    return "reset: seeded projects, no tasks, faults, stalled requests or journal, the settings serve started with"


def status(client: ControlClient, args: argparse.Namespace) -> Any:
    return client.call("GET", "/")


def _counted(count: int, template: str) -> str:
    return template.format(n=count, s="" if count == 1 else "s")
