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

import pytest
from fakes import START, FakeApi, Reply, VirtualClock, ok, run_virtual

from airflow_provider_projects._http.wire import Request
from airflow_provider_projects.triggers.gcore import GcoreProjectUnlockedTrigger

from .support import API_KEY, CONN, TASK_A, connect, status, task

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
        poll_interval=interval,
        **{"gcore_conn_id": CONN, **kwargs},
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


# -- the plan: exact costs at the break-even ----------------------------------------------------------


def kinds_after(api: FakeApi, moment: float) -> set[str]:
    """What was read after ``moment`` s: "page", "count" or a project's path."""
    found = set()
    for request, at in zip(api.requests, api.sent_at(), strict=True):
        if at > moment and "/tasks/" not in request.path:
            found.add("page" if "limit=1000" in request.url else "count" if "limit=1" in request.url else request.path)
    return found


def run_until(clock: VirtualClock, seconds: float, triggers: list[GcoreProjectUnlockedTrigger]) -> None:
    """Run the triggers for ``seconds`` of virtual time (their locks never clear), then cancel them."""

    async def main() -> None:
        running = [asyncio.ensure_future(first_event(t)) for t in triggers]
        await asyncio.sleep(seconds)
        for task_ in running:
            task_.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    run_virtual(clock, main())


async def first_event(trigger_: GcoreProjectUnlockedTrigger) -> dict[str, Any]:
    [event] = [e.payload async for e in trigger_.run()]
    return event  # type: ignore[no-any-return]


def held(account: Account, projects: Iterable[int]) -> None:
    account.locks.update(dict.fromkeys(projects))  # locked for ever


@pytest.mark.parametrize(("waits", "listed"), [(5, False), (6, True)])
def test_the_list_is_chosen_only_below_the_margin(clock: VirtualClock, api: FakeApi, waits: int, listed: bool) -> None:
    """4 pages a second against one GET per project a second: the list needs more than 5 projects (4 < 0.8 n)."""
    account = Account(clock, 4000, {})
    held(account, range(1, waits + 1))
    account.serve(api, account.locks)
    run_until(clock, 25, [trigger(p, interval=1, read_holder=False) for p in account.locks])
    assert kinds_after(api, 20) == ({"page"} if listed else {project_path(p) for p in account.locks})


def test_two_waits_in_a_small_account_are_one_page(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 900, {})
    held(account, (1, 2))
    account.serve(api, account.locks)
    run_until(clock, 25, [trigger(p, interval=1, read_holder=False) for p in account.locks])
    assert kinds_after(api, 20) == {"page"}


def test_four_waits_in_an_account_of_five_pages_stay_gets(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 5000, {})
    held(account, range(1, 5))
    account.serve(api, account.locks)
    run_until(clock, 25, [trigger(p, interval=1, read_holder=False) for p in account.locks])
    assert kinds_after(api, 20) == {project_path(p) for p in account.locks}


def test_the_list_stays_while_it_costs_no_more_than_the_gets(clock: VirtualClock, api: FakeApi) -> None:
    """Six waits in 4 pages choose the list; two leave: 4 pages = 4 GETs, so the list stays (no flip-flop)."""
    account = Account(clock, 4000, {})
    held(account, range(1, 7))
    account.serve(api, account.locks)
    leaving = [trigger(p, interval=1, read_holder=False, deadline=15) for p in (5, 6)]
    staying = [trigger(p, interval=1, read_holder=False) for p in range(1, 5)]
    run_until(clock, 40, [*staying, *leaving])
    assert kinds_after(api, 30) == {"page"}


def test_waits_that_leave_take_their_share_of_the_cost_with_them(clock: VirtualClock, api: FakeApi) -> None:
    """Ten waits in 5 pages choose the list; six leave, four stay: 5 pages > 4 GETs, back to GETs."""
    account = Account(clock, 5000, {})
    held(account, range(1, 11))
    account.serve(api, account.locks)
    leaving = [trigger(p, interval=1, read_holder=False, deadline=15) for p in range(5, 11)]
    staying = [trigger(p, interval=1, read_holder=False) for p in range(1, 5)]
    run_until(clock, 40, [*staying, *leaving])
    assert "page" in kinds_after(api, 5)
    assert kinds_after(api, 30) == {project_path(p) for p in range(1, 5)}


def test_a_project_with_two_waits_counts_once(clock: VirtualClock, api: FakeApi) -> None:
    """Four projects with two waits each, in 5 pages: 4 GETs a second, not 8 (which would pick the list)."""
    account = Account(clock, 5000, {})
    held(account, range(1, 5))
    account.serve(api, account.locks)
    run_until(clock, 25, [trigger(p, interval=1, read_holder=False) for p in (*account.locks, *account.locks)])
    assert kinds_after(api, 20) == {project_path(p) for p in account.locks}
    assert len([r for r, t in zip(api.requests, api.sent_at(), strict=True) if t > 20]) == 4 * 4  # +21..+24


