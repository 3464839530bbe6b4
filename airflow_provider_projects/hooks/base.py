"""What both hooks share: reading the Airflow connection once and building the HTTP core from it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from airflow.sdk import BaseHook, Connection
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_projects import __version__
from airflow_provider_projects._http.aio import AsyncTransport
from airflow_provider_projects._http.core import DEFAULT_TIMEOUT, HttpCore, RetryPolicy, Timeout
from airflow_provider_projects._http.dialect import Dialect
from airflow_provider_projects._http.secret import Secret
from airflow_provider_projects._http.sync import SyncTransport
from airflow_provider_projects.errors import ConnectionSetupError

_SCHEME_PREFIX: Final = re.compile(r"^(apikey|bearer)\s+", re.IGNORECASE)
#: The connection form's extra fields (``conn-fields``); both live in the connection's extra JSON.
EXTRA_TIMEOUT: Final = "timeout"
EXTRA_MAX_RETRIES: Final = "max_retries"
MAX_RETRIES_LIMIT: Final = 10


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """What a hook needs from its Airflow connection, checked and normalised."""

    base_url: str
    api_key: Secret
    timeout: Timeout
    max_retries: int


def user_agent() -> str:
    """``airflow-provider-projects/<v> apache-airflow/<v>``: lets the vendors see who calls."""
    from airflow import __version__ as airflow_version

    return f"airflow-provider-projects/{__version__} apache-airflow/{airflow_version}"


class ProjectsApiHook(BaseHook):
    """Base of :class:`GcoreHook` and :class:`GcaiHook`.

    The connection is read once, on first use, and one keep-alive session serves every call of
    the hook instance. ``timeout`` (seconds) and ``max_retries`` override the connection's extras;
    ``sleep`` and ``async_sleep`` are injectable so tests never wait for real.
    """

    conn_type: ClassVar[str]
    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    hook_name: ClassVar[str]
    default_base_url: ClassVar[str]
    dialect: ClassVar[Dialect]

    def __init__(
        self,
        conn_id: str,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] | None = None,
        async_sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self._timeout_override = timeout
        self._max_retries_override = max_retries
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._settings: ConnectionSettings | None = None
        self._async_transport: AsyncTransport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form for Airflow before 3.2 (3.2+ reads ``ui-field-behaviour`` from provider info)."""
        from airflow_provider_projects.provider_info import ui_field_behaviour

        return ui_field_behaviour(cls.default_base_url)

    # -- connection -------------------------------------------------------------------------------

    def settings_from(self, conn: Connection, extra: dict[str, Any]) -> ConnectionSettings:
        """Check and normalise a connection (``extra`` is its parsed extra JSON); problems say how to fix them."""
        return read_settings(
            conn,
            extra,
            api=self.dialect.name,
            conn_id=self.conn_id,
            default_base_url=self.default_base_url,
            timeout=self._timeout_override,
            max_retries=self._max_retries_override,
            key_check=self.check_key,
            log=self.log.warning,
        )

    def _fetch_connection(self) -> tuple[Connection, dict[str, Any]]:
        try:
            conn = self.get_connection(self.conn_id)
        except AirflowNotFoundException:
            raise self._missing_connection() from None
        return conn, conn.extra_dejson

    async def _afetch_connection(self) -> tuple[Connection, dict[str, Any]]:
        try:
            conn = await _aget_connection(self.conn_id)
        except AirflowNotFoundException:
            raise self._missing_connection() from None
        aextra = getattr(conn, "aextra_dejson", None)
        return conn, (await aextra() if aextra is not None else conn.extra_dejson)

    def _checked_settings(self, fetched: tuple[Connection, dict[str, Any]]) -> ConnectionSettings:
        """:meth:`settings_from`, raising its errors without the frames that held the connection.

        Airflow's ``Connection`` repr shows the password, and a traceback keeps every frame's
        locals: a logger or error tracker that renders them would print the key. The callers
        pass the fetched connection straight in, so no frame above this one holds it either.
        """
        try:
            return self.settings_from(*fetched)
        except ConnectionSetupError as error:
            problem = error
        del fetched
        raise problem.with_traceback(None) from None

    def check_key(self, key: str, warn: Callable[[str], None]) -> None:
        """Per-API key checks (warnings only: a key format may change before our rules do)."""

    def _core(self, settings: ConnectionSettings) -> HttpCore:
        return HttpCore(
            dialect=self.dialect,
            base_url=settings.base_url,
            api_key=settings.api_key,
            user_agent=user_agent(),
            timeout=settings.timeout,
            policy=RetryPolicy(max_retries=settings.max_retries),
        )

    @cached_property
    def transport(self) -> SyncTransport:
        """The worker-side transport, built on first use from the connection (fetched once)."""
        from airflow.sdk.log import mask_secret

        if self._settings is None:
            self._settings = self._checked_settings(self._fetch_connection())
        mask_secret(self._settings.api_key.reveal())
        if self._sleep is None:
            return SyncTransport(self._core(self._settings))
        return SyncTransport(self._core(self._settings), sleep=self._sleep)

    async def async_transport(self) -> AsyncTransport:
        """The event-loop transport for triggers, built once per hook.

        The connection is fetched and its extras parsed with the async APIs: their sync twins talk
        to the supervisor and can block, even deadlock, the triggerer's event loop.
        """
        if self._async_transport is not None:
            return self._async_transport
        if self._settings is None:
            self._settings = self._checked_settings(await self._afetch_connection())
        core = self._core(self._settings)
        self._async_transport = (
            AsyncTransport(core) if self._async_sleep is None else AsyncTransport(core, sleep=self._async_sleep)
        )
        return self._async_transport

    def _missing_connection(self) -> ConnectionSetupError:
        env = "AIRFLOW_CONN_" + self.conn_id.upper()
        return ConnectionSetupError(
            f"No Airflow connection {self.conn_id!r} ({self.hook_name}). Create it in the UI "
            f"(Admin -> Connections, type {self.hook_name!r}), or with "
            f"`airflow connections add {self.conn_id} --conn-type {self.conn_type} --conn-password <API key>`, "
            f'or set {env}=\'{{"conn_type": "{self.conn_type}", "password": "<API key>"}}\'.'
        )

    def close(self) -> None:
        """Close the keep-alive session (if one was opened)."""
        if "transport" in self.__dict__:
            self.transport.close()


