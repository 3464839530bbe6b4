"""What crosses the wire, as plain values: requests, answers, failures, and redaction of the key.

A leaf module: it imports nothing of this package, so the core, the dialects and both
transports can share it without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from airflow_provider_projects._http.failure_text import shorten


class Secret:
    """Holds a key or a proxy URL; only :meth:`reveal` gives it back, every rendering shows ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable: it must never leave the worker in serialized form")


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds to wait for a connection and for each read of the answer."""

    connect: float
    read: float


DEFAULT_TIMEOUT: Final = Timeout(connect=10.0, read=30.0)


@dataclass(frozen=True, slots=True)
class Request:
    """A ready-to-send request. ``headers`` carries the key, so it never appears in the repr."""

    method: str
    url: str
    path: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes | None = field(repr=False)
    timeout: Timeout


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer; ``headers`` is the transport's case-insensitive mapping."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)


class FailureKind(StrEnum):
    """Why no HTTP answer came back."""

    CONNECT = "connection failed"  # nothing was sent: always safe to try again
    TIMEOUT = "read timed out"
    DROPPED = "connection dropped"
    TLS = "TLS verification failed"  # the certificate was refused: a setup problem, no retry fixes it


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No HTTP answer: the transport's exception, reduced to a kind and a short text."""

    kind: FailureKind
    detail: str

    @classmethod
    def of(cls, kind: FailureKind, exc: BaseException, *secrets: Secret) -> TransportFailure:
        """Reduce a transport's exception to a kind and a short text, free of ``secrets`` (a proxy URL)."""
        text = redact(f"{type(exc).__name__}: {exc}", *secrets)
        # A library may render the proxy URL normalised (aiohttp's yarl decodes %7E to ~, for
        # one), which the exact replacement above misses: drop the credentials of any URL too.
        # Shortened only now, once no secret is left to be split by a cut.
        return cls(kind, shorten(_USERINFO.sub(r"\1***@", text)))


Outcome = Response | TransportFailure


@dataclass(frozen=True, slots=True)
class Network:
    """How a transport reaches the API: proxy and TLS, the same on both transports.

    ``proxy`` is a URL that may carry credentials, hence a :class:`Secret`. Without one, the
    environment's ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` apply unless ``use_env_proxy`` is
    false. The proxy is chosen here, once, for both transports: ``requests`` and ``aiohttp`` read
    the environment differently (and aiohttp only when asked), so neither is left to guess.
    ``verify`` is ``True`` (the library's trust store), ``False``, or a CA bundle path;
    ``cert`` a client certificate path and an optional key path.
    """

    proxy: Secret | None = None
    use_env_proxy: bool = True
    verify: bool | str = True
    cert: tuple[str, str | None] | None = None

    def proxy_for(self, url: str) -> Secret | None:
        """The proxy to send a request for ``url`` through, or ``None`` to connect directly."""
        if self.proxy is not None:
            return self.proxy
        if not self.use_env_proxy:
            return None
        from urllib.parse import urlsplit
        from urllib.request import getproxies_environment, proxy_bypass_environment  # type: ignore[attr-defined]

        proxies = getproxies_environment()
        parts = urlsplit(url)
        found = proxies.get(parts.scheme)
        if not found or proxy_bypass_environment(parts.netloc, proxies):
            return None
        return Secret(found if "://" in found else f"http://{found}")


DIRECT: Final = Network()

#: Pieces of a key that a server echoed with the middle masked: Gcore answers a wrong key with
#: "Invalid <APIKey> authentication token: 21788*****21788" (its first and last five characters).
_MASKED: Final = re.compile(r"([^\s*]*)(\*{2,})([^\s*]*)")
#: The credentials part of a URL (``scheme://user:password@``), whatever its encoding.
_USERINFO: Final = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/@]+@")
#: The shortest piece of a key worth hiding: fewer characters say nothing about the key.
MIN_PIECE: Final = 4


def redact(text: str, *secrets: Secret) -> str:
    """Remove every secret from text that came from elsewhere (a server message, an exception).

    Also removes the pieces a server echoes around asterisks: any run of asterisks with a prefix
    or suffix of a secret of :data:`MIN_PIECE` or more characters beside it, and, key or not, any
    ``xxxx***yyyy`` token with three or more asterisks (the masked-echo form: whose key it shows
    cannot always be told, and hiding a harmless one costs nothing).
    """
    values = [secret.reveal() for secret in secrets if secret.reveal()]
    for value in values:
        text = text.replace(value, "***")
    if "**" not in text:
        return text

    def masked(match: re.Match[str]) -> str:
        before, stars, after = match.groups()
        if _piece_of(before, after, values) or (len(stars) >= 3 and max(len(before), len(after)) >= MIN_PIECE):
            return "***"
        return match.group(0)

    return _MASKED.sub(masked, text)


def _piece_of(before: str, after: str, values: list[str]) -> bool:
    """True if ``before`` ends with a key's prefix, or ``after`` starts with a key's suffix."""
    for value in values:
        for size in range(len(value) - 1, MIN_PIECE - 1, -1):
            if before.endswith(value[:size]) or after.startswith(value[-size:]):
                return True
    return False
