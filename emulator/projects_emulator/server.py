"""HTTP/1.1 plumbing: one ``ThreadingHTTPServer`` per emulated API, handing requests to a dispatcher.

This module knows sockets and nothing about either API: it parses a request into a
``messages.Request``, asks the dispatcher for an ``Outcome`` and carries it out, including the
transport-level faults (delay, dropped connection, truncated body).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from projects_emulator.messages import Request, Response

log = logging.getLogger(__name__)
_MAX_BODY = 10 * 1024 * 1024


@dataclass
class Outcome:
    """What to send back for one request."""

    #: The answer, or None to drop the connection without answering.
    response: Response | None
    #: Seconds to wait before answering (or dropping).
    delay: float = 0.0
    #: Cut the body in half (``Content-Length`` matching the cut body).
    truncate: bool = False
    #: Called on the request's thread, outside any lock, before anything else: it may block (a
    #: stalled request) and returns the outcome to carry out instead of this one.
    deferred: Callable[[], Outcome] | None = None


class Dispatcher(Protocol):
    """Turns a parsed request for one API into an outcome (implemented by the emulator's state)."""

    def dispatch(self, api: str, request: Request) -> Outcome:
        """Journal the request, apply faults, and answer it."""
        ...

    def error(self, api: str, status: int) -> Response:
        """An error for a bare status in the API's own format (for requests that cannot be parsed)."""
        ...


def decode_path(raw: str) -> str:
    """Percent-decode each path segment, as the vendors' servers do before they route.

    ``/projects/%32`` is ``/projects/2``. An encoded slash stays encoded (``%2F``, as aiohttp keeps
    it): inside a segment it is data, not a separator, so it never leads to another route.
    """
    return "/".join(unquote(segment, errors="replace").replace("/", "%2F") for segment in raw.split("/"))


class ApiServer(ThreadingHTTPServer):
    """Serves one API on its own port; tracks open connections so ``close`` can cut keep-alives."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self, host: str, port: int, *, api: str, prefix: str, dispatcher: Dispatcher, stopping: threading.Event
    ) -> None:
        self.api = api
        self.host = host
        self.prefix = prefix
        self.dispatcher = dispatcher
        self.stopping = stopping
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remember the connection, then serve it on its own (daemon) thread."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget and close a finished connection."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away (expected after delay faults); log the rest."""
        log.debug("Connection from %s ended with an error", client_address, exc_info=True)

    def close(self) -> None:
        """Stop accepting, cut every open (keep-alive) connection, release the port."""
        stopper = threading.Thread(target=self.shutdown)
        stopper.start()
        # serve_forever() only checks for shutdown between select() polls; a connection wakes it now.
        while stopper.is_alive():
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
            except OSError:
                break
            stopper.join(0.01)
        stopper.join()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    """Parses one request at a time on a keep-alive connection and carries out its outcome."""

    protocol_version = "HTTP/1.1"
    server: ApiServer
    #: Headers and body go out as separate writes; Nagle + delayed ACK would add ~40 ms to each.
    disable_nagle_algorithm = True
    #: Idle keep-alive connections are closed after this many seconds.
    timeout = 120

    def __getattr__(self, name: str) -> Any:
        # http.server looks up ``do_<METHOD>`` and answers an HTML 501 when it is missing. Every
        # method goes to the API apps instead, which answer 404/405 in the vendor's JSON format.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer an unparsable request (bad request line, huge headers) in the API's JSON format."""
        self.close_connection = True
        # A request line too broken to name its version leaves http.server assuming HTTP/0.9, which
        # has no status line; every client of these APIs speaks HTTP/1.x.
        if self.request_version == "HTTP/0.9":
            self.request_version = self.protocol_version
        self._send(self.server.dispatcher.error(self.server.api, code), truncate=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Route the stdlib's access log to ``logging`` (debug) instead of stderr."""
        log.debug("%s " + format, self.server.api, *args)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400)
            return
        split = urlsplit(self.path)
        path = decode_path(split.path)
        prefix = self.server.prefix
        under_prefix = not prefix or path.startswith(prefix + "/")
        request = Request(
            method=self.command,
            path=path[len(prefix) :] if prefix and under_prefix else path,
            url_path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            under_prefix=under_prefix,
        )
        try:
            outcome = self.server.dispatcher.dispatch(self.server.api, request)
            if outcome.deferred is not None:
                outcome = outcome.deferred()
        except Exception:  # a bug in the emulator must not look like a network fault
            log.exception("Emulator failed to answer %s %s", self.command, self.path)
            outcome = Outcome(Response(500, {"error": "Emulator internal error"}))
        if outcome.delay > 0:
            self.server.stopping.wait(outcome.delay)
        if outcome.response is None:
            self._drop()
        else:
            self._send(outcome.response, truncate=outcome.truncate)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError(f"unacceptable Content-Length {length}")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY:
                raise ValueError("chunked body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: Response, *, truncate: bool) -> None:
        payload = response.encode()
        if truncate:
            payload = payload[: len(payload) // 2]
        self.send_response(response.status)
        names = {name.lower() for name in response.headers}
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            if payload and "content-type" not in names:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        # A HEAD answer announces its body's length but never carries it (RFC 9110, 9.3.2).
        if response.status not in (204, 304) and self.command != "HEAD":
            self.wfile.write(payload)
