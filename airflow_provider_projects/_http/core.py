"""The one HTTP core, free of I/O: build a request, judge an outcome, parse a body.

:meth:`HttpCore.exchange` is a flow (see ``flow.py``): it yields ``Send`` and ``Sleep`` steps
and receives what happened, so the retry loop, the error mapping and the parsing exist once and
are tested once, without sockets or clocks. Both transports (``sync.py`` over ``requests``,
``aio.py`` over ``aiohttp``) only drive it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from airflow_provider_projects._http.dialect import Dialect, ErrorDetails
from airflow_provider_projects._http.flow import Flow, Send, Sleep
from airflow_provider_projects._http.retry import (
    Accept,
    Decision,
    GiveUp,
    Retry,
    RetryPolicy,
    is_retryable,
    parse_retry_after,
    retry_or_give_up,
)
from airflow_provider_projects._http.wire import (
    DEFAULT_TIMEOUT,
    FailureKind,
    Outcome,
    Request,
    Response,
    Secret,
    Timeout,
    TransportFailure,
    redact,
)
from airflow_provider_projects.errors import (
    ApiUnreachableError,
    AuthenticationError,
    ConnectionSetupError,
    InvalidInputError,
    InvalidResponseError,
    MethodNotAllowedError,
    NotFoundError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
    UnexpectedStatusError,
)
from airflow_provider_projects.unset import NOT_SET

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

__all__ = ["Accept", "GiveUp", "HttpCore", "Retry", "RetryPolicy", "parse_retry_after"]


class HttpCore:
    """Everything about talking to one API that does not touch a socket."""

    def __init__(
        self,
        *,
        dialect: Dialect,
        base_url: str,
        api_key: Secret,
        user_agent: str,
        timeout: Timeout = DEFAULT_TIMEOUT,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.dialect = dialect
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self._key = api_key
        self._headers = {
            "Authorization": dialect.authorization(api_key.reveal()),
            "Accept": "application/json",
            "User-Agent": user_agent,
        }

    def __repr__(self) -> str:
        return f"HttpCore(api={self.dialect.name!r}, base_url={self.base_url!r})"

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = NOT_SET,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> Request:
        """Build a request with the API's auth header, a JSON body and a timeout."""
        from urllib.parse import urlencode

        headers = dict(self._headers)
        body = None
        if json_body is not NOT_SET:
            body = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        return Request(method, url, path, headers, body, timeout or self.timeout)

    def call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        json_body: Any = NOT_SET,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> Flow[M]:
        """One API call as a flow: send (with retries), then parse the answer into ``model``."""
        request = self.request(method, path, json_body=json_body, params=params, timeout=timeout)
        response = yield from self.exchange(request)
        return self.parse(response, model, request)

    def exchange(self, request: Request) -> Flow[Response]:
        """Send, judge, maybe sleep and send again; return the accepted response or raise."""
        attempt = 0
        while True:
            attempt += 1
            outcome = yield Send(request)
            assert outcome is not None
            decision = self.decide(request, attempt, outcome)
            if isinstance(decision, Accept):
                return decision.response
            if isinstance(decision, GiveUp):
                raise decision.error
            log.warning(
                "%s %s: %s; trying again in %.1f s (retry %d of %d)",
                request.method,
                request.path,
                decision.reason,
                decision.delay,
                attempt,
                self.policy.max_retries,
            )
            yield Sleep(decision.delay)

    def decide(self, request: Request, attempt: int, outcome: Outcome) -> Decision:
        """Judge one outcome of the ``attempt``-th try (1-based): accept, retry after N s, or give up.

        Every request this provider sends is a GET or a PUT/PATCH of absolute values, so sending
        one again after a timeout or a dropped connection cannot change the result: at worst it
        sets the same values twice. Connection failures, timeouts, 429, 502, 503 and 504 are
        therefore retried; a 500 only on reads (see ``SAFE_METHODS``); 4xx never.
        """
        if isinstance(outcome, TransportFailure):
            detail = redact(outcome.detail, self._key)
            text = f"{self.dialect.name} {request.method} {request.path}: {outcome.kind.value} ({detail})"
            if outcome.kind is FailureKind.TLS:
                hint = "check the connection's 'verify' (a CA bundle path for an internal CA) and 'cert' extras"
                return GiveUp(ConnectionSetupError(f"{text}; {hint}", method=request.method, url=request.url))
            error: ProjectsApiError = ApiUnreachableError(
                f"{text} after {attempt} attempt(s)", method=request.method, url=request.url
            )
            return retry_or_give_up(self.policy, attempt, error, str(outcome.kind.value), None)
        if 200 <= outcome.status < 300:
            return Accept(outcome)
        if not is_retryable(request.method, outcome.status):
            return GiveUp(self.error_for(request, outcome))
        retry_after = parse_retry_after(outcome.headers.get("Retry-After"))
        cap = self.policy.retry_after_cap
        if retry_after is not None and retry_after > cap:
            note = f"the server asked to wait {retry_after:.0f} s, more than the {cap:.0f} s waited inside one call"
            return GiveUp(self.error_for(request, outcome, note=note))
        error = self.error_for(request, outcome)
        return retry_or_give_up(self.policy, attempt, error, f"HTTP {outcome.status}", retry_after)

    def error_for(self, request: Request, response: Response, *, note: str | None = None) -> ProjectsApiError:
        """Map an error answer to its typed exception, with the API's code, message and request id."""
        # Redact the raw body first: an excerpt cut from it could split the key and leak its start.
        secret = self._key.reveal().encode()
        if secret and secret in response.body:
            response = replace(response, body=response.body.replace(secret, b"***"))
        raw = self.dialect.error_details(response)
        details = ErrorDetails(raw.api_code, redact(raw.message, self._key), raw.request_id)
        status = response.status
        fields: dict[str, Any] = {
            "status": status,
            "api_code": details.api_code,
            "api_message": details.message,
            "request_id": details.request_id,
            "method": request.method,
            "url": request.url,
        }
        special = self.dialect.special_error(request, details, fields)
        if special is not None:
            return special
        text = self._message(request, status, details, note)
        if status == 429:
            return RateLimitedError(text, retry_after=parse_retry_after(response.headers.get("Retry-After")), **fields)
        error_type = _ERROR_TYPES.get(status)
        if error_type is None:
            error_type = ServerError if status >= 500 else UnexpectedStatusError
        return error_type(text, **fields)

    def _message(self, request: Request, status: int, details: ErrorDetails, note: str | None) -> str:
        text = f"{self.dialect.name} {request.method} {request.path} failed: HTTP {status}"
        if details.api_code:
            text += f" {details.api_code}"
        if details.message:
            text += f": {details.message}"
        if details.request_id:
            text += f" (request id {details.request_id})"
        hint = _PROXY_REFUSED if status == 407 else self.dialect.hint(request, status) or _not_retried(request, status)
        if hint:
            text += f". {hint}"
        if note:
            text += f" ({note})"
        return text

    def parse(self, response: Response, model: type[M], request: Request) -> M:
        """Parse a success body into ``model``; a bad body becomes :class:`InvalidResponseError`."""
        where = f"{self.dialect.name} {request.method} {request.path}"
        try:
            return model.model_validate_json(response.body)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                problem = f"the body is not valid JSON ({len(response.body)} bytes, truncated?)"
            else:
                problem = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg'].lower()}" for e in exc.errors()[:5]
                )
            raise InvalidResponseError(
                f"{where} answered HTTP {response.status} with an unusable body: {problem}",
                status=response.status,
                method=request.method,
                url=request.url,
            ) from None


def _not_retried(request: Request, status: int) -> str | None:
    """Why a write answered 5xx was sent once only, and what to do: the bare status says neither."""
    if status < 500 or is_retryable(request.method, status):
        return None
    return (
        f"The {request.method} was not retried: the server may have applied it before failing, and a write is "
        "never sent twice blindly. Read the project again before retrying: the change may already be there; "
        "if it is not and this persists, check the API's status page and give its support the request id"
    )


_ERROR_TYPES: Final[dict[int, type[ProjectsApiError]]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    407: ConnectionSetupError,
    422: InvalidInputError,
}
#: 407 comes from a proxy, never from either API: the fix is in the connection, not the request.
_PROXY_REFUSED: Final = "The proxy refused the request: check the connection's 'proxy' extra and its credentials"
