"""The request journal (filters, redaction, answers, wall-clock time) and the GC AI per-organisation rate limit."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
import requests
from emulator_support import ApiClient, FakeClock

from projects_emulator import ProjectsEmulator
from projects_emulator.journal import Journal
from projects_emulator.messages import Request


def test_journal_records_what_was_sent(gcore: ApiClient, emu: ProjectsEmulator, clock: FakeClock) -> None:
    gcore.get("/cloud/v1/projects?limit=2&name=analytics")
    clock.advance(2)
    gcore.patch("/cloud/v1/projects/2", json={"description": "new"})
    listed, patched = emu.requests(api="gcore")
    assert (listed.method, listed.path, listed.query) == (
        "GET",
        "/cloud/v1/projects",
        {"limit": ["2"], "name": ["analytics"]},
    )
    assert listed.body is None
    assert (patched.method, patched.path, patched.body) == ("PATCH", "/cloud/v1/projects/2", {"description": "new"})
    assert patched.time - listed.time == 2
    assert patched.headers["content-type"] == "application/json"


def test_journal_filters_and_clear(gcore: ApiClient, gcai: ApiClient, emu: ProjectsEmulator) -> None:
    gcore.get("/cloud/v1/projects/1")
    gcai.get("/ping")
    gcai.patch(f"/projects/{emu.gcai_project_ids[0]}", json={"name": "n"})
    assert [r.api for r in emu.requests()] == ["gcore", "gcai", "gcai"]
    assert len(emu.requests(api="gcai", method="patch")) == 1
    ping = emu.requests(path="/ping")
    assert len(ping) == 1
    assert ping[0].url_path == "/api/external/v1/ping"
    emu.clear_journal()
    assert emu.requests() == []


def test_journal_never_keeps_a_key(
    gcore: ApiClient, gcai: ApiClient, gcai_user: ApiClient, emu: ProjectsEmulator
) -> None:
    gcore.get("/cloud/v1/projects")
    gcore.get("/cloud/v1/projects", auth=f"Bearer {emu.gcore_key}")
    gcai.get("/ping")
    gcai_user.get("/me")
    gcai.get("/ping", auth="gcai_someone_elses_key")
    # Keys pasted where they do not belong are scrubbed too.
    gcore.patch(
        f"/cloud/v1/projects/2?token={emu.gcore_key}",
        json={"description": emu.gcore_key},
        headers={"X-Api-Key": "anything", "X-Debug": emu.gcai_org_key},
    )
    entries = emu.requests()
    authorizations = [r.headers.get("authorization") for r in entries]
    assert authorizations[:5] == ["APIKey <redacted>", "Bearer <redacted>", "<redacted>", "<redacted>", "<redacted>"]
    text = repr(entries)
    for secret in (emu.gcore_key, emu.gcai_org_key, emu.gcai_user_key, "gcai_someone_elses_key", "anything"):
        assert secret not in text
    assert entries[-1].body == {"description": "<redacted>"}


def test_faulted_requests_are_journaled(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "GET", r"/cloud/v1/projects", status=500)
    gcore.get("/cloud/v1/projects")
    gcore.get("/cloud/v1/projects")
    assert [r.faulted for r in emu.requests()] == [True, False]


def test_no_rate_limit_by_default(gcai: ApiClient) -> None:
    for _ in range(5):
        response = gcai.get("/ping")
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response.headers


def test_rate_limit_answers_429_with_headers_and_frees_up_with_time(clock: FakeClock) -> None:
    with ProjectsEmulator(clock=clock, rate_limit=(3, 60)) as emu:
        gcai = ApiClient("gcai", emu.gcai_url, emu.gcai_org_key, None)
        remaining = []
        for _ in range(3):
            allowed = gcai.get("/projects")
            assert allowed.status_code == 200
            remaining.append(allowed.headers["RateLimit-Remaining"])
            clock.advance(10)
        assert remaining == ["2", "1", "0"]
        refused = gcai.get("/projects")
        assert refused.status_code == 429
        assert refused.json() == {"error": "Rate limit exceeded", "code": "RATE_LIMITED"}
        headers = {
            k: refused.headers[k] for k in ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
        }
        assert headers == {
            "Retry-After": "30",
            "RateLimit-Limit": "3",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": "30",
        }
        clock.advance(29.5)
        assert gcai.get("/projects").headers["Retry-After"] == "1"
        clock.advance(0.5)
        assert gcai.get("/projects").status_code == 200


def test_rate_limit_is_per_organisation_and_ignores_bad_keys(gcai: ApiClient, emu: ProjectsEmulator) -> None:
    emu.set_gcai_rate_limit(2, 60)
    assert gcai.get("/ping", auth="gcai_unknown").status_code == 403  # not counted: names no organisation
    assert gcai.get("/ping").status_code == 200
    assert gcai.get("/me", auth=emu.gcai_user_key).status_code == 200
    assert gcai.get(f"/projects/{emu.gcai_project_ids[0]}").status_code == 429
    emu.set_gcai_rate_limit(None)
    assert gcai.get("/ping").status_code == 200


def test_rate_limit_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="limit"):
        ProjectsEmulator(rate_limit=(0, 60))


def test_journal_keeps_each_answers_status(gcore: ApiClient, gcai: ApiClient, emu: ProjectsEmulator) -> None:
    gcore.put("/cloud/v1/projects/2", json={"name": "renamed"})  # 2026-08: a 405, not a write
    gcore.patch("/cloud/v1/projects/2", json={"name": "renamed"})
    emu.add_fault("gcai", "GET", "/ping", status=503, headers={"Retry-After": "1"})
    gcai.get("/ping")
    gcai.get("/projects/not-a-uuid")
    assert [(r.method, r.status, r.faulted) for r in emu.requests()] == [
        ("PUT", 405, False),
        ("PATCH", 200, False),
        ("GET", 503, True),
        ("GET", 404, False),
    ]


def test_an_unanswered_request_has_no_status(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", drop=True)
    with pytest.raises(requests.ConnectionError):
        gcore.patch("/cloud/v1/projects/2", json={"name": "never"})
    assert [r.status for r in emu.requests()] == [None]


def test_a_stalled_request_gets_its_status_once_released(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    fault = emu.add_fault("gcore", "PATCH", r"/cloud/v1/projects/2", stall=True, status=409)
    answers: list[int] = []
    writer = threading.Thread(target=lambda: answers.append(gcore.patch("/cloud/v1/projects/2", json={}).status_code))
    writer.start()
    assert emu.wait_for_stalled(1, timeout=10)
    assert [r.status for r in emu.requests()] == [None]  # held: not answered yet
    emu.release_stalled(fault)
    writer.join(timeout=10)
    assert answers == [409]
    assert [r.status for r in emu.requests()] == [409]


def test_journal_gives_wall_clock_time_that_follows_the_injected_clock(
    gcore: ApiClient, emu: ProjectsEmulator, clock: FakeClock
) -> None:
    before = datetime.now(UTC)
    gcore.get("/cloud/v1/projects/1")
    clock.advance(2.5)
    gcore.get("/cloud/v1/projects/2")
    first, second = emu.requests()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first.wall_time)
    arrived = datetime.fromisoformat(first.wall_time)
    assert arrived.tzinfo is not None
    assert abs((arrived - before).total_seconds()) < 60  # wall-clock time, not a monotonic reading
    assert (datetime.fromisoformat(second.wall_time) - arrived).total_seconds() == 2.5
    assert second.time - first.time == 2.5  # the clock reading stays, for ordering and intervals


def test_clearing_the_journal_says_how_many_it_forgot(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    gcore.get("/cloud/v1/projects")
    gcore.get("/cloud/v1/projects/1")
    assert emu.clear_journal() == 2
    assert emu.clear_journal() == 0


def test_the_journal_keeps_its_newest_entries() -> None:
    journal = Journal(max_entries=3)
    request = Request("GET", "/ping", "/ping", {}, {})
    numbers = [journal.record("gcai", request, float(i), "", faulted=False, secrets=()) for i in range(5)]
    journal.answered(numbers[0], 200)  # already forgotten: nothing happens
    journal.answered(numbers[4], 204)
    assert [(e.time, e.status) for e in journal.select()] == [(2.0, None), (3.0, None), (4.0, 204)]
