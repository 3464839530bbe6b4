"""Real network parts on 127.0.0.1 for the proxy and TLS tests: a CA, a TLS front, an HTTP proxy.

- :class:`Pki` makes two certificate authorities with ``cryptography`` (a trusted one and one
  nobody trusts) and issues server certificates for ``127.0.0.1`` (an IP SAN) and a client
  certificate;
- :class:`TlsFront` terminates TLS with one of those certificates (optionally requiring a client
  certificate) and forwards the plain bytes to the emulator, counting every connection attempt and
  every handshake;
- :class:`Proxy` is a small HTTP proxy: ``CONNECT host:port`` tunnels bytes, an absolute-form
  request (``GET http://host:port/path``, what clients send for ``http://`` targets) is forwarded
  in origin form. It records each request line and ``Proxy-Authorization`` header and, when given
  credentials, answers 407 to anyone who does not send them.

Every server runs on daemon threads and is closed by ``close()`` (or ``with``), which cuts its
open connections too.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCALHOST = "127.0.0.1"
#: Seconds any socket of these servers waits: keeps a test that goes wrong bounded.
IO_TIMEOUT = 5.0


# -- certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """A CA: its key, its certificate and the PEM file of that certificate (the bundle to trust)."""

    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    pem: Path


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, each in its own PEM file."""

    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


class Pki:
    """Certificate authorities and certificates, written as PEM files under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def authority(self, name: str) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _validity(
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
        )
        cert = (
            builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        pem = self.folder / f"{name}-ca.pem"
        pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return Authority(name, key, cert, pem)

    def issue(self, ca: Authority, name: str, *, client: bool = False) -> Issued:
        """A leaf certificate signed by ``ca``: for the server ``127.0.0.1`` or, with ``client``, a client."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _validity(
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
        )
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                critical=False,
            )
        )
        if not client:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOCALHOST))]), critical=False
            )
        cert = builder.sign(ca.key, hashes.SHA256())
        cert_path = self.folder / f"{name}.pem"
        key_path = self.folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
        return Issued(cert_path, key_path)


# -- plumbing shared by both servers --------------------------------------------------------------


