"""What both hooks share: reading the Airflow connection once and building the HTTP core from it."""

from __future__ import annotations

import asyncio
import re
from functools import cached_property
from typing import Any, ClassVar, Final

from airflow.sdk import BaseHook, Connection
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_projects import __version__
from airflow_provider_projects._http.aio import AsyncTransport
from airflow_provider_projects._http.core import HttpCore
from airflow_provider_projects._http.dialect import Dialect
from airflow_provider_projects._http.retry import RetryPolicy
from airflow_provider_projects._http.sync import SyncTransport
from airflow_provider_projects._http.wire import Secret, Timeout
from airflow_provider_projects.errors import ConnectionNotFoundError, ConnectionSetupError
from airflow_provider_projects.hooks import settings as extras
from airflow_provider_projects.hooks.settings import ConnectionSettings
from airflow_provider_projects.version_compat import aextra_dejson, conn_field

_SCHEME_PREFIX: Final = re.compile(r"^(apikey|bearer)\s+", re.IGNORECASE)


def user_agent() -> str:
    """``airflow-provider-projects/<v> apache-airflow/<v>``: lets the vendors see who calls."""
    from airflow import __version__ as airflow_version

    return f"airflow-provider-projects/{__version__} apache-airflow/{airflow_version}"


class ProjectsApiHook(BaseHook):
    """Base of :class:`GcoreHook` and :class:`GcaiHook`.

    The connection is read once, on first use, and one keep-alive session serves every call of
    the hook instance. ``timeout`` (seconds) and ``max_retries`` override the connection's extras.
    """

    conn_type: ClassVar[str]
    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    hook_name: ClassVar[str]
    default_base_url: ClassVar[str]
    dialect: ClassVar[Dialect]

    def __init__(self, conn_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id
        self._timeout_override = timeout
        self._max_retries_override = max_retries
        self._settings: ConnectionSettings | None = None
        self._settings_read: asyncio.Future[ConnectionSettings] | None = None
        self._async_transport: AsyncTransport | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    # -- the connection ----------------------------------------------------------------------------

    def settings(self) -> ConnectionSettings:
        """The connection's settings, read on first use (blocking: workers only)."""
        if self._settings is None:
            # The fetched connection goes straight into _checked: no frame here holds it (see there).
            self._settings = self._checked(*self._fetch())
        return self._settings

    def _fetch(self) -> tuple[Connection, dict[str, Any]]:
        try:
            conn = self.get_connection(self.conn_id)
        except AirflowNotFoundException:
            raise self._missing_connection() from None
        return conn, conn.extra_dejson

    async def _afetch(self) -> tuple[Connection, dict[str, Any]]:
        try:
            conn = await BaseHook.aget_connection(self.conn_id)
        except AirflowNotFoundException:
            raise self._missing_connection() from None
        return conn, await aextra_dejson(conn)

    async def asettings(self) -> ConnectionSettings:
        """The connection's settings, read with the async APIs: their sync twins can deadlock a triggerer.

        Read once even when many waits sharing this hook ask at the same moment (a triggerer
        starting a thousand of them); a failed read is not kept, so the next call reads again.
        """
        if self._settings is not None:
            return self._settings
        if self._settings_read is None:
            self._settings_read = asyncio.ensure_future(self._aread_settings())
        reading = self._settings_read
        try:
            return await asyncio.shield(reading)
        finally:
            if reading.done() and (reading.cancelled() or reading.exception() is not None):
                self._settings_read = None

    async def _aread_settings(self) -> ConnectionSettings:
        self._settings = self._checked(*(await self._afetch()))
        return self._settings

    def _checked(self, conn: Connection, extra: dict[str, Any]) -> ConnectionSettings:
        """:meth:`parse_settings`, raising its errors without the frames that held the connection.

        Airflow's ``Connection`` repr shows the password, and a traceback keeps every frame's
        locals: a logger or error tracker that renders them would print the key. The callers pass
        the fetched connection straight in, so no frame above this one holds it either.
        """
        try:
            return self.parse_settings(conn, extra)
        except ConnectionSetupError as error:
            problem = error
        del conn, extra
        raise problem.with_traceback(None) from None

    def parse_settings(self, conn: Connection, extra: dict[str, Any]) -> ConnectionSettings:
        """Check and normalise a connection (``extra`` is its parsed extra JSON); problems say how to fix them."""

        self._check_conn_type(conn.conn_type)

        def field(name: str) -> Any:
            return conn_field(extra, conn.conn_type, name)

        url = extras.base_url(conn.host, conn.schema, conn.port, self.conn_id, self.default_base_url)
        extras.refuse_plain_http(url, field("allow_insecure_http"), self.conn_id)
        timeout = self._timeout_override if self._timeout_override is not None else field("timeout")
        retries = self._max_retries_override if self._max_retries_override is not None else field("max_retries")
        conn_id = self.conn_id
        return ConnectionSettings(
            base_url=url,
            api_key=Secret(self._api_key(conn)),
            timeout=extras.timeout(timeout, conn_id),
            max_retries=extras.max_retries(retries, conn_id),
            network=extras.network(field("proxy"), field("verify"), field("cert"), field("cert_key"), conn_id),
        )

    def _check_conn_type(self, conn_type: str | None) -> None:
        """Refuse another type's connection: its key was issued for another API and must not go to this one's host."""
        if conn_type == self.conn_type:
            return
        raise ConnectionSetupError(
            f"Connection {self.conn_id!r} has type {conn_type!r}, but {type(self).__name__} ({self.hook_name}) reads "
            f"only connections of type {self.conn_type!r}, so that a key is only sent to the API it was issued for. "
            f"Recreate it with type {self.conn_type!r}: in the UI (Admin -> Connections, type {self.hook_name!r}), "
            f"or `airflow connections delete {self.conn_id}` then {self._add_command()}."
        )

    def _add_command(self) -> str:
        return f"`airflow connections add {self.conn_id} --conn-type {self.conn_type} --conn-password <API key>`"

    def _api_key(self, conn: Connection) -> str:
        """The key from the password field, with the few safe-to-fix paste mistakes fixed."""
        api = self.dialect.name
        key = (conn.password or "").strip()
        if not key:
            where = " (it is in the Login field: move it to the API key field)" if (conn.login or "").strip() else ""
            raise ConnectionSetupError(
                f"Connection {self.conn_id!r} has no {api} API key{where}. Put the key in the connection's "
                "password field, labelled 'API key' in the UI."
            )
        prefix = _SCHEME_PREFIX.match(key)
        if prefix:
            # Both APIs want the key with the provider's own scheme (Gcore) or none (GC AI); a pasted
            # "APIKey <token>" or "Bearer <token>" would be refused, so the word is dropped.
            self.log.warning(
                "Connection %r: the API key starts with %r; the provider sends the key the way %s expects it, "
                "so that word was removed. Store the key alone.",
                self.conn_id,
                prefix.group(1),
                api,
            )
            key = key[prefix.end() :]
        if any(not 0x21 <= ord(char) <= 0x7E for char in key):
            # A line break or a non-ASCII character cannot go in an HTTP header; the HTTP libraries
            # would fail with the whole header, key included, in their error text. Never echo it.
            raise ConnectionSetupError(
                f"Connection {self.conn_id!r}: the {api} API key contains a space, a line break, a control or a "
                "non-ASCII character (often a copy-paste artefact); store the key alone, exactly as issued."
            )
        self.check_key(key)
        return key

    def check_key(self, key: str) -> None:
        """Per-API key checks (warnings only: a key format may change before our rules do)."""

    def _missing_connection(self) -> ConnectionNotFoundError:
        env = "AIRFLOW_CONN_" + self.conn_id.upper()
        return ConnectionNotFoundError(
            f"No Airflow connection {self.conn_id!r} ({self.hook_name}). Create it in the UI "
            f"(Admin -> Connections, type {self.hook_name!r}), or with "
            f"{self._add_command()}, "
            f'or set {env}=\'{{"conn_type": "{self.conn_type}", "password": "<API key>"}}\'.'
        )

    # -- transports --------------------------------------------------------------------------------

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

        settings = self.settings()
        mask_secret(settings.api_key.reveal())
        if settings.network.proxy is not None:
            mask_secret(settings.network.proxy.reveal())
        return SyncTransport(self._core(settings), settings.network)

    async def atransport(self) -> AsyncTransport:
        """The event-loop transport for triggers, built once per hook."""
        if self._async_transport is None:
            settings = await self.asettings()
            self._async_transport = AsyncTransport(self._core(settings), settings.network)
        return self._async_transport

    def close(self) -> None:
        """Close the keep-alive session (if one was opened)."""
        if "transport" in self.__dict__:
            self.transport.close()


def call_timeout(seconds: float | None) -> Timeout | None:
    """A per-call timeout: the same number of seconds to connect and for each read."""
    if seconds is None:
        return None
    from airflow_provider_projects.validation import positive_seconds

    seconds = positive_seconds(seconds, "timeout")
    return Timeout(connect=seconds, read=seconds)