def test_the_shortest_interval_sets_the_pages_rate_and_each_its_own_share(clock: VirtualClock, api: FakeApi) -> None:
    """3 pages at the shortest interval (1 s) against 2 GETs/s + 5 at 10 s (2.5/s): 3 < 2.0 is false: GETs."""
    account = Account(clock, 3000, {})
    held(account, range(1, 8))
    account.serve(api, account.locks)
    quick = [trigger(p, interval=1, read_holder=False) for p in (1, 2)]
    slow = [trigger(p, interval=10, read_holder=False) for p in range(3, 8)]
    run_until(clock, 45, [*quick, *slow])
    assert "page" not in kinds_after(api, 30)


def test_moved_waits_are_polled_one_interval_after_the_switch(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 1000, {})
    held(account, range(1, 4))
    account.serve(api, account.locks)
    run_until(clock, 35, [trigger(p, interval=10, read_holder=False) for p in account.locks])
    pages = pages_at(api)
    assert pages[:3] == [10.0, 20.0, 30.0]  # not at +0 again, right after their GETs of +0
    assert gets(api) == 2  # the first two, before the account's size was known


def test_an_account_that_grows_past_the_break_even_goes_back_to_gets(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 1000, {})
    held(account, range(1, 6))
    account.serve(api, account.locks)

    async def main() -> None:
        running = [asyncio.ensure_future(first_event(trigger(p, interval=1, read_holder=False))) for p in range(1, 6)]
        await asyncio.sleep(9.5)
        account.count = 9000  # 9 pages now: more than 5 GETs a second
        await asyncio.sleep(10)
        for task_ in running:
            task_.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    run_virtual(clock, main())
    # Pages at +1 .. +10; the page of +10 says 9,000 and the waits are read by project from then on.
    assert pages_at(api) == [float(t) for t in range(1, 11)]
    assert kinds_after(api, 10) == {project_path(p) for p in range(1, 6)}


def test_a_known_size_is_asked_again_only_once_five_minutes_old(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 5000, {})
    held(account, range(1, 5))
    account.serve(api, account.locks)

    async def main() -> list[int]:
        waits = [
            asyncio.ensure_future(first_event(trigger(p, interval=10, read_holder=False, deadline=1000)))
            for p in (1, 2)
        ]
        await asyncio.sleep(0.1)
        counts = [probes(api)]  # the two waits: the size asked for at +0
        for moment, project in ((300.0, 3), (300.5, 4)):  # exactly five minutes old, then older
            await asyncio.sleep(START + moment - clock.now)
            waits.append(
                asyncio.ensure_future(first_event(trigger(project, interval=10, read_holder=False, deadline=1000)))
            )
            await asyncio.sleep(0.1)
            counts.append(probes(api))
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        return counts

    assert run_virtual(clock, main()) == [1, 1, 2]


def test_a_failed_count_leaves_the_waits_polled_at_once(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 1000, {})
    held(account, range(1, 4))
    account.serve(api, account.locks)
    api.routes[("GET", LIST)].clear()
    api.on("GET", LIST, status(403))
    run_until(clock, 25, [trigger(p, interval=10, read_holder=False) for p in account.locks])
    for project_id in account.locks:  # on their own grid from +0, no pause for a move that did not happen
        assert api.sent_at("GET", project_path(project_id)) == [0.0, 10.0, 20.0]


@pytest.mark.parametrize(("size", "waits"), [(1000, 10), (5000, 2)], ids=["the list", "gets"])
def test_cancelled_waits_leave_no_poll_behind(clock: VirtualClock, api: FakeApi, size: int, waits: int) -> None:
    account = Account(clock, size, {})
    held(account, range(1, waits + 1))
    account.serve(api, account.locks)

    async def main() -> tuple[int, int]:
        running = [
            asyncio.ensure_future(first_event(trigger(p, interval=1, read_holder=False))) for p in range(1, waits + 1)
        ]
        await asyncio.sleep(25)
        for task_ in running:
            task_.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        before = len(api.requests)
        await asyncio.sleep(100)  # in the same loop: a poll left behind would go on reading
        return before, len(api.requests)

    before, after = run_virtual(clock, main())
    assert before > 0
    assert after == before


