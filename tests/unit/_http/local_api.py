"""A real HTTP(S) server on 127.0.0.1 for the aiohttp transport's tests: aiohttp.web in a thread.

It runs on its own event loop, so a test's loop (``asyncio.run``, one per call) talks to it over
real sockets. Each request is recorded as it arrived (the request line's target, headers, body,
the client's port); each answer follows a script of :class:`Act` (an answer, or a way to fail).
The same server also acts as an HTTP proxy: aiohttp sends a proxied ``http://`` request to it in
absolute form, with the proxy credentials in ``Proxy-Authorization``.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import struct
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Failure = Literal["drop", "reset", "short-body", "hold"]


@dataclass(frozen=True)
class Act:
    """An answer (status, body, headers), or a failure: close, reset, cut the body, or never answer."""

    status: int = 200
    body: bytes = b"{}"
    headers: tuple[tuple[str, str], ...] = ()
    fail: Failure | None = None


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # as on the request line: a path, or an absolute URL when sent to a proxy
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


@dataclass
class LocalApi:
    url: str
    script: deque[Act] = field(default_factory=lambda: deque([Act()]))
    seen: list[Seen] = field(default_factory=list)
    release: asyncio.Event | None = None

    def answer(self, *acts: Act) -> None:
        """Answer the next requests with ``acts``, in order; the last one repeats."""
        self.script = deque(acts)

    def next_act(self) -> Act:
        return self.script[0] if len(self.script) == 1 else self.script.popleft()


async def _handle(api: LocalApi, request: web.Request) -> web.StreamResponse:
    peer = request.transport.get_extra_info("peername") if request.transport else ("", 0)
    target = str(request.url) if request._message.url.is_absolute() else request.raw_path
    body = await request.read()
    api.seen.append(Seen(request.method, target, request.path, dict(request.headers), body, peer[1]))
    act = api.next_act()
    transport = request.transport
    if act.fail == "hold" and api.release is not None:
        await api.release.wait()  # until the server stops: the client gives up first
    if act.fail == "drop" and transport is not None:
        transport.close()
    if act.fail == "reset" and transport is not None:
        # SO_LINGER 0: close() sends RST instead of FIN, as a crashed peer or a middlebox would.
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    if act.fail == "short-body":
        response = web.StreamResponse(status=act.status, headers={"Content-Length": str(len(act.body) + 100)})
        await response.prepare(request)
        await response.write(act.body)
        if transport is not None:
            transport.close()
        return response
    return web.Response(status=act.status, body=act.body, headers=dict(act.headers))


@contextmanager
def local_api(tls: ssl.SSLContext | None = None) -> Iterator[LocalApi]:
    """The server, started on a free port of 127.0.0.1 in a thread of its own, stopped at the end."""
    loop = asyncio.new_event_loop()
    api = LocalApi(url="")
    started = threading.Event()

    async def start() -> web.AppRunner:
        app = web.Application()

        async def handle(request: web.Request) -> web.StreamResponse:
            return await _handle(api, request)

        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
        api.release = asyncio.Event()
        api.url = f"{'https' if tls else 'http'}://127.0.0.1:{runner.addresses[0][1]}"
        return runner

    def serve() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="local-api", daemon=True)
    thread.start()
    started.wait(30)
    try:
        yield api
    finally:
        if api.release is not None:
            loop.call_soon_threadsafe(api.release.set)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


@dataclass(frozen=True)
class SelfSigned:
    """A certificate for 127.0.0.1 that no trust store knows, and the server context serving it."""

    pem: Path
    key: Path

    def server_context(self, *, client_certificate: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.pem, self.key)
        if client_certificate:  # TLS 1.3: the refusal comes as an alert after the client's handshake
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.pem)
        return context


def self_signed(folder: Path) -> SelfSigned:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem, key_path = folder / "server.pem", folder / "server.key"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return SelfSigned(pem, key_path)


@contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose listen queue is full: the kernel drops new SYNs, so a connect waits until its timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # more than the queue holds (backlog 0 keeps one)
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
