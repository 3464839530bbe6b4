"""Both API servers as one unit: bind (all or none), serve on daemon threads, stop promptly."""

from __future__ import annotations

import threading

from projects_emulator.server import ApiServer, Dispatcher


class Listeners:
    """One ``ApiServer`` per API, sharing a dispatcher and a "stopping" event that wakes delays."""

    def __init__(self, host: str, ports: dict[str, int], prefixes: dict[str, str], dispatcher: Dispatcher) -> None:
        self.host = host
        self._ports = ports
        self._prefixes = prefixes
        self._dispatcher = dispatcher
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
            for api, port in self._ports.items():
                self._servers[api] = ApiServer(
                    self.host,
                    port,
                    api=api,
                    prefix=self._prefixes[api],
                    dispatcher=self._dispatcher,
                    stopping=self._stopping,
                )
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
        """Stop both servers (in parallel), cut open connections and wake any delayed answer."""
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

    def port(self, api: str) -> int:
        """The bound port of one API's server."""
        if api not in self._servers:
            raise RuntimeError("the emulator is not running; call start() or use it as a context manager")
        return self._servers[api].port

    def base_url(self, api: str) -> str:
        """``http://host:port`` of one API's server (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port(api)}"
