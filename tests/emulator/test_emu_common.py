"""What both emulated APIs share (``projects_emulator.common``, the server's path decoding).

A 405 names the methods its route allows (RFC 9110 ``Allow``), exactly the spec's for the edition
served; a path is percent-decoded before routing, as the vendors' servers do; an unbounded query
integer (``offset``) may have any number of digits.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from emulator_support import ApiClient, SpecChecker

from projects_emulator import ProjectsEmulator
from projects_emulator.common import MAX_DIGITS
from projects_emulator.editions import EDITIONS

GCAI_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
GCORE_ROUTES = {
    "/cloud/v1/projects": "/cloud/v1/projects",
    "/cloud/v1/projects/{project_id}": "/cloud/v1/projects/2",
    "/cloud/v1/tasks/{task_id}": "/cloud/v1/tasks/unknown",
}
GCAI_ROUTES = {"/projects": "/projects", "/projects/{id}": f"/projects/{GCAI_ID}", "/ping": "/ping", "/me": "/me"}
HUGE = "1" + "0" * 40


def _documented(spec_paths: list[tuple[object, dict[str, object]]], template_path: str, api: str) -> set[str]:
    for pattern, operations in spec_paths:
        if pattern.fullmatch(template_path):  # type: ignore[attr-defined]
            return {method.upper() for method in operations if method in ("get", "post", "put", "patch", "delete")}
    raise AssertionError(f"{api}: no route for {template_path}")


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("route", sorted(GCORE_ROUTES))
def test_a_gcore_405_allows_exactly_the_methods_of_the_route_in_the_edition(
    gcore: ApiClient, spec: SpecChecker, edition: str, route: str
) -> None:
    refused = gcore.request("OPTIONS", GCORE_ROUTES[route])
    assert refused.status_code == 405
    allowed = {method.strip() for method in refused.headers["Allow"].split(",")}
    assert allowed == _documented(spec.gcore_editions[edition].paths, GCORE_ROUTES[route], "gcore")


def test_the_gcore_put_refused_by_the_current_edition_points_at_patch(gcore: ApiClient) -> None:
    refused = gcore.put("/cloud/v1/projects/2", json={"name": "renamed"})
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, PATCH, DELETE"


@pytest.mark.parametrize("route", sorted(GCAI_ROUTES))
def test_a_gcai_405_allows_exactly_the_methods_of_the_route(gcai: ApiClient, spec: SpecChecker, route: str) -> None:
    refused = gcai.request("PUT", GCAI_ROUTES[route], json={})
    assert refused.status_code == 405
    allowed = {method.strip() for method in refused.headers["Allow"].split(",")}
    assert allowed == _documented(spec.gcai.paths, GCAI_ROUTES[route], "gcai")


def test_answers_other_than_405_carry_no_allow(gcore: ApiClient, gcai: ApiClient) -> None:
    assert "Allow" not in gcore.get("/cloud/v1/projects/2").headers
    assert "Allow" not in gcore.get("/cloud/v1/nothing").headers
    assert "Allow" not in gcai.get("/nothing").headers


def _sent_as_is(port: int, path: str, authorization: str) -> tuple[int, Any]:
    """GET a path exactly as written (``requests`` would decode ``%32`` to ``2`` before sending)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Authorization": authorization})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_percent_encoded_path_segments_are_decoded_before_routing(emu: ProjectsEmulator) -> None:
    gcore_key = f"APIKey {emu.gcore_key}"
    assert _sent_as_is(emu.gcore_port, "/cloud/v1/projects/%32", gcore_key) == (200, emu.gcore_project(2))
    assert _sent_as_is(emu.gcore_port, "/cloud/v1/%70rojects", gcore_key)[1]["count"] == 3
    encoded = f"/api/external/v1/projects/{GCAI_ID.replace('-', '%2D')}"
    assert _sent_as_is(emu.gcai_port, encoded, emu.gcai_org_key)[1]["id"] == GCAI_ID
    assert _sent_as_is(emu.gcai_port, "/api/%65xternal/v1/ping", emu.gcai_org_key)[1]["status"] == "pong"
    # The journal keeps what was sent and what was routed; faults match what was routed.
    journaled = emu.requests(api="gcore")[0]
    assert (journaled.path, journaled.url_path) == ("/cloud/v1/projects/2", "/cloud/v1/projects/%32")
    emu.add_fault("gcore", "GET", r"/cloud/v1/projects/3", status=503)
    assert _sent_as_is(emu.gcore_port, "/cloud/v1/projects/%33", gcore_key)[0] == 503


@pytest.mark.parametrize("path", ["/cloud/v1/projects%2F2", "/cloud/v1%2Fprojects", "/cloud/v1/projects/1%2F..%2F2"])
def test_an_encoded_slash_stays_inside_its_segment(gcore: ApiClient, path: str) -> None:
    # Decoded as a separator, the first two would reach project 2 and the list.
    response = gcore.get(path)
    assert (response.status_code, response.json()["message"]) == (404, "HTTP 404: Not Found")


@pytest.mark.parametrize(
    ("offset", "ids"),
    [("2", [1]), ("3", []), ("4", []), ("5", []), ("9223372036854775808", []), (HUGE, []), ("0" * 30 + "1", [2, 1])],
)
def test_a_gcore_offset_of_any_length_is_read_and_past_the_end_is_an_empty_page(
    gcore: ApiClient, offset: str, ids: list[int]
) -> None:
    body = gcore.get(f"/cloud/v1/projects?offset={offset}").json()
    assert (body["count"], [p["id"] for p in body["results"]]) == (3, ids)


def test_a_gcai_offset_of_any_length_is_echoed_on_an_empty_page(gcai: ApiClient) -> None:
    body = gcai.get(f"/projects?offset={HUGE}").json()
    assert body == {"projects": [], "pagination": {"limit": 100, "offset": int(HUGE), "has_more": False}}


@pytest.mark.parametrize(("api", "path"), [("gcore", "/cloud/v1/projects"), ("gcai", "/projects")])
def test_bounded_or_negative_huge_integers_are_out_of_range_not_unreadable(
    gcore: ApiClient, gcai: ApiClient, api: str, path: str
) -> None:
    client = gcore if api == "gcore" else gcai
    for query, words in ((f"limit={HUGE}", "between 1 and"), (f"offset=-{HUGE}", "at least 0")):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        body = response.json()
        messages = body["invalid_fields"] if api == "gcore" else body["details"]
        assert words in " ".join(messages[query.split("=")[0]]), query


def test_an_offset_past_what_python_converts_is_refused_saying_so(gcore: ApiClient) -> None:
    response = gcore.get(f"/cloud/v1/projects?offset={'9' * (MAX_DIGITS + 1)}")
    assert response.status_code == 400
    assert f"at most {MAX_DIGITS} digits" in response.json()["invalid_fields"]["offset"][0]
    assert gcore.get(f"/cloud/v1/projects?offset={'9' * MAX_DIGITS}").json()["results"] == []


def test_unknown_keyword_arguments_are_refused_as_python_would(emu: ProjectsEmulator) -> None:
    with pytest.raises(TypeError, match="unexpected keyword arguments: colour"):
        emu.add_fault("gcore", "GET", "/", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword arguments: owner"):
        emu.add_gcai_project("x", owner="me")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        emu.lock_gcore_project(2, colour="red")  # type: ignore[call-arg]
    assert emu.faults() == []
    assert emu.gcore_project(2)["task_id"] is None
