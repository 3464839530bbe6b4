"""A connection's host and extras, checked before any request (``hooks/settings.py``), read through the hooks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeApi
from samples import GCAI_URL, GCORE_URL

from airflow_provider_projects._http.core import RetryPolicy
from airflow_provider_projects._http.wire import DEFAULT_TIMEOUT, Secret, Timeout
from airflow_provider_projects.errors import ConnectionSetupError
from airflow_provider_projects.hooks.base import ProjectsApiHook
from airflow_provider_projects.hooks.gcai import GcaiHook
from airflow_provider_projects.hooks.gcore import GcoreHook

from .support import PROXY_PASSWORD, every_text_of, gcore_conn, set_conn

# -- base URL -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hook_class", "conn_type", "extra_conn", "base_url"),
    [
        (GcoreHook, "gcore", {}, GCORE_URL),
        (GcaiHook, "gcai", {}, GCAI_URL),
        (GcoreHook, "gcore", {"host": "api.example.test"}, "https://api.example.test"),
        (GcoreHook, "gcore", {"host": "  api.example.test/  "}, "https://api.example.test"),
        (GcaiHook, "gcai", {"host": "gcai.example.test/api/external/v1"}, "https://gcai.example.test/api/external/v1"),
        (GcoreHook, "gcore", {"host": "localhost", "schema": "http", "port": 8080}, "http://localhost:8080"),
        (GcoreHook, "gcore", {"host": "localhost", "port": 8443}, "https://localhost:8443"),
        (GcoreHook, "gcore", {"host": "http://127.0.0.1:9000/"}, "http://127.0.0.1:9000"),
        (GcaiHook, "gcai", {"host": "https://proxy.test/gcai/v1/"}, "https://proxy.test/gcai/v1"),
    ],
)
def test_base_url(
    hook_class: type[ProjectsApiHook],
    conn_type: str,
    extra_conn: dict[str, Any],
    base_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_conn(monkeypatch, "conn_url", {"conn_type": conn_type, "password": "gcai_key-123", **extra_conn})
    hook = hook_class("conn_url")
    assert hook.settings().base_url == base_url
    assert hook.transport.core.base_url == base_url


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("http://api.gcore.test", "http://api.gcore.test"),
        ("http://10.0.0.7:8080", "http://10.0.0.7:8080"),
        ("gcore.test", "http://gcore.test"),
        ("http://[fe80::1]:80", "http://[fe80::1]:80"),
        ("http://user:k-SECRET-pw@api.gcore.test/cloud", "http://api.gcore.test"),  # never the pasted credentials
    ],
)
def test_plain_http_off_this_machine_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, api: FakeApi, host: str, shown: str
) -> None:
    """The key would cross the network in clear; loopback and an explicit extra are the only ways."""
    conn = {"conn_type": "gcore", "host": host, "schema": "http", "password": "k-SECRET-1"}
    set_conn(monkeypatch, "gcore_default", conn)
    with pytest.raises(ConnectionSetupError) as caught:
        GcoreHook().get_project(4)
    assert str(caught.value) == (
        f"Connection 'gcore_default': the API base URL {shown!r} is plain http to a host that is not this machine, "
        "so the API key would travel unencrypted; use https://, or, for an emulator on another host only, "
        'set the extra "allow_insecure_http": true'
    )
    assert "k-SECRET" not in every_text_of(caught.value)
    assert api.requests == []


@pytest.mark.parametrize(
    ("host", "extra"),
    [
        ("http://127.0.0.1:9000", {}),
        ("http://127.3.4.5:9000", {}),
        ("http://[::1]:9000", {}),
        ("http://LOCALHOST:9000", {}),
        ("http://emulator.test:9000", {"allow_insecure_http": True}),
        ("http://emulator.test:9000", {"allow_insecure_http": " True "}),
    ],
)
def test_plain_http_to_loopback_or_when_allowed_is_accepted(
    monkeypatch: pytest.MonkeyPatch, host: str, extra: dict[str, Any]
) -> None:
    set_conn(monkeypatch, "conn_http", {"conn_type": "gcai", "host": host, "password": "gcai_k", "extra": extra})
    assert GcaiHook("conn_http").settings().base_url == host


@pytest.mark.parametrize("allowed", [False, "false", "yes", ""])
def test_only_true_allows_plain_http(monkeypatch: pytest.MonkeyPatch, allowed: object) -> None:
    conn = {
        "conn_type": "gcore",
        "host": "http://emulator.test",
        "password": "k",
        "extra": {"allow_insecure_http": allowed},
    }
    set_conn(monkeypatch, "conn_http_no", conn)
    with pytest.raises(ConnectionSetupError, match="plain http to a host that is not this machine"):
        GcoreHook("conn_http_no").settings()


@pytest.mark.parametrize("host", ["https://api gcore.test", "ftp://api.gcore.test", "http://:8080"])
def test_an_unusable_base_url_is_a_setup_error_before_any_request(
    monkeypatch: pytest.MonkeyPatch, api: FakeApi, host: str
) -> None:
    set_conn(monkeypatch, "gcore_default", {"conn_type": "gcore", "host": host, "password": "k-1"})
    with pytest.raises(ConnectionSetupError, match="is not an http\\(s\\) URL") as caught:
        GcoreHook().get_project(4)
    assert "gcore_default" in str(caught.value)
    assert api.requests == []


# -- timeout and max_retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "timeout"),
    [
        ({}, DEFAULT_TIMEOUT),
        ({"timeout": None}, DEFAULT_TIMEOUT),
        ({"timeout": ""}, DEFAULT_TIMEOUT),
        ({"timeout": 5}, Timeout(5.0, 5.0)),
        ({"timeout": 0.5}, Timeout(0.5, 0.5)),
        ({"timeout": "45"}, Timeout(10.0, 45.0)),
        ({"timeout": 3600}, Timeout(10.0, 3600.0)),
        ({"extra__gcore__timeout": 7}, Timeout(7.0, 7.0)),  # the pre-3.2 form's key
        ({"timeout": 20, "extra__gcore__timeout": 7}, Timeout(10.0, 20.0)),
    ],
)
def test_timeout_extra_valid(extra: dict[str, Any], timeout: Timeout, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = gcore_conn(monkeypatch, **extra)
    assert hook.settings().timeout == timeout
    assert hook.transport.core.timeout == timeout


@pytest.mark.parametrize("value", [0, -1, 3601, "abc", "nan", "inf", [5], {"read": 5}, True])
def test_timeout_extra_invalid(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConnectionSetupError) as caught:
        gcore_conn(monkeypatch, "conn_bad_t", timeout=value).settings()
    assert "'timeout'" in str(caught.value)
    assert "'conn_bad_t'" in str(caught.value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "max_retries"),
    [
        ({}, RetryPolicy().max_retries),
        ({"max_retries": None}, 4),
        ({"max_retries": 0}, 0),
        ({"max_retries": 10}, 10),
        ({"max_retries": "3"}, 3),
        ({"max_retries": " 3 "}, 3),
        ({"extra__gcai__max_retries": 2}, 2),
    ],
)
def test_max_retries_extra_valid(extra: dict[str, Any], max_retries: int, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_r", {"conn_type": "gcai", "password": "gcai_k", "extra": extra})
    hook = GcaiHook("conn_r")
    assert hook.settings().max_retries == max_retries
    assert hook.transport.core.policy.max_retries == max_retries


@pytest.mark.parametrize("value", [-1, 11, 2.5, "3.5", "three", True, False, [1], "03"])
def test_max_retries_extra_invalid(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_bad_r", {"conn_type": "gcai", "password": "gcai_k", "extra": {"max_retries": value}})
    with pytest.raises(ConnectionSetupError) as caught:
        GcaiHook("conn_bad_r").settings()
    assert "'max_retries'" in str(caught.value)
    assert "0 to 10" in str(caught.value)


# -- proxy, verify, cert, cert_key ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        f"user:{PROXY_PASSWORD}@proxy.example:3128",  # no scheme
        f"proxy.example:{PROXY_PASSWORD}",
        f"ftp://user:{PROXY_PASSWORD}@proxy.example:21",  # not http(s)
        f"http://user:{PROXY_PASSWORD}@:3128",  # no host
        f"socks5://{PROXY_PASSWORD}@proxy.example:1080",
    ],
)
def test_a_proxy_that_is_not_an_http_url_is_a_setup_error_that_never_shows_the_value(
    value: str, monkeypatch: pytest.MonkeyPatch, api: FakeApi
) -> None:
    hook = gcore_conn(monkeypatch, "conn_proxy", proxy=value)
    with pytest.raises(ConnectionSetupError) as caught:
        hook.get_project(42)
    text = every_text_of(caught.value)
    assert "'conn_proxy'" in str(caught.value)
    assert "extra 'proxy' must be a URL with its scheme" in str(caught.value)
    assert "'direct'" in str(caught.value)  # says how to ignore the environment's proxy
    assert str(caught.value) == (
        "Connection 'conn_proxy': extra 'proxy' must be a URL with its scheme, like 'http://proxy.example:3128' "
        "(credentials as 'http://user:password@host:port'), or 'direct' to ignore HTTPS_PROXY/NO_PROXY; the value "
        "given is not (not shown: it may hold a password)"
    )
    assert value not in text
    assert PROXY_PASSWORD not in text
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert api.requests == []  # checked before any request


@pytest.mark.parametrize("value", [f"http://user:{PROXY_PASSWORD}@proxy.example:3128", "https://proxy.example"])
def test_a_proxy_url_is_kept_as_a_secret_for_every_request(
    value: str, monkeypatch: pytest.MonkeyPatch, api: FakeApi
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy.example:8080")
    hook = gcore_conn(monkeypatch, proxy=f"  {value} ")
    network = hook.settings().network
    assert network.proxy == Secret(value)
    assert network.proxy_for(GCORE_URL + "/cloud/v1/projects/1") == Secret(value)  # wins over the environment
    shown = "\n".join([repr(hook.settings()), str(hook.settings()), repr(network), repr(hook.transport)])
    assert PROXY_PASSWORD not in shown
    assert value not in shown


@pytest.mark.parametrize("value", ["direct", "DIRECT", " none ", "false", "False", False])
def test_proxy_direct_ignores_the_environment(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy.example:8080")
    network = gcore_conn(monkeypatch, proxy=value).settings().network
    assert network.proxy is None
    assert network.use_env_proxy is False
    assert network.proxy_for(GCORE_URL + "/cloud/v1/projects/1") is None


@pytest.mark.parametrize("extra", [{}, {"proxy": None}, {"proxy": ""}])
def test_without_a_proxy_extra_the_environment_applies(extra: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "env-proxy.example:8080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    network = gcore_conn(monkeypatch, **extra).settings().network
    assert network.proxy is None
    assert network.use_env_proxy is True
    assert network.proxy_for(GCORE_URL + "/x") == Secret("http://env-proxy.example:8080")
    monkeypatch.setenv("NO_PROXY", "api.gcore.com")
    assert network.proxy_for(GCORE_URL + "/x") is None


def test_the_old_form_key_of_proxy_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    network = gcore_conn(monkeypatch, extra__gcore__proxy="direct").settings().network
    assert network.use_env_proxy is False


@pytest.mark.parametrize(
    ("value", "verify"),
    [(None, True), ("", True), (True, True), ("true", True), (" TRUE ", True), (False, False), ("false", False)],
)
def test_verify_true_or_false(value: Any, verify: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {} if value is None else {"verify": value}
    hook = gcore_conn(monkeypatch, **extra)
    assert hook.settings().network.verify is verify
    assert hook.transport.session.verify is verify
    assert hook.transport.session.trust_env is False  # no second reading of REQUESTS_CA_BUNDLE and co.


def test_verify_a_ca_bundle_path(pem: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = gcore_conn(monkeypatch, verify=f" {pem} ")
    assert hook.settings().network.verify == str(pem)
    assert hook.transport.session.verify == str(pem)


@pytest.mark.parametrize("case", ["missing", "directory", "unreadable"])
def test_verify_an_unusable_ca_path_is_a_setup_error_before_any_request(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: FakeApi
) -> None:
    path = tmp_path / "ca.pem"
    if case == "directory":
        path.mkdir()
    elif case == "unreadable":
        path.write_text("x")
        real_access = os.access  # root reads any file, so unreadable is the access check's answer here
        monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(path) else real_access(p, mode))
    hook = gcore_conn(monkeypatch, "conn_ca", verify=str(path))
    with pytest.raises(ConnectionSetupError) as caught:
        hook.get_project(42)
    text = str(caught.value)
    assert "'conn_ca'" in text
    assert "extra 'verify' must be a CA bundle (PEM) path, true or false" in text
    assert f"{str(path)!r} is not a readable file here" in text
    assert api.requests == []


def test_cert_alone_and_with_its_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_text("c")
    key.write_text("k")

    alone = gcore_conn(monkeypatch, "conn_c1", cert=str(cert))
    assert alone.settings().network.cert == (str(cert), None)
    assert alone.transport.session.cert == str(cert)

    both = gcore_conn(monkeypatch, "conn_c2", cert=str(cert), cert_key=str(key))
    assert both.settings().network.cert == (str(cert), str(key))
    assert both.transport.session.cert == (str(cert), str(key))

    neither = gcore_conn(monkeypatch, "conn_c3")
    assert neither.settings().network.cert is None
    assert neither.transport.session.cert is None

    empty_key = gcore_conn(monkeypatch, "conn_c4", cert=str(cert), cert_key="")  # a form field left empty
    assert empty_key.settings().network.cert == (str(cert), None)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"cert_key": "KEYFILE"}, "extra 'cert_key' is set but 'cert' is not"),
        ({"cert": "MISSING"}, "extra 'cert' must be a client certificate (PEM) path"),
        ({"cert": "CERTFILE", "cert_key": "MISSING"}, "extra 'cert_key' must be its key path"),
    ],
)
def test_cert_problems_are_setup_errors_before_any_request(
    extra: dict[str, str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: FakeApi
) -> None:
    files = {"CERTFILE": tmp_path / "c.pem", "KEYFILE": tmp_path / "c.key", "MISSING": tmp_path / "nope.pem"}
    files["CERTFILE"].write_text("c")
    files["KEYFILE"].write_text("k")
    hook = gcore_conn(monkeypatch, "conn_cert", **{name: str(files[v]) for name, v in extra.items()})
    with pytest.raises(ConnectionSetupError) as caught:
        hook.get_project(42)
    assert says in str(caught.value)
    assert "'conn_cert'" in str(caught.value)
    assert api.requests == []


# -- what mutation testing found unpinned (issue 19) ------------------------------------------------


@pytest.mark.parametrize(
    ("conn", "base_url"),
    [
        ({"host": "api.example.test", "schema": "  "}, "https://api.example.test"),
        ({"host": "https://api.example.test/X/"}, "https://api.example.test/X"),
    ],
    ids=["blank-schema-is-https", "only-slashes-trimmed"],
)
def test_the_base_url_keeps_what_is_not_a_trailing_slash(
    conn: dict[str, Any], base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, "conn_url2", {"conn_type": "gcore", "password": "k-123456", **conn})
    assert GcoreHook("conn_url2").settings().base_url == base_url


def test_empty_extras_mean_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"timeout": "", "max_retries": "", "cert": "", "cert_key": ""}
    set_conn(monkeypatch, "conn_empty", {"conn_type": "gcore", "password": "k-123456", "extra": extra})
    settings = GcoreHook("conn_empty").settings()
    assert (settings.timeout, settings.max_retries, settings.network.cert) == (
        DEFAULT_TIMEOUT,
        RetryPolicy().max_retries,
        None,
    )


def test_a_timeout_of_a_tenth_of_a_second_is_the_least_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "conn_tenth", {"conn_type": "gcore", "password": "k-1", "extra": {"timeout": 0.1}})
    assert GcoreHook("conn_tenth").settings().timeout == Timeout(connect=0.1, read=0.1)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.gcore.com/cloud/v1/projects/12", "https://api.gcore.com/cloud/v1/projects/12"),
        ("https://user:s3cret@api.gcore.com/cloud/v1/projects/12", "https://api.gcore.com/cloud/v1/projects/12"),
        ("http://only-user@127.0.0.1:8080/cloud/v1/projects/2", "http://127.0.0.1:8080/cloud/v1/projects/2"),
        ("https://u%40x:p%3Aw@h.test", "https://h.test"),
    ],
    ids=["plain", "user-and-password", "user-and-port", "encoded-userinfo"],
)
def test_a_url_shown_in_a_log_line_keeps_everything_but_the_credentials(url: str, shown: str) -> None:
    from airflow_provider_projects.hooks.settings import shown_url

    assert shown_url(url) == shown
