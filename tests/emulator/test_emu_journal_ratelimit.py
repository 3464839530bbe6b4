"""The request journal (filters, redaction) and the GC AI per-organisation rate limit."""

from __future__ import annotations

import pytest
from emulator_support import ApiClient, FakeClock

from projects_emulator import ProjectsEmulator


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
