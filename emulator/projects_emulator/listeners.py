"""The emulator's servers as one unit: bind (all or none), serve on daemon threads, stop promptly."""

from __future__ import annotations

import errno
import ipaddress
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from projects_emulator.server import ApiServer, Dispatcher


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses: the only hosts served without ``--allow-remote``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Listen:
    """One server to run: which API, on which port (0: ephemeral), under which path prefix."""

    port: int
    prefix: str
    dispatcher: Dispatcher


class BindError(OSError):
    """A port could not be bound; names the API so a command line can name the flag to change."""

    def __init__(self, api: str, host: str, port: int, cause: OSError) -> None:
        in_use = cause.errno == errno.EADDRINUSE
        reason = "is already in use" if in_use else f"cannot be used ({cause.strerror or cause})"
        super().__init__(cause.errno, f"port {port} on {host} {reason}")
        self.api = api
        self.host = host
        self.port = port
        self.in_use = in_use


class Listeners:
    """One ``ApiServer`` per API, sharing a "stopping" event that wakes delayed answers."""

    def __init__(self, host: str, servers: Mapping[str, Listen]) -> None:
        self.host = host
        self._plan = dict(servers)
        self._servers: dict[str, ApiServer] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def running(self) -> bool:
        """True while the servers are up."""
        return bool(self._servers)

    def start(self) -> None:
        """Bind every port, then serve; if one bind fails, the others are released again."""
        if self._servers:
            raise RuntimeError("the emulator is already running")
        self._stopping.clear()
        try:
            for api, listen in self._plan.items():
                try:
                    self._servers[api] = ApiServer(
                        self.host,
                        listen.port,
                        api=api,
                        prefix=listen.prefix,
                        dispatcher=listen.dispatcher,
                        stopping=self._stopping,
                    )
                except OSError as exc:
                    raise BindError(api, self.host, listen.port, exc) from exc
        except OSError:
            for server in self._servers.values():
                server.server_close()
            self._servers.clear()
            raise
        for api, server in self._servers.items():
            # A short poll keeps stop() quick even when the wake-up connection cannot get through.
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"emulator-{api}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop every server (in parallel), cut open connections and wake any delayed answer."""
        self._stopping.set()
        servers, self._servers = list(self._servers.values()), {}
        closers = [threading.Thread(target=server.close) for server in servers]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def serves(self, api: str) -> bool:
        """True when ``api`` is one of the servers this unit runs."""
        return api in self._plan

    def port(self, api: str) -> int:
        """The bound port of one API's server."""
        if api not in self._servers:
            raise RuntimeError("the emulator is not running; call start() or use it as a context manager")
        return self._servers[api].port

    def base_url(self, api: str) -> str:
        """``http://host:port`` of one API's server (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port(api)}"