def test_nothing_of_an_account_is_kept_after_its_last_wait(clock: VirtualClock, api: FakeApi) -> None:
    """A new burst of waits on the same key asks the size again: no account outlives its waits."""
    account = Account(clock, 1000, {})
    held(account, range(1, 4))
    account.serve(api, account.locks)

    async def main() -> None:
        for _ in range(2):
            running = [
                asyncio.ensure_future(first_event(trigger(p, interval=10, read_holder=False))) for p in (1, 2, 3)
            ]
            await asyncio.sleep(15)
            for task_ in running:
                task_.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            await asyncio.sleep(5)

    run_virtual(clock, main())
    assert probes(api) == 2


# -- the lock holder ------------------------------------------------------------------------------


def test_a_holder_named_before_deferring_is_read_only_once_it_has_held_a_minute(
    clock: VirtualClock, api: FakeApi
) -> None:
    account = Account(clock, 1000, {1: 95.0})
    account.serve(api, account.locks)
    run_all(clock, [trigger(1, interval=10, lock_task_id=TASK_A)])
    # The holder (seen by the sensor before deferring, at +0) is read at the first poll past a
    # minute (+60, for the progress lines), then once more when it clears (+100).
    assert api.sent_at("GET", f"/cloud/v1/tasks/{TASK_A}") == [60.0, 100.0]


def test_a_holder_seen_on_a_poll_but_not_read_since_is_not_reported_stale(clock: VirtualClock, api: FakeApi) -> None:
    """Read as RUNNING at a minute (by project), then served by the list: at the unlock the wait reads it itself."""
    account = Account(clock, 1000, {1: 125.0, 2: 200.0, 3: 200.0})
    account.serve(api, account.locks)
    api.routes[("GET", f"/cloud/v1/tasks/{TASK_A}")].clear()
    api.on(
        "GET",
        f"/cloud/v1/tasks/{TASK_A}",
        lambda r: ok(task(TASK_A, "RUNNING" if clock.now < START + 125 else "FINISHED")),
    )

    async def main() -> dict[str, Any]:
        sensor = asyncio.ensure_future(first_event(trigger(1, interval=10)))
        await asyncio.sleep(75)  # held over a minute: read (RUNNING) for the progress lines
        others = [asyncio.ensure_future(first_event(trigger(p, interval=10, read_holder=False))) for p in (2, 3)]
        event = await sensor
        for task_ in others:
            task_.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        return event

    event = run_virtual(clock, main())
    assert event["value"]["holder"]["state"] == "FINISHED"


# -- the pages ---------------------------------------------------------------------------------


def page_offsets(api: FakeApi) -> list[int]:
    return [int(parse_qs(urlsplit(r.url).query)["offset"][0]) for r in api.requests if "limit=1000" in r.url]


def test_pages_are_read_up_to_the_last_project_waited_on(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 3500, {p: 15.0 for p in (5, 6, 1500, 1501, 2900, 2901)})  # pages 1 to 3 of 4
    account.serve(api, account.locks)
    run_all(clock, [trigger(p, interval=10, read_holder=False) for p in account.locks])
    assert page_offsets(api) == [0, 1000, 2000] * 2  # the list at +10 and +20, never the fourth page
    assert gets(api) == 2  # the first two, before the size was known


def test_a_full_last_page_ends_the_list(clock: VirtualClock, api: FakeApi) -> None:
    """2,000 projects: the page at 1,000 is full and the last; a project on no page is read alone."""
    account = Account(clock, 2000, {p: 15.0 for p in (5, 1500, 1999)})
    account.serve(api, account.locks)
    account.hidden.add(1999)
    run_all(clock, [trigger(p, interval=10, read_holder=False) for p in account.locks])
    assert page_offsets(api) == [0, 1000] * 2  # at +10 and +20: no empty page at 2,000
    assert api.sent_at("GET", project_path(1999))[-2:] == [10.0, 20.0]  # read alone, beside each list poll


def test_a_page_is_the_same_request_on_every_poll(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 1000, {p: 35.0 for p in range(1, 4)})
    account.serve(api, account.locks)
    run_all(clock, [trigger(p, interval=10, read_holder=False) for p in account.locks])
    pages = [r for r in api.requests if "limit=1000" in r.url]
    assert len(pages) == 4  # +10 .. +40
    assert all(page is pages[0] for page in pages)  # built once, sent again


def test_the_list_never_reads_a_holder_even_for_a_wait_that_wants_it(clock: VirtualClock, api: FakeApi) -> None:
    """Pages hold projects, not tasks: a holder held over a minute is not read per project; each wait
    that wants it reads it once at its end (one read per wait, not per project and poll)."""
    account = Account(clock, 1000, {p: 95.0 for p in range(1, 4)})
    account.serve(api, account.locks)
    account.hidden.add(3)  # read alone, beside the pages: the same rule
    run_all(clock, [trigger(p, interval=10) for p in account.locks])  # read_holder: as an old sensor's
    assert api.sent_at("GET", f"/cloud/v1/tasks/{TASK_A}") == [100.0, 100.0, 100.0]


