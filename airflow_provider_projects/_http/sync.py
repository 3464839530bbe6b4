"""The blocking transport: drives the core's flows over one keep-alive ``requests.Session``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import requests
from pydantic import BaseModel

from airflow_provider_projects._http.core import HttpCore
from airflow_provider_projects._http.flow import Flow, run_sync
from airflow_provider_projects._http.wire import (
    DIRECT,
    FailureKind,
    Network,
    Outcome,
    Request,
    Response,
    Timeout,
    TransportFailure,
)
from airflow_provider_projects.unset import NOT_SET

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class SyncTransport:
    """Sends requests for one API on the worker."""

    def __init__(self, core: HttpCore, network: Network = DIRECT) -> None:
        self.core = core
        self.network = network
        # Decided once: every request of this transport goes to the core's base URL.
        self._proxy = network.proxy_for(core.base_url)
        self.session = requests.Session()
        # The proxy is chosen by ``Network`` for both transports alike; requests must not add
        # its own reading of the environment (proxies, netrc credentials, CA bundle variables).
        self.session.trust_env = False
        self.session.verify = network.verify
        if network.cert is not None:
            cert, key = network.cert
            self.session.cert = (cert, key) if key else cert

    def __repr__(self) -> str:
        return f"SyncTransport({self.core!r})"

    def call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        json_body: Any = NOT_SET,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> M:
        """Send one API call (with the core's retries) and parse its answer into ``model``."""
        return self.run(self.core.call(method, path, model, json_body=json_body, params=params, timeout=timeout))

    def run(self, flow: Flow[T]) -> T:
        """Drive ``flow`` (an exchange, a call, a lock wait) to its end."""
        return run_sync(flow, self.send)

    def send(self, request: Request) -> Outcome:
        """Send once; an answer of any status is a :class:`Response`, no answer a :class:`TransportFailure`."""
        proxy = self._proxy
        secrets = (proxy,) if proxy is not None else ()
        try:
            answer = self.session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                timeout=(request.timeout.connect, request.timeout.read),
                # Redirects are not followed: none of the endpoints redirects, and a 3xx usually means
                # a wrong base URL (http instead of https), which deserves an error, not a silent hop.
                allow_redirects=False,
                proxies={"http": proxy.reveal(), "https": proxy.reveal()} if proxy is not None else {},
            )
            return Response(answer.status_code, answer.headers, answer.content)
        except requests.exceptions.SSLError as exc:
            return TransportFailure.of(FailureKind.TLS, exc, *secrets)
        except requests.ConnectTimeout as exc:
            return TransportFailure.of(FailureKind.CONNECT, exc, *secrets)
        except requests.ReadTimeout as exc:
            return TransportFailure.of(FailureKind.TIMEOUT, exc, *secrets)
        except requests.ConnectionError as exc:
            kind = FailureKind.CONNECT if _never_connected(exc) else FailureKind.DROPPED
            return TransportFailure.of(kind, exc, *secrets)
        except requests.RequestException as exc:  # a body cut short, a bad chunk
            return TransportFailure.of(FailureKind.DROPPED, exc, *secrets)

    def close(self) -> None:
        self.session.close()


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the connection was refused or not resolved, so nothing reached the server."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError, ProxyError

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError | ProxyError)