async def _aget_connection(conn_id: str) -> Connection:
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)  # type: ignore[no-any-return]
    from asgiref.sync import sync_to_async  # pragma: no cover - Airflow before aget_connection

    return await sync_to_async(BaseHook.get_connection)(conn_id)  # pragma: no cover


def read_settings(
    conn: Connection,
    extra: dict[str, Any],
    *,
    api: str,
    conn_id: str,
    default_base_url: str,
    timeout: float | None,
    max_retries: int | None,
    key_check: Callable[[str, Callable[[str], None]], None],
    log: Callable[[str], None],
) -> ConnectionSettings:
    """Turn an Airflow connection into settings, normalising the few safe-to-fix mistakes."""
    key = (conn.password or "").strip()
    if not key:
        where = " (it is in the Login field: move it to the API key field)" if (conn.login or "").strip() else ""
        raise ConnectionSetupError(
            f"Connection {conn_id!r} has no {api} API key{where}. Put the key in the connection's "
            "password field, labelled 'API key' in the UI."
        )
    prefix = _SCHEME_PREFIX.match(key)
    if prefix:
        # Both APIs want the key with the provider's own scheme (Gcore) or none (GC AI); a pasted
        # "APIKey <token>" or "Bearer <token>" would be refused, so the word is dropped.
        log(
            f"Connection {conn_id!r}: the API key starts with {prefix.group(1)!r}; the provider sends the "
            f"key the way {api} expects it, so that word was removed. Store the key alone."
        )
        key = key[prefix.end() :]
    if any(not 0x21 <= ord(char) <= 0x7E for char in key):
        # A line break or a non-ASCII character cannot go in an HTTP header; the HTTP libraries
        # would fail with the whole header, key included, in their error text. Never echo it.
        raise ConnectionSetupError(
            f"Connection {conn_id!r}: the {api} API key contains a space, a line break, a control or a "
            "non-ASCII character (often a copy-paste artefact); store the key alone, exactly as issued."
        )
    key_check(key, log)

    def extra_field(name: str) -> Any:
        # The 3.2+ form stores conn-fields under their own name; older forms used "extra__<type>__<name>".
        return extra.get(name, extra.get(f"extra__{conn.conn_type}__{name}"))

    return ConnectionSettings(
        base_url=_base_url(conn, default_base_url),
        api_key=Secret(key),
        timeout=_timeout(timeout if timeout is not None else extra_field(EXTRA_TIMEOUT), conn_id),
        max_retries=_max_retries(max_retries if max_retries is not None else extra_field(EXTRA_MAX_RETRIES), conn_id),
    )


def call_timeout(seconds: float | None) -> Timeout | None:
    """A per-call timeout: the same number of seconds to connect and for each read."""
    if seconds is None:
        return None
    from airflow_provider_projects.validation import positive_seconds

    seconds = positive_seconds(seconds, "timeout")
    return Timeout(connect=seconds, read=seconds)


def _base_url(conn: Connection, default: str) -> str:
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return default
    if "://" not in host:
        scheme = (conn.schema or "https").strip() or "https"
        host = f"{scheme}://{host}"
        if conn.port:
            host += f":{conn.port}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in host):
        # Caught here, not by the transport: an unusable URL is a setup error, never worth a retry.
        raise ConnectionSetupError(
            f"Connection {conn.conn_id!r}: the API base URL {host!r} is not an http(s) URL; "
            f"leave the host field empty for the default {default!r}"
        )
    return host


def _timeout(value: Any, conn_id: str) -> Timeout:
    if value in (None, ""):
        return DEFAULT_TIMEOUT
    try:
        seconds = -1.0 if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0.1 <= seconds <= 3600:
        raise ConnectionSetupError(
            f"Connection {conn_id!r}: extra {EXTRA_TIMEOUT!r} must be a number of seconds from 0.1 to 3600, "
            f"not {value!r}"
        )
    return Timeout(connect=min(DEFAULT_TIMEOUT.connect, seconds), read=seconds)


def _max_retries(value: Any, conn_id: str) -> int:
    if value in (None, ""):
        return RetryPolicy().max_retries
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if isinstance(value, bool) or str(count) != str(value).strip() or not 0 <= count <= MAX_RETRIES_LIMIT:
        raise ConnectionSetupError(
            f"Connection {conn_id!r}: extra {EXTRA_MAX_RETRIES!r} must be a whole number from 0 to "
            f"{MAX_RETRIES_LIMIT}, not {value!r}"
        )
    return count
