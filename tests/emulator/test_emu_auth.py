"""Authentication rules of both APIs, and the cheap GC AI identity routes (``/ping``, ``/me``)."""

from __future__ import annotations

from datetime import datetime

import pytest
from emulator_support import ApiClient

from projects_emulator import ProjectsEmulator


@pytest.mark.parametrize("scheme", ["APIKey", "apikey", "APIKEY", "ApiKey"])
def test_gcore_accepts_the_apikey_scheme_in_any_case(gcore: ApiClient, emu: ProjectsEmulator, scheme: str) -> None:
    assert gcore.get("/cloud/v1/projects/1", auth=f"{scheme} {emu.gcore_key}").status_code == 200


def test_gcore_refuses_bearer_with_masked_token(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    response = gcore.get("/cloud/v1/projects/1", auth=f"Bearer {emu.gcore_key}")
    assert response.status_code == 401
    body = response.json()
    assert body["exception_class"] == "NotAuthenticated"
    assert body["message"] == "Invalid <Bearer> authentication token: emu-g*****-0001"
    assert emu.gcore_key not in response.text


def test_gcore_refuses_a_wrong_key(gcore: ApiClient) -> None:
    response = gcore.get("/cloud/v1/projects", auth="APIKey 21788abcdefghij21788")
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid <APIKey> authentication token: 21788*****21788"


@pytest.mark.parametrize("value", [None, "", "APIKey", "APIKey "])
def test_gcore_refuses_missing_credentials(gcore: ApiClient, value: str | None) -> None:
    response = gcore.get("/cloud/v1/projects", auth=value)
    assert response.status_code == 401
    assert response.json()["exception_class"] == "NotAuthenticated"


def test_gcore_bare_key_is_refused_without_echoing_it(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    response = gcore.get("/cloud/v1/projects", auth=emu.gcore_key)
    assert response.status_code == 401
    assert emu.gcore_key not in response.text


def test_gcore_auth_applies_to_writes_and_tasks(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    assert gcore.patch("/cloud/v1/projects/2", json={"name": "x-y-z"}, auth=None).status_code == 401
    assert gcore.get("/cloud/v1/tasks/whatever", auth="Bearer t").status_code == 401
    assert emu.gcore_project(2)["name"] == "analytics"


@pytest.mark.parametrize("key_attr", ["gcai_org_key", "gcai_user_key"])
def test_gcai_accepts_raw_org_and_personal_keys(gcai: ApiClient, emu: ProjectsEmulator, key_attr: str) -> None:
    assert gcai.get("/ping", auth=getattr(emu, key_attr)).status_code == 200


@pytest.mark.parametrize("value", [None, "", "Bearer gcai_emulator_org_key", "Bearer u:gcai_emulator_user_key", "x"])
def test_gcai_missing_or_malformed_key_is_401(gcai: ApiClient, value: str | None) -> None:
    response = gcai.get("/projects", auth=value)
    assert response.status_code == 401
    assert isinstance(response.json()["error"], str)


@pytest.mark.parametrize("value", ["gcai_unknown", "u:gcai_unknown"])
def test_gcai_well_formed_unknown_key_is_403(gcai: ApiClient, value: str) -> None:
    response = gcai.get("/projects", auth=value)
    assert response.status_code == 403
    assert response.json()["error"] == "Invalid API key"


def test_ping_answers_pong_with_an_iso_timestamp(gcai: ApiClient) -> None:
    body = gcai.get("/ping").json()
    assert body["status"] == "pong"
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo is not None


def test_me_for_an_organisation_key(gcai: ApiClient) -> None:
    body = gcai.get("/me").json()
    assert body["token_type"] == "organization"
    assert body["user"] is None
    assert set(body["organization"]) == {"id", "name"}
    assert body["api_key_id"]


def test_me_for_a_personal_key(gcai_user: ApiClient) -> None:
    body = gcai_user.get("/me").json()
    assert body["token_type"] == "user"
    assert set(body["user"]) == {"id", "email"}
    assert isinstance(body["user"]["id"], int)


def test_gcai_paths_outside_the_base_prefix_are_not_served(emu: ProjectsEmulator) -> None:
    outside = ApiClient("gcai", emu.gcai_url.removesuffix("/api/external/v1"), emu.gcai_org_key, None)
    assert outside.get("/projects").status_code == 404
    assert outside.get("/api/external/v2/ping").status_code == 404


def test_gcore_401_echoes_the_first_and_last_five_characters_of_a_wrong_key(gcore: ApiClient) -> None:
    # The real server's echo (issue 14): the provider must redact it; the emulator must produce it.
    response = gcore.get("/cloud/v1/projects", auth="APIKey SECRETWRONGKEY-gcore-7777")
    assert response.json()["message"] == "Invalid <APIKey> authentication token: SECRE*****-7777"
