"""The blocking transport: runs the core's exchange over one keep-alive ``requests.Session``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from pydantic import BaseModel

from airflow_provider_projects._http.core import (
    NO_BODY,
    FailureKind,
    HttpCore,
    Outcome,
    Request,
    Response,
    Send,
    Timeout,
    TransportFailure,
)

M = TypeVar("M", bound=BaseModel)


class SyncTransport:
    """Sends requests for one API on the worker; ``sleep`` is injectable so tests never wait."""

    def __init__(
        self,
        core: HttpCore,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.core = core
        self.session = session or requests.Session()
        # Redirects are not followed: none of the endpoints redirects, and a 3xx usually means a
        # wrong base URL (http instead of https), which deserves an error rather than a silent hop.
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"SyncTransport({self.core!r})"

    def call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        json_body: Any = NO_BODY,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> M:
        """Send one API call (with the core's retries) and parse its answer into ``model``."""
        request = self.core.request(method, path, json_body=json_body, params=params, timeout=timeout)
        return self.core.parse(self.run(request), model, request)

    def run(self, request: Request) -> Response:
        """Drive the core's exchange for ``request`` to its end."""
        steps = self.core.exchange(request)
        step = next(steps)
        while True:
            try:
                if isinstance(step, Send):
                    step = steps.send(self._send(step.request))
                else:
                    self._sleep(step.seconds)
                    step = steps.send(None)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def _send(self, request: Request) -> Outcome:
        try:
            answer = self.session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                timeout=(request.timeout.connect, request.timeout.read),
                allow_redirects=False,
            )
            return Response(answer.status_code, answer.headers, answer.content)
        except requests.ConnectTimeout as exc:
            return TransportFailure.of(FailureKind.CONNECT, exc)
        except requests.ReadTimeout as exc:
            return TransportFailure.of(FailureKind.TIMEOUT, exc)
        except requests.ConnectionError as exc:
            kind = FailureKind.CONNECT if _never_connected(exc) else FailureKind.DROPPED
            return TransportFailure.of(kind, exc)
        except requests.RequestException as exc:  # a body cut short, a bad chunk
            return TransportFailure.of(FailureKind.DROPPED, exc)

    def close(self) -> None:
        self.session.close()


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the connection was refused or not resolved, so nothing reached the server."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)