def test_a_wait_that_leaves_during_a_page_read_leaves_the_others_waiting(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 1000, {p: 45.0 for p in range(1, 4)})
    account.serve(api, account.locks)
    api.latency = 2.0  # each answer takes 2 s: the page read of +10 is in flight until +12

    async def main() -> list[Any]:
        leaving = asyncio.ensure_future(first_event(trigger(1, interval=10, read_holder=False)))
        staying = [asyncio.ensure_future(first_event(trigger(p, interval=10, read_holder=False))) for p in (2, 3)]
        await asyncio.sleep(22.5)  # during a page read
        leaving.cancel()
        await asyncio.gather(leaving, return_exceptions=True)
        return list(await asyncio.gather(*staying))

    assert [e["status"] for e in run_virtual(clock, main())] == ["done", "done"]


def test_a_wait_among_two_on_a_project_that_leaves_keeps_the_project_counted(clock: VirtualClock, api: FakeApi) -> None:
    """Six projects, two waits each, in 4 pages: the list. One wait per project leaves: still the list."""
    account = Account(clock, 4000, {})
    held(account, range(1, 7))
    account.serve(api, account.locks)
    leaving = [trigger(p, interval=1, read_holder=False, deadline=15) for p in range(1, 7)]
    staying = [trigger(p, interval=1, read_holder=False) for p in range(1, 7)]
    run_until(clock, 40, [*staying, *leaving])
    assert kinds_after(api, 30) == {"page"}


def test_a_holder_read_at_a_minute_and_unreadable_at_the_end_is_read_again_not_reported_stale(
    clock: VirtualClock, api: FakeApi
) -> None:
    account = Account(clock, 1000, {1: 95.0})
    account.serve(api, account.locks)
    answers = iter([ok(task(TASK_A, "RUNNING")), status(503), ok(task(TASK_A, "ERROR", error="boom"))])
    api.routes[("GET", f"/cloud/v1/tasks/{TASK_A}")].clear()
    api.on("GET", f"/cloud/v1/tasks/{TASK_A}", lambda r: next(answers))
    [event] = run_all(clock, [trigger(1, interval=10)])
    # Read at +60 (RUNNING), at the unlock (+100: 503, not retried by this connection), then by the
    # wait itself: the event says how it really ended.
    assert event["value"]["holder"]["state"] == "ERROR"
    assert api.sent_at("GET", f"/cloud/v1/tasks/{TASK_A}") == [60.0, 100.0, 100.0]


def test_a_page_shorter_than_asked_is_the_last_whatever_the_count_says(clock: VirtualClock, api: FakeApi) -> None:
    """A server whose page 1 holds 999 of 1,000 while its count says 2,000: no more pages; the rest by GET."""
    account = Account(clock, 2000, {p: 15.0 for p in (1, 2, 3, 1500)})
    account.serve(api, account.locks)
    account.hidden.add(500)  # missing from page 1, as an inconsistent server would show it
    run_all(clock, [trigger(p, interval=10, read_holder=False) for p in account.locks])
    assert page_offsets(api) == [0, 0]  # at +10 and +20
    assert api.sent_at("GET", project_path(1500))[-2:] == [10.0, 20.0]


def test_no_empty_page_is_read_past_a_count_that_ends_on_a_full_page(clock: VirtualClock, api: FakeApi) -> None:
    account = Account(clock, 2000, {p: 15.0 for p in (1500, 1501, 1502)})
    account.serve(api, account.locks)
    account.locks[9000] = 15.0  # a project on no page at all (another account's, say): read alone
    account.serve(api, [9000])
    run_all(clock, [trigger(p, interval=10, read_holder=False) for p in account.locks])
    assert page_offsets(api) == [0, 1000, 0, 1000]  # the count (2,000) ends the list: no page at 2,000


def test_waits_under_two_keys_are_two_accounts(
    clock: VirtualClock, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = Account(clock, 1000, {1: 25.0})
    account.serve(api, account.locks)
    connect(monkeypatch, "gcore_other", key="gcore-OTHER-key-51d0")
    run_all(
        clock,
        [
            trigger(1, interval=10, read_holder=False),
            trigger(1, interval=10, read_holder=False, gcore_conn_id="gcore_other"),
        ],
    )
    keys = {r.headers["Authorization"] for r in api.sent("GET", project_path(1))}
    assert keys == {f"APIKey {API_KEY}", "APIKey gcore-OTHER-key-51d0"}  # each key polls for itself
