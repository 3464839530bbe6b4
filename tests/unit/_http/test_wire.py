"""The wire values: Secret, redaction of keys and their masked echoes, the proxy choice, failures."""

from __future__ import annotations

import copy
import pickle

import pytest

from airflow_provider_projects._http.wire import (
    DEFAULT_TIMEOUT,
    FailureKind,
    Network,
    Request,
    Response,
    Secret,
    Timeout,
    TransportFailure,
    redact,
)

KEY = "SECRETWRONGKEY-gcore-7777"
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "REQUEST_METHOD")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without proxy variables (either case), whatever the machine has."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


# -- Secret ---------------------------------------------------------------------------------------


def test_secret_reveals_only_on_request() -> None:
    secret = Secret(KEY)
    assert secret.reveal() == KEY
    for rendering in (repr(secret), str(secret), f"{secret}", f"{secret!r}", str([secret]), str({"k": secret})):
        assert KEY not in rendering
        assert "***" in rendering


def test_secrets_compare_and_hash_by_value() -> None:
    assert Secret(KEY) == Secret(KEY)
    assert Secret(KEY) != Secret(KEY + "x")
    assert Secret(KEY) != KEY  # never equal to the bare string
    assert len({Secret(KEY), Secret(KEY), Secret("other")}) == 2


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_a_secret_refuses_to_be_pickled(protocol: int) -> None:
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(Secret(KEY), protocol=protocol)
    with pytest.raises(TypeError, match="not picklable"):
        copy.copy(Secret(KEY))


def test_request_and_response_reprs_hide_headers_and_bodies() -> None:
    request = Request(
        "PUT", "https://api.test/x", "/x", {"Authorization": f"APIKey {KEY}"}, KEY.encode(), DEFAULT_TIMEOUT
    )
    response = Response(401, {"X-Echo": KEY}, f"bad key {KEY}".encode())
    assert KEY not in repr(request)
    assert "PUT" in repr(request)
    assert "/x" in repr(request)
    assert KEY not in repr(response)
    assert "401" in repr(response)


# -- redact ---------------------------------------------------------------------------------------


def test_redact_removes_every_occurrence_of_every_secret() -> None:
    text = f"key {KEY} then {KEY}; proxy http://u:pw@proxy.test:3128 used"
    result = redact(text, Secret(KEY), Secret("http://u:pw@proxy.test:3128"))
    assert result == "key *** then ***; proxy *** used"


def test_redact_ignores_empty_secrets() -> None:
    assert redact("nothing to hide", Secret("")) == "nothing to hide"


def test_the_gcore_masked_echo_of_a_wrong_key_is_hidden() -> None:
    # Gcore answers a wrong key by echoing its first and last five characters around asterisks.
    text = "Invalid <APIKey> authentication token: SECRE*****-7777"
    assert redact(text, Secret(KEY)) == "Invalid <APIKey> authentication token: ***"


def test_a_masked_echo_is_hidden_even_when_the_key_is_not_known() -> None:
    # Whose key "21788*****21788" shows cannot always be told: such a token is hidden anyway.
    text = "Invalid <APIKey> authentication token: 21788*****21788"
    assert redact(text) == "Invalid <APIKey> authentication token: ***"
    assert redact(text, Secret(KEY)) == "Invalid <APIKey> authentication token: ***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("token SECR** rest", "token *** rest", id="4-char-prefix-then-2-stars"),
        pytest.param("token **7777 rest", "token *** rest", id="2-stars-then-4-char-suffix"),
        pytest.param("token xSECRETW** rest", "token *** rest", id="longer-prefix-glued-to-text"),
        pytest.param("token SECRETWRONGKEY-gcor** rest", "token *** rest", id="all-but-the-last-char"),
        pytest.param("token SEC** rest", "token SEC** rest", id="3-char-prefix-too-short"),
        pytest.param("token **777 rest", "token **777 rest", id="3-char-suffix-too-short"),
    ],
)
def test_key_pieces_of_four_or_more_characters_beside_asterisks_are_hidden(text: str, expected: str) -> None:
    assert redact(text, Secret(KEY)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a plain message without any stars",
        "**bold** markdown stays",
        "a *** b (stars alone)",
        "x***y (too short to be a key)",
        "2 * 3 = 6",
        "abcdefgh** not a piece of the key",
    ],
)
def test_harmless_text_is_left_alone(text: str) -> None:
    assert redact(text, Secret(KEY)) == text