def _pipe(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes (one thread; TLS sockets are not shared)."""
    sockets: list[socket.socket] = [one, other]
    while True:
        ready: list[socket.socket] = [s for s in sockets if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready, _, _ = select.select(sockets, [], [], IO_TIMEOUT * 6)
            if not ready:
                return
        for source in ready:
            target = other if source is one else one
            try:
                data = source.recv(65536)
            except (OSError, ssl.SSLError):
                return
            if not data:
                return
            try:
                target.sendall(data)
            except OSError:
                return


class _Server:
    """A listening socket on 127.0.0.1 with an accept thread; each connection gets its own thread."""

    def __init__(self) -> None:
        self._listener = socket.create_server((LOCALHOST, 0))
        self._listener.settimeout(0.2)
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name=f"{type(self).__name__}-accept", daemon=True)
        self._acceptor.start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def address(self) -> str:
        return f"{LOCALHOST}:{self.port}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(IO_TIMEOUT)
            self._track(conn)
            thread = threading.Thread(target=self._serve_tracked, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _serve_tracked(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join(2)
        self._listener.close()
        with self._lock:
            still_open = list(self._open)
        for sock in still_open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- the TLS front --------------------------------------------------------------------------------


class TlsFront(_Server):
    """Serves HTTPS on 127.0.0.1 with ``server``'s certificate, forwarding plain bytes to ``upstream``.

    With ``client_ca``, a client certificate signed by that CA is required (mutual TLS).
    ``attempts`` counts the TCP connections (each one a TLS attempt), ``handshakes`` the completed
    handshakes, ``failures`` the handshake errors as the server saw them.
    """

    def __init__(self, upstream_port: int, server: Issued, *, client_ca: Authority | None = None) -> None:
        self.upstream_port = upstream_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(server.cert, server.key)
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(cafile=str(client_ca.pem))
        self.attempts = 0
        self.handshakes = 0
        self.failures: list[str] = []
        #: Set once a handshake failure is recorded: the client may see the alert before the
        #: server's thread has written the failure down.
        self.failed = threading.Event()
        self.client_subjects: list[str] = []
        self._counts = threading.Lock()
        super().__init__()

    @property
    def url(self) -> str:
        return f"https://{self.address}"

    def serve(self, conn: socket.socket) -> None:
        with self._counts:
            self.attempts += 1
        tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (OSError, ssl.SSLError) as exc:
            with self._counts:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            self.failed.set()
            _linger(tls)
            tls.close()
            return
        self._track(tls)
        with self._counts:
            self.handshakes += 1
            peer = tls.getpeercert()
            if peer:
                self.client_subjects.append(str(peer.get("subject")))
        try:
            with socket.create_connection((LOCALHOST, self.upstream_port), timeout=IO_TIMEOUT) as upstream:
                _pipe(tls, upstream)
        finally:
            with contextlib.suppress(OSError):
                tls.close()


def _linger(conn: socket.socket) -> None:
    """Close after a failed handshake the way a TLS server does: the alert already sent still arrives.

    Closing a socket with unread bytes (the request a TLS 1.3 client sends right after its side of
    the handshake) makes the kernel answer with a reset, which can destroy the alert in flight.
    """
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(1.0)
        while conn.recv(65536):
            pass


# -- the proxy ------------------------------------------------------------------------------------


@dataclass
class ProxyRecord:
    """One request the proxy received: its method, its target and the Proxy-Authorization it carried."""

    method: str
    target: str
    authorization: str | None
    answer: int = 0


@dataclass
class _Head:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    rest: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def _read_head(conn: socket.socket) -> _Head | None:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > 65536:
            return None
    head, rest = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
    return _Head(method, target, version, headers, rest)  # type: ignore[arg-type]


class Proxy(_Server):
    """An HTTP proxy on 127.0.0.1: ``CONNECT`` tunnels, absolute-form requests are forwarded.

    ``records`` lists every request received, in order; ``tunnels`` the targets of the CONNECTs
    that were let through and ``forwards`` the URLs of forwarded plain-HTTP requests. With
    ``user`` and ``password``, a request without the matching ``Proxy-Authorization: Basic`` gets
    407 and nothing else.
    """

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        self.expected = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user is not None else None
        )
        self.records: list[ProxyRecord] = []
        self._records_lock = threading.Lock()
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@{self.address}"

    @property
    def tunnels(self) -> list[str]:
        return [r.target for r in self.records if r.method == "CONNECT" and r.answer == 200]

    @property
    def forwards(self) -> list[str]:
        return [r.target for r in self.records if r.method != "CONNECT" and r.answer == 200]

    def serve(self, conn: socket.socket) -> None:
        head = _read_head(conn)
        if head is None:
            return
        record = ProxyRecord(head.method, head.target, head.header("Proxy-Authorization"))
        with self._records_lock:
            self.records.append(record)
        if self.expected is not None and record.authorization != self.expected:
            record.answer = 407
            conn.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
            )
            return
        if head.method == "CONNECT":
            self._tunnel(conn, head, record)
        else:
            self._forward(conn, head, record)

    def _tunnel(self, conn: socket.socket, head: _Head, record: ProxyRecord) -> None:
        host, _, port = head.target.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=IO_TIMEOUT)
        except (OSError, ValueError):
            record.answer = 502
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        record.answer = 200
        with upstream:
            self._track(upstream)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if head.rest:
                upstream.sendall(head.rest)
            _pipe(conn, upstream)

    def _forward(self, conn: socket.socket, head: _Head, record: ProxyRecord) -> None:
        """One plain-HTTP request in absolute form, sent on in origin form over a connection of its own."""
        parts = urlsplit(head.target)
        if parts.scheme != "http" or not parts.hostname:
            record.answer = 400
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        try:
            upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=IO_TIMEOUT)
        except OSError:
            record.answer = 502
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        record.answer = 200
        dropped = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        lines = [f"{head.method} {path} {head.version}"]
        lines += [f"{key}: {value}" for key, value in head.headers if key.lower() not in dropped]
        lines.append("Connection: close")
        with upstream:
            self._track(upstream)
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + head.rest)
            _pipe(conn, upstream)


def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens (a proxy that is down): connecting is refused."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])
