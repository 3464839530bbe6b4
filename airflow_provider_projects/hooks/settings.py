"""A connection's host and extras, checked and normalised before any request: :class:`ConnectionSettings`.

Each problem is a :class:`ConnectionSetupError` that names the connection, the field and how to
fix it; a value that may hold a password (the proxy URL) is never shown.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_projects._http.retry import RetryPolicy
from airflow_provider_projects._http.wire import DEFAULT_TIMEOUT, Network, Secret, Timeout
from airflow_provider_projects.errors import ConnectionSetupError

MAX_RETRIES_LIMIT: Final = 10
#: ``proxy`` values that mean "connect directly, whatever the environment says".
NO_PROXY_WORDS: Final = frozenset({"direct", "none", "false"})


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """What a hook needs from its Airflow connection, checked and normalised."""

    base_url: str
    api_key: Secret
    timeout: Timeout
    max_retries: int
    network: Network

    def fingerprint(self) -> tuple[str, Secret]:
        """Who is asking where: waits that share it may share a poll (it holds the key: memory only)."""
        return (self.base_url, self.api_key)


def base_url(host: str | None, schema: str | None, port: int | None, conn_id: str, default: str) -> str:
    """The API base URL from the connection's host field (a URL, or a bare host with schema and port)."""
    host = (host or "").strip().rstrip("/")
    if not host:
        return default
    if "://" not in host:
        scheme = (schema or "https").strip() or "https"
        host = f"{scheme}://{host}"
        if port:
            host += f":{port}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in host):
        # Caught here, not by the transport: an unusable URL is a setup error, never worth a retry.
        raise ConnectionSetupError(
            f"Connection {conn_id!r}: the API base URL {host!r} is not an http(s) URL; "
            f"leave the host field empty for the default {default!r}"
        )
    return host


def shown_url(url: str) -> str:
    """``url`` fit for a log line or an error: without any ``user:password@`` pasted into the host."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def refuse_plain_http(url: str, allow_insecure_http: Any, conn_id: str) -> None:
    """Refuse an ``http://`` base URL off this machine: the API key would cross the network in clear.

    Loopback (an emulator or a tunnel here) is fine; another host needs the explicit extra
    ``allow_insecure_http: true`` (an emulator on a test machine), so a typo cannot leak a key.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or _is_loopback(parts.hostname or ""):
        return
    if allow_insecure_http is True or str(allow_insecure_http).strip().lower() == "true":
        return
    shown = shown_url(f"http://{parts.netloc}")
    raise ConnectionSetupError(
        f"Connection {conn_id!r}: the API base URL {shown!r} is plain http to a host that is not this machine, "
        "so the API key would travel unencrypted; use https://, or, for an emulator on another host only, "
        'set the extra "allow_insecure_http": true'
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def timeout(value: Any, conn_id: str) -> Timeout:
    """The extra ``timeout``: read timeout in seconds; the connect timeout is at most 10 s."""
    if value in (None, ""):
        return DEFAULT_TIMEOUT
    try:
        seconds = -1.0 if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0.1 <= seconds <= 3600:
        raise ConnectionSetupError(
            f"Connection {conn_id!r}: extra 'timeout' must be a number of seconds from 0.1 to 3600, not {value!r}"
        )
    return Timeout(connect=min(DEFAULT_TIMEOUT.connect, seconds), read=seconds)


def max_retries(value: Any, conn_id: str) -> int:
    """The extra ``max_retries``: a whole number of tries after the first, 0 to 10."""
    if value in (None, ""):
        return RetryPolicy().max_retries
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if isinstance(value, bool) or str(count) != str(value).strip() or not 0 <= count <= MAX_RETRIES_LIMIT:
        raise ConnectionSetupError(
            f"Connection {conn_id!r}: extra 'max_retries' must be a whole number from 0 to "
            f"{MAX_RETRIES_LIMIT}, not {value!r}"
        )
    return count


def network(proxy: Any, verify: Any, cert: Any, cert_key: Any, conn_id: str) -> Network:
    """The extras ``proxy``, ``verify``, ``cert`` and ``cert_key``, checked before any request."""
    use_env_proxy = True
    proxy_secret = None
    if proxy is False or (isinstance(proxy, str) and proxy.strip().lower() in NO_PROXY_WORDS):
        use_env_proxy = False
    elif proxy not in (None, ""):
        text = str(proxy).strip()
        parts = urlsplit(text) if "://" in text else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            # The value may carry credentials: the message names the rule, never the value.
            raise ConnectionSetupError(
                f"Connection {conn_id!r}: extra 'proxy' must be a URL with its scheme, like "
                "'http://proxy.example:3128' (credentials as 'http://user:password@host:port'), or 'direct' "
                "to ignore HTTPS_PROXY/NO_PROXY; the value given is not (not shown: it may hold a password)"
            )
        proxy_secret = Secret(text)
    return Network(
        proxy=proxy_secret,
        use_env_proxy=use_env_proxy,
        verify=_verify(verify, conn_id),
        cert=_cert(cert, cert_key, conn_id),
    )


def _verify(value: Any, conn_id: str) -> bool | str:
    if value in (None, "") or value is True or str(value).strip().lower() == "true":
        return True
    if value is False or str(value).strip().lower() == "false":
        return False
    return _readable_file(str(value).strip(), "verify", "a CA bundle (PEM) path, true or false", conn_id)


def _cert(cert: Any, key: Any, conn_id: str) -> tuple[str, str | None] | None:
    if cert in (None, ""):
        if key not in (None, ""):
            raise ConnectionSetupError(f"Connection {conn_id!r}: extra 'cert_key' is set but 'cert' is not")
        return None
    cert_path = _readable_file(str(cert).strip(), "cert", "a client certificate (PEM) path", conn_id)
    key_path = None if key in (None, "") else _readable_file(str(key).strip(), "cert_key", "its key path", conn_id)
    return (cert_path, key_path)


def _readable_file(path: str, name: str, what: str, conn_id: str) -> str:
    if not (os.path.isfile(path) and os.access(path, os.R_OK)):
        raise ConnectionSetupError(
            f"Connection {conn_id!r}: extra {name!r} must be {what}, readable by this process; "
            f"{path!r} is not a readable file here"
        )
    return path