# -- Network.proxy_for ----------------------------------------------------------------------------


def test_an_explicit_proxy_wins_over_the_environment(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://env-proxy.test:3128")
    no_proxy_env.setenv("NO_PROXY", "api.test")
    proxy = Secret("http://user:pw@explicit.test:8080")
    assert Network(proxy=proxy).proxy_for("https://api.test/x") is proxy
    assert Network(proxy=proxy, use_env_proxy=False).proxy_for("https://api.test/x") is proxy


def test_https_proxy_from_the_environment_is_used(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://env-proxy.test:3128")
    assert Network().proxy_for("https://api.test/x") == Secret("http://env-proxy.test:3128")


def test_http_urls_use_http_proxy(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://secure-proxy.test:3128")
    no_proxy_env.setenv("HTTP_PROXY", "http://plain-proxy.test:3128")
    assert Network().proxy_for("http://api.test/x") == Secret("http://plain-proxy.test:3128")
    assert Network().proxy_for("https://api.test/x") == Secret("http://secure-proxy.test:3128")


def test_a_proxy_without_scheme_gets_http(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "env-proxy.test:3128")
    assert Network().proxy_for("https://api.test/x") == Secret("http://env-proxy.test:3128")


@pytest.mark.parametrize("no_proxy", ["api.test", ".test", "other.example,api.test", "*"])
def test_no_proxy_is_honoured(no_proxy_env: pytest.MonkeyPatch, no_proxy: str) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://env-proxy.test:3128")
    no_proxy_env.setenv("NO_PROXY", no_proxy)
    assert Network().proxy_for("https://api.test/x") is None


def test_no_proxy_for_another_host_keeps_the_proxy(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://env-proxy.test:3128")
    no_proxy_env.setenv("NO_PROXY", "other.example")
    assert Network().proxy_for("https://api.test/x") == Secret("http://env-proxy.test:3128")


def test_use_env_proxy_false_ignores_the_environment(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://env-proxy.test:3128")
    assert Network(use_env_proxy=False).proxy_for("https://api.test/x") is None


def test_no_proxy_anywhere_means_direct(no_proxy_env: pytest.MonkeyPatch) -> None:
    assert Network().proxy_for("https://api.test/x") is None


# -- TransportFailure -----------------------------------------------------------------------------


def test_a_failure_names_the_exception_and_hides_the_proxy_url() -> None:
    proxy = Secret("http://alice:s3cr3t-pw@proxy.corp.test:3128")
    exc = OSError(f"Cannot connect to proxy {proxy.reveal()}: connection refused")
    failure = TransportFailure.of(FailureKind.CONNECT, exc, proxy)
    assert failure.kind is FailureKind.CONNECT
    assert failure.detail == "OSError: Cannot connect to proxy ***: connection refused"
    assert "s3cr3t-pw" not in repr(failure)


def test_a_failure_detail_is_kept_short_and_keeps_its_end() -> None:
    failure = TransportFailure.of(FailureKind.DROPPED, ConnectionResetError("x" * 1000 + " the reason"))
    assert failure.detail.startswith("ConnectionResetError: xxx")
    assert failure.detail.endswith("xxx the reason")
    assert len(failure.detail) == 400


def test_failure_kinds_say_what_happened() -> None:
    assert {kind.value for kind in FailureKind} == {
        "connection failed",
        "read timed out",
        "connection dropped",
        "TLS verification failed",
    }


# -- the boundaries of the masked-echo rule (issue 19) ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("token: 21788**21788", "token: 21788**21788", id="2-stars-not-a-masked-echo"),
        pytest.param("token: 21788***21788", "token: ***", id="3-stars-masked-echo"),
        pytest.param("token: 21788****21788", "token: ***", id="4-stars-masked-echo"),
        pytest.param("token: 2178***", "token: ***", id="4-char-prefix-is-enough"),
        pytest.param("token: ***8821", "token: ***", id="4-char-suffix-is-enough"),
        pytest.param("token: 217***882", "token: 217***882", id="3-chars-each-side-too-short"),
    ],
)
def test_three_or_more_asterisks_beside_four_characters_are_a_masked_echo_of_any_key(text: str, expected: str) -> None:
    """The rule for echoes of keys we do not know: three asterisks at least, four characters beside them."""
    assert redact(text) == expected
    assert redact(text, Secret(KEY)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"token {KEY[:-1]}** rest", "token *** rest", id="prefix-all-but-the-last-char"),
        pytest.param(f"token **{KEY[1:]} rest", "token *** rest", id="suffix-all-but-the-first-char"),
        pytest.param(f"token {KEY[:-2]}** rest", "token *** rest", id="prefix-all-but-two-chars"),
    ],
)
def test_the_longest_key_pieces_beside_two_asterisks_are_hidden(text: str, expected: str) -> None:
    # Two asterisks are not the masked-echo form: only the key's own prefixes and suffixes hide them.
    assert redact(text, Secret(KEY)) == expected
    assert redact(text) == text


def test_a_secret_renders_as_three_asterisks_and_says_why_it_cannot_be_pickled() -> None:
    assert repr(Secret(KEY)) == str(Secret(KEY)) == "Secret('***')"
    with pytest.raises(TypeError) as refused:
        pickle.dumps(Secret(KEY))
    assert str(refused.value) == "a Secret is not picklable: it must never leave the worker in serialized form"


# -- proxy credentials in transport errors (issue 19: only tests/integration covered them) ----------


@pytest.mark.parametrize(
    ("rendered", "expected"),
    [
        # aiohttp's yarl decodes %7E to ~: the exact value given no longer matches, the userinfo rule does.
        pytest.param(
            "http://alice:s3cr~t@proxy.corp.test:3128",
            "ClientProxyConnectionError: Cannot connect to proxy http://***@proxy.corp.test:3128 [refused]",
            id="normalised-by-the-library",
        ),
        pytest.param(
            "https://bob@proxy.corp.test",
            "ClientProxyConnectionError: Cannot connect to proxy https://***@proxy.corp.test [refused]",
            id="user-without-password",
        ),
        pytest.param(
            "socks5h://carol:pw@proxy.corp.test:1080",
            "ClientProxyConnectionError: Cannot connect to proxy socks5h://***@proxy.corp.test:1080 [refused]",
            id="any-scheme",
        ),
    ],
)
def test_a_failure_drops_the_credentials_of_any_url_it_mentions(rendered: str, expected: str) -> None:
    given = Secret("http://alice:s3cr%7Et@proxy.corp.test:3128")

    class ClientProxyConnectionError(OSError):
        pass

    exc = ClientProxyConnectionError(f"Cannot connect to proxy {rendered} [refused]")
    failure = TransportFailure.of(FailureKind.CONNECT, exc, given)
    assert failure.detail == expected
    assert "s3cr" not in repr(failure)


def test_a_failure_keeps_urls_without_credentials_and_emails_as_they_are() -> None:
    exc = OSError("GET https://api.test/x@y failed; write to ops@example.test")
    assert TransportFailure.of(FailureKind.DROPPED, exc).detail == (
        "OSError: GET https://api.test/x@y failed; write to ops@example.test"
    )


def test_the_default_timeout_is_10_s_to_connect_and_30_s_per_read() -> None:
    # As docs/connections.md promises: a connection without a 'timeout' extra gets these.
    assert Timeout(connect=10.0, read=30.0) == DEFAULT_TIMEOUT
