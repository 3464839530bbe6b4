"""The emulator is as strict as the specs: odd methods, empty query values, missing or non-object bodies.

Each refusal comes in the vendor's own JSON error format with the status a real server gives, so a
client that would break on the real API breaks here first.
"""

from __future__ import annotations

import http.client
import json
import socket

import pytest
from emulator_support import ApiClient

from projects_emulator import ProjectsEmulator

GCAI_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


@pytest.mark.parametrize("method", ["PROPFIND", "TRACE", "CONNECT-ISH", "OPTIONS", "BREW"])
def test_any_method_gets_a_gcore_json_405_never_an_html_501(gcore: ApiClient, method: str) -> None:
    response = gcore.request(method, "/cloud/v1/projects/2")
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["message"] == "HTTP 405: Method Not Allowed"


@pytest.mark.parametrize("method", ["PROPFIND", "PUT", "HEAD-LIKE"])
def test_any_method_gets_a_gcai_json_405(gcai: ApiClient, method: str) -> None:
    response = gcai.request(method, f"/projects/{GCAI_ID}", json={})
    assert response.status_code == 405
    assert response.json() == {"error": "Method not allowed"}


def test_unknown_method_on_an_unknown_route_is_a_404(gcore: ApiClient, gcai: ApiClient) -> None:
    assert gcore.request("PROPFIND", "/cloud/v2/elsewhere").json()["message"] == "HTTP 404: Not Found"
    assert gcai.request("PROPFIND", "/elsewhere").status_code == 404


def test_head_answers_headers_only_and_keeps_the_connection_usable(emu: ProjectsEmulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emu.gcore_port, timeout=5)
    headers = {"Authorization": f"APIKey {emu.gcore_key}"}
    connection.request("HEAD", "/cloud/v1/projects/1", headers=headers)
    head = connection.getresponse()
    assert (head.status, head.read()) == (405, b"")
    connection.request("GET", "/cloud/v1/projects/1", headers=headers)
    assert json.loads(connection.getresponse().read())["id"] == 1
    connection.close()


def test_a_garbled_request_line_gets_a_json_400(emu: ProjectsEmulator) -> None:
    with socket.create_connection(("127.0.0.1", emu.gcai_port), timeout=5) as raw:
        raw.sendall(b"NOT A VALID HTTP REQUEST LINE\r\n\r\n")
        answer = raw.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0]
    assert json.loads(body) == {"error": "Bad Request"}


@pytest.mark.parametrize(
    "query", ["include_deleted=", "offset=", "limit=", "order_by=", "limit=99999999999999999999999", "offset=1.0"]
)
def test_gcore_refuses_empty_and_unreadable_query_values(gcore: ApiClient, query: str) -> None:
    response = gcore.get(f"/cloud/v1/projects?{query}")
    assert response.status_code == 400
    assert query.split("=", maxsplit=1)[0] in response.json()["invalid_fields"]


@pytest.mark.parametrize("query", ["include_deleted=TRUE", "include_deleted=0", "name=", "limit=1000", "offset=0"])
def test_gcore_accepts_valid_query_values(gcore: ApiClient, query: str) -> None:
    assert gcore.get(f"/cloud/v1/projects?{query}").status_code == 200


@pytest.mark.parametrize("query", ["offset=", "limit=", "limit=0", "offset=-1", "limit=x"])
def test_gcai_refuses_empty_and_unreadable_query_values(gcai: ApiClient, query: str) -> None:
    response = gcai.get(f"/projects?{query}")
    assert response.status_code == 400
    assert query.split("=", maxsplit=1)[0] in response.json()["details"]


@pytest.mark.parametrize("path", [f"/projects/{GCAI_ID}", "/projects"])
def test_gcai_refuses_a_write_without_the_required_body(gcai: ApiClient, path: str) -> None:
    method = "PATCH" if path != "/projects" else "POST"
    response = gcai.request(method, path)
    assert response.status_code == 400
    assert response.json()["details"] == {"body": ["Required"]}


@pytest.mark.parametrize("body", [[], "text", 3, None, True])
def test_gcai_patch_refuses_a_body_that_is_not_an_object(gcai: ApiClient, body: object) -> None:
    response = gcai.patch(f"/projects/{GCAI_ID}", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_gcore_patch_without_a_body_changes_nothing(gcore: ApiClient, emu: ProjectsEmulator) -> None:
    # Gcore's PATCH does not mark its body required (GC AI's does): no body is an empty update.
    before = emu.gcore_project(2)
    assert gcore.patch("/cloud/v1/projects/2").json() == before
