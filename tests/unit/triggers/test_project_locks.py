"""Lock waits per Gcore account (``triggers/_project_locks.py``): a GET per project, or list pages.

A scripted account of N projects answers both ``GET /cloud/v1/projects/{id}`` and the paged list
(``limit``, ``offset``, ``order_by``) from one table, in virtual time, so every assertion is an
exact count of requests of each kind at exact times.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes import START, FakeApi, Reply, VirtualClock, ok, run_virtual

from airflow_provider_projects._http.wire import Request
from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger

from .support import CONN, TASK_A, status, task

LIST = "/cloud/v1/projects"


def project_path(project_id: int) -> str:
    return f"{LIST}/{project_id}"


@dataclass
class Account:
    """An account of ``count`` projects (ids 1..count, oldest first), some locked until a moment."""

    clock: VirtualClock
    count: int
    #: project id -> seconds after START when its lock clears (None: never).
    locks: dict[int, float | None] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)
    hidden: set[int] = field(default_factory=set)  # on no page (moved between pages, say), still readable

    def project(self, project_id: int) -> dict[str, Any]:
        until = self.locks.get(project_id, 0.0)
        locked = project_id in self.locks and (until is None or self.clock.now < START + until)
        return {
            "id": project_id,
            "client_id": 1,
            "name": f"project-{project_id}",
            "description": None,
            "created_at": "2026-01-01T00:00:00+0000",
            "deleted_at": None,
            "is_default": project_id == 1,
            "state": "ACTIVE",
            "task_id": TASK_A if locked else None,
        }

    def page(self, request: Request) -> Reply:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        limit, offset = int(query.get("limit", 100)), int(query.get("offset", 0))
        assert query.get("order_by", "created_at.asc") == "created_at.asc"
        ids = [i for i in range(1, self.count + 1) if i not in self.gone]
        shown = [i for i in ids[offset : offset + limit] if i not in self.hidden]
        return ok({"count": len(ids), "results": [self.project(i) for i in shown]})

    def answer_one(self, project_id: int) -> Any:
        def answer(request: Request) -> Reply:
            if project_id in self.gone:
                return Reply(404, {"exception_class": "NotFoundError", "message": f"Project {project_id} not found"})
            return ok(self.project(project_id))

        return answer

    def serve(self, api: FakeApi, waited: Iterable[int]) -> None:
        api.on("GET", LIST, self.page)
        for project_id in waited:
            api.on("GET", project_path(project_id), self.answer_one(project_id))
        api.on("GET", f"/cloud/v1/tasks/{TASK_A}", ok(task(TASK_A, "FINISHED")))


def trigger(project_id: int, deadline: float = 300, interval: float = 10, **kwargs: Any) -> GcoreProjectUnlockedTrigger:
    return GcoreProjectUnlockedTrigger(
        project_id=project_id,
        deadline=START + deadline,
        gcore_conn_id=CONN,
        poll_interval=interval,
        **kwargs,
    )


def run_all(clock: VirtualClock, triggers: list[GcoreProjectUnlockedTrigger], *, stagger: float = 0) -> list[Any]:
    """Every trigger to its event, started ``stagger`` seconds apart; the events in order."""

    async def one(index: int, waiting: GcoreProjectUnlockedTrigger) -> dict[str, Any]:
        await asyncio.sleep(index * stagger)
        [event] = [e.payload async for e in waiting.run()]
        return event  # type: ignore[no-any-return]

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(triggers))))

    events = run_virtual(clock, main())
    assert json.loads(json.dumps(events)) == events
    return events


def pages_at(api: FakeApi) -> list[float]:
    """When a page of the list (not the count probe) was read."""
    return [t for r, t in zip(api.requests, api.sent_at(), strict=True) if "limit=1000" in r.url]


def probes(api: FakeApi) -> int:
    return sum("limit=1&" in r.url or r.url.endswith("limit=1") for r in api.requests)


def gets(api: FakeApi) -> int:
    return sum(1 for r in api.requests if r.path.startswith(f"{LIST}/"))


# -- which way is cheaper -----------------------------------------------------------------------------


def test_three_waits_in_an_account_of_5000_stay_three_gets(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 5000, {7: 45.0, 2500: 45.0, 4999: 45.0})
    account.serve(api, account.locks)
    events = run_all(clock, [trigger(p) for p in account.locks])

    assert {e["status"] for e in events} == {"done"}
    assert pages_at(api) == []  # five pages per interval would cost more than three GETs
    assert probes(api) == 1  # the account's size is asked for once
    assert gets(api) == 3 * 6  # each project at +0, 10, ... 50


def test_a_thousand_waits_in_an_account_of_a_thousand_read_one_page_per_interval(
    clock: VirtualClock, api: FakeApi
) -> None:
    account = Account(clock, 1000, {p: 55.0 for p in range(1, 1001)})
    account.serve(api, account.locks)
    events = run_all(clock, [trigger(p, interval=1) for p in account.locks])

    assert {e["status"] for e in events} == {"done"}
    assert all(e["value"]["project"]["task_id"] is None for e in events)
    pages = pages_at(api)
    assert len(pages) <= 58  # one page a second, from the switch to the release (+55)
    assert all(b - a >= 1.0 - 1e-6 for a, b in itertools.pairwise(pages))  # never faster than the rate
    assert gets(api) <= 2  # the waits that started before the account's size was known
    assert probes(api) == 1
    # Every event within one interval of the release; each holder read once, at the end.
    assert max(api.sent_at()) <= 56.0 + 1e-6
    assert len(api.sent("GET", f"/cloud/v1/tasks/{TASK_A}")) == 1000


def test_pages_stop_at_the_last_project_waited_on(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 2500, {p: 25.0 for p in range(1, 11)})  # all on the first of three pages
    account.serve(api, account.locks)
    run_all(clock, [trigger(p, read_holder=False) for p in account.locks])

    offsets = [parse_qs(urlsplit(r.url).query).get("offset") for r in api.requests if "limit=1000" in r.url]
    assert offsets and all(o == ["0"] for o in offsets)


def test_a_wait_that_joins_the_list_costs_no_request_of_its_own(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 1000, {p: 100.0 for p in range(1, 21)})
    account.serve(api, account.locks)
    run_all(clock, [trigger(p, read_holder=False) for p in account.locks], stagger=3.0)

    assert gets(api) <= 2  # the first two, before the count was known
    assert probes(api) == 1
    assert len(pages_at(api)) <= 11  # one page per 10 s, whoever joins meanwhile


def test_the_account_goes_back_to_gets_when_waits_leave(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 1000, {1: 15.0, 2: 15.0, 3: 95.0})
    account.serve(api, account.locks)
    run_all(clock, [trigger(p, read_holder=False) for p in account.locks])

    after = [t for r, t in zip(api.requests, api.sent_at(), strict=True) if t > 25.0]
    kinds = {
        ("page" if "limit=1000" in r.url else r.path)
        for r, t in zip(api.requests, api.sent_at(), strict=True)
        if t > 25.0
    }
    assert after and kinds == {project_path(3)}  # one project left: a GET is cheaper than a page


# -- each wait keeps its own ------------------------------------------------------------------------


def test_a_project_missing_from_the_pages_is_read_alone_and_a_gone_one_ends_only_its_wait(
    clock: VirtualClock, api: FakeApi
) -> None:
    account = Account(clock, 1000, {p: 35.0 for p in range(1, 11)})
    account.serve(api, account.locks)
    account.hidden.add(4)  # on no page, but there
    account.gone.add(5)  # deleted
    events = run_all(clock, [trigger(p, read_holder=False) for p in account.locks])

    by_project = {
        e["value"]["project"]["id"] if e["value"] else p: e for p, e in zip(account.locks, events, strict=True)
    }
    assert by_project[4]["status"] == "done"
    assert by_project[5]["status"] == "error"
    assert by_project[5]["error"]["type"] == "NotFoundError"
    assert "Project 5 not found" in by_project[5]["error"]["message"]
    assert [by_project[p]["status"] for p in (1, 2, 3, 6, 7, 8, 9, 10)] == ["done"] * 8


def test_each_wait_keeps_its_own_deadline_on_the_list(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 1000, {p: None for p in range(1, 6)})  # never unlocked
    account.serve(api, account.locks)
    events = run_all(clock, [trigger(p, deadline=20.0 * p, read_holder=False) for p in account.locks])

    assert [(e["status"], e["polls"] > 0) for e in events] == [("timeout", True)] * 5
    assert [e["waited"] for e in events] == sorted(e["waited"] for e in events)


def test_a_refused_key_on_a_page_ends_every_wait_of_the_account(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 1000, {p: 100.0 for p in range(1, 6)})
    account.serve(api, account.locks)
    answers = iter([account.page] * 3)

    def page_then_401(request: Request) -> Reply:
        return next(answers, lambda r: status(401))(request)

    api.routes[("GET", LIST)].clear()
    api.on("GET", LIST, page_then_401)
    events = run_all(clock, [trigger(p, read_holder=False) for p in account.locks])

    assert {(e["status"], e["error"]["type"]) for e in events} == {("error", "AuthenticationError")}


def test_a_list_that_cannot_be_read_leaves_the_waits_on_gets_and_is_not_asked_again(
    clock: VirtualClock, api: FakeApi
) -> None:
    account = Account(clock, 1000, {p: 25.0 for p in range(1, 51)})
    account.serve(api, account.locks)
    api.routes[("GET", LIST)].clear()
    api.on("GET", LIST, status(403))  # a key that may read projects but not list them
    events = run_all(clock, [trigger(p, read_holder=False) for p in account.locks], stagger=0.1)

    assert {e["status"] for e in events} == {"done"}
    assert len(api.sent("GET", LIST)) == 1  # one probe for fifty waits joining one by one
    assert gets(api) == 50 * 4  # each project when its wait starts, then 10, 20 and 30 s later (unlocked at 25)
