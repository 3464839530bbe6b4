"""Where a proxy password may go: docs/connections.md's advice, checked against Airflow's audit log.

Airflow keeps each ``airflow connections add`` command line in its audit log (the ``log`` table,
Browse -> Audit Log, ``GET /api/v2/eventLogs``), masking only the password. The docs say that a
proxy URL with credentials is stored there in clear when given with ``--conn-extra``,
``--conn-json`` or ``--conn-uri``, but not when it comes through the REST API behind the UI's form
or through ``airflow connections import``. Each claim is one test: when Airflow changes what it
records, one fails and the docs need another look.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from .support import ApiServer, rest, run_airflow

pytestmark = [pytest.mark.slow, pytest.mark.integration]

KEY = "api-key-never-logged"


def proxy_password(conn_id: str) -> str:
    """A proxy password of the test's own: the api-server and its audit log are shared."""
    return f"Pr0xyPassw0rd-{conn_id}"


def proxy(conn_id: str) -> str:
    return f"http://proxyuser:{proxy_password(conn_id)}@proxy.example:3128"


def audit_log(server: ApiServer) -> list[dict[str, Any]]:
    status, body = rest("GET", f"{server.url}/api/v2/eventLogs?limit=1000&order_by=-id")
    assert status == 200, body
    entries: list[dict[str, Any]] = body["event_logs"]
    return entries


def entries_naming(server: ApiServer, conn_id: str) -> list[str]:
    """The audit entries' recorded text for commands or requests that name ``conn_id``."""
    return [str(e.get("extra")) for e in audit_log(server) if conn_id in str(e.get("extra"))]


@pytest.fixture
def conn_id(api_server: ApiServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A connection id of this test's own, deleted afterwards from the shared api-server."""
    name = f"audit_{request.node.name.split('[')[-1].strip(']').replace('-', '_')}"
    yield name
    rest("DELETE", f"{api_server.url}/api/v2/connections/{name}")


def with_conn_extra(conn_id: str) -> list[str]:
    extra = json.dumps({"proxy": proxy(conn_id)})
    return ["--conn-type", "gcore", "--conn-password", KEY, "--conn-extra", extra]


def with_conn_json(conn_id: str) -> list[str]:
    return ["--conn-json", json.dumps({"conn_type": "gcore", "password": KEY, "extra": {"proxy": proxy(conn_id)}})]


def with_conn_uri(conn_id: str) -> list[str]:
    return ["--conn-uri", f"gcore://:{KEY}@api.gcore.com/?proxy={quote(proxy(conn_id), safe='')}"]


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(with_conn_extra, id="conn-extra"),
        pytest.param(with_conn_json, id="conn-json"),
        pytest.param(with_conn_uri, id="conn-uri"),
    ],
)
def test_the_cli_audit_log_keeps_a_proxy_password_given_on_the_command_line(
    api_server: ApiServer, conn_id: str, form: Callable[[str], list[str]]
) -> None:
    result = run_airflow(["connections", "add", conn_id, *form(conn_id)], api_server.env)
    assert result.returncode == 0, result.output
    recorded = entries_naming(api_server, conn_id)
    assert recorded, "the command is in the audit log"
    # The key, given as the password, is masked; the proxy's password is not (quoted or not).
    assert not [text for text in recorded if KEY in text]
    secret = proxy_password(conn_id)
    assert [text for text in recorded if secret in text or quote(secret) in text]


def test_the_rest_api_behind_the_form_masks_every_extra_in_the_audit_log(api_server: ApiServer, conn_id: str) -> None:
    body = {
        "connection_id": conn_id,
        "conn_type": "gcore",
        "password": KEY,
        "extra": json.dumps({"proxy": proxy(conn_id)}),
    }
    status, answer = rest("POST", f"{api_server.url}/api/v2/connections", body)
    assert status == 201, answer
    recorded = entries_naming(api_server, conn_id)
    assert recorded, "the request is in the audit log"
    assert not [text for text in recorded if proxy_password(conn_id) in text or KEY in text]
    assert [text for text in recorded if "proxy" in text]  # the extra's name only


def test_connections_import_leaves_only_the_file_name_in_the_audit_log(
    api_server: ApiServer, conn_id: str, tmp_path: Path
) -> None:
    secrets = tmp_path / "connections.json"
    secrets.write_text(
        json.dumps({conn_id: {"conn_type": "gcore", "password": KEY, "extra": {"proxy": proxy(conn_id)}}})
    )
    os.chmod(secrets, 0o600)
    result = run_airflow(["connections", "import", str(secrets)], api_server.env)
    assert result.returncode == 0, result.output
    status, stored = rest("GET", f"{api_server.url}/api/v2/connections/{conn_id}")
    assert status == 200, stored  # imported, with its extra (which the API shows masked)
    assert "proxy" in stored["extra"]
    recorded = [str(e.get("extra")) for e in audit_log(api_server) if str(secrets) in str(e.get("extra"))]
    assert recorded, "the import command is in the audit log"
    assert not [entry for entry in audit_log(api_server) if proxy_password(conn_id) in str(entry.get("extra"))]
