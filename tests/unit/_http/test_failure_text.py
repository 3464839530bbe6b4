"""A transport error's text shortened without losing its reason (issue 22, findings 3 and 10).

The texts are those requests (urllib3 2) and aiohttp render, copied from real failures.
"""

from __future__ import annotations

import pytest

from airflow_provider_projects._http.failure_text import MAX_LENGTH, shorten
from airflow_provider_projects._http.wire import FailureKind, Secret, TransportFailure

#: requests through a proxy that refuses the connection, to a long host and a long URL.
REQUESTS_PROXY_ERROR = (
    "ProxyError: HTTPSConnectionPool(host='api.eu-central-1.cloud-projects.gcore.example.com', port=443): "
    "Max retries exceeded with url: /cloud/v1/projects/2?include=regions&limit=1000&offset=0&order_by=name "
    "(Caused by ProxyError('Unable to connect to proxy', NewConnectionError(\"HTTPSConnection("
    "host='proxy.internal.corp.example.com', port=3128): Failed to establish a new connection: "
    '[Errno 111] Connection refused")))'
)


class ProxyError(OSError):
    pass


class ClientConnectorError(OSError):
    pass


def test_a_long_proxy_error_keeps_its_reason_and_drops_the_credentials() -> None:
    proxy = Secret("http://alice:s3cr3t-pw@proxy.internal.corp.example.com:3128")
    failure = TransportFailure.of(FailureKind.CONNECT, ProxyError(REQUESTS_PROXY_ERROR[12:]), proxy)
    assert failure.detail == (
        "ProxyError: HTTPSConnectionPool(host='api.eu-central-1.cloud-projects.gcore.example.com', port=443): "
        "Max retries exceeded with url: /cloud/v1/projects/2?… (Caused by ProxyError('Unable to connect to proxy', "
        "NewConnectionError(\"HTTPSConnection(host='proxy.internal.corp.example.com', port=3128): Failed to establish "
        'a new connection: [Errno 111] Connection refused")))'
    )
    assert len(REQUESTS_PROXY_ERROR) > 300  # what was cut at 300 characters before


def test_a_host_said_twice_is_said_once() -> None:
    text = (
        "ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
        "/cloud/v1/projects/2 (Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=9): "
        'Failed to establish a new connection: [Errno 111] Connection refused"))'
    )
    assert shorten(text) == (
        "ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
        '/cloud/v1/projects/2 (Caused by NewConnectionError("HTTPConnection(same host): '
        'Failed to establish a new connection: [Errno 111] Connection refused"))'
    )


@pytest.mark.parametrize("error_type", ["ClientConnectorError", "ClientProxyConnectionError"])
@pytest.mark.parametrize("ssl", ["ssl:<ssl.SSLContext object at 0x7efef9ab2450>", "ssl:default", "ssl:False"])
def test_aiohttps_ssl_setting_is_dropped(error_type: str, ssl: str) -> None:
    text = f"{error_type}: Cannot connect to host 127.0.0.1:9 {ssl} [Connect call failed ('127.0.0.1', 9)]"
    assert shorten(text) == f"{error_type}: Cannot connect to host 127.0.0.1:9 [Connect call failed ('127.0.0.1', 9)]"


def test_an_object_repr_becomes_its_class_name() -> None:
    text = (
        "ConnectionError: (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at "
        "0x7f2c1a2b3c40>: Failed to establish a new connection: [Errno -2] Name or service not known'))"
    )
    assert shorten(text) == (
        "ConnectionError: (Caused by NewConnectionError('HTTPSConnection: Failed to establish a new connection: "
        "[Errno -2] Name or service not known'))"
    )


def test_a_long_url_keeps_its_start_and_end() -> None:
    path = "/cloud/v1/projects/" + "a" * 80 + "/tail"
    assert shorten(f"ConnectionError: with url: {path} (refused)") == (
        f"ConnectionError: with url: /cloud/v1/projects/{'a' * 21}…{'a' * 10}/tail (refused)"
    )
    url = "https://api.gcore.test/cloud/v1/" + "b" * 80
    assert (
        shorten(f"boom at {url}: refused") == f"boom at https://api.gcore.test/cloud/v1/{'b' * 8}…{'b' * 14}: refused"
    )  # the colon ends the token


def test_a_message_nested_twice_is_said_once() -> None:
    reason = "Tunnel connection failed: 407 Proxy Authentication Required"
    text = f"ProxyError: ('Unable to connect to proxy', OSError('{reason}')) (Caused by ProxyError('{reason}'))"
    assert shorten(text) == (
        f"ProxyError: ('Unable to connect to proxy', OSError('{reason}')) (Caused by ProxyError('…'))"
    )


def test_a_text_still_too_long_loses_its_middle_never_its_end() -> None:
    text = "OSError: " + " ".join(f"hop{n}" for n in range(200)) + " because: the real reason"
    short = shorten(text)
    assert len(short) == MAX_LENGTH
    assert short.startswith("OSError: hop0 hop1 ")
    assert short.endswith("hop199 because: the real reason")
    assert "…" in short


def test_a_short_text_is_unchanged() -> None:
    assert shorten("ConnectionResetError: [Errno 104] Connection reset by peer") == (
        "ConnectionResetError: [Errno 104] Connection reset by peer"
    )


def test_a_text_of_exactly_the_limit_is_kept_whole() -> None:
    text = ("connection refused " * 30)[:MAX_LENGTH]
    assert len(text) == MAX_LENGTH
    assert shorten(text) == text
    assert shorten(text + "!") == text[:120] + "…" + (text + "!")[-(MAX_LENGTH - 121) :]
