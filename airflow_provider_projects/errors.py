"""Typed errors raised by this provider, all under one base class.

Errors that another try cannot fix (bad input, a rejected key, a missing project, a removed
endpoint) also derive from ``AirflowFailException`` so Airflow fails the task at once instead of
burning its retries. No error ever holds an API key or an ``Authorization`` header: messages that
come from a server pass through :func:`redact` in the HTTP core before they reach these classes.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class ProjectsApiError(AirflowException):
    """Base of every error this provider raises.

    ``status`` is the HTTP status (``None`` when no answer was received or the input was
    refused locally), ``api_code`` the API's own error code (Gcore's ``exception_class``, GC AI's
    ``code``), ``api_message`` the API's message and ``request_id`` the id to quote to support.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        api_code: str | None = None,
        api_message: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.api_code = api_code
        self.api_message = api_message
        self.request_id = request_id
        self.method = method
        self.url = url

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the subclass and its fields when the error crosses a process boundary.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[ProjectsApiError], message: str, state: dict[str, object]) -> ProjectsApiError:
    error = cls.__new__(cls)
    ProjectsApiError.__init__(error, message)
    error.__dict__.update(state)
    return error


class InvalidInputError(ProjectsApiError, AirflowFailException):
    """The input broke a rule: refused before any request (``field`` and ``rule`` say which), or a 400/422."""

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None, **kwargs: object):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.field = field
        self.rule = rule


class ConnectionSetupError(ProjectsApiError, AirflowFailException):
    """The Airflow connection is missing or malformed; the message says how to fix it."""


class AuthenticationError(ProjectsApiError, AirflowFailException):
    """The API refused the key (401) or the key may not do this (403)."""


class NotFoundError(ProjectsApiError, AirflowFailException):
    """The resource does not exist (404); for GC AI also "no write access" (the API does not tell them apart)."""


class MethodNotAllowedError(ProjectsApiError, AirflowFailException):
    """The endpoint no longer accepts this method (405), e.g. Gcore's deprecated ``PUT``."""


class LockConflictError(ProjectsApiError):
    """Gcore answered 409: a running task holds a lock on the resource.

    ``task_id`` is the lock holder parsed from the message (``None`` if the message had another
    shape), so a caller can wait for that task and write again.
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None = None,
        task_type: str | None = None,
        resource_id: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.task_id = task_id
        self.task_type = task_type
        self.resource_id = resource_id


class RateLimitedError(ProjectsApiError):
    """429 after the retries ran out, or with a ``Retry-After`` longer than the allowed wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ProjectsApiError):
    """5xx after the retries ran out (or a 500 on a write, which is never retried)."""


class ApiUnreachableError(ProjectsApiError):
    """No usable answer: connection refused or dropped, or a timeout, after the retries ran out."""


class InvalidResponseError(ProjectsApiError):
    """The API answered 2xx with a body that is not JSON or lacks required fields."""


class UnexpectedStatusError(ProjectsApiError):
    """A status the API does not document for this call."""


class GcoreTaskFailedError(ProjectsApiError, AirflowFailException):
    """A Gcore task this provider waited on ended in ``ERROR``; ``task_error`` is the task's ``error`` text."""

    def __init__(self, message: str, *, task_id: str, task_error: str | None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.task_id = task_id
        self.task_error = task_error


class LockWaitTimeoutError(ProjectsApiError):
    """A lock did not clear within the allowed time."""


class ConcurrentChangeError(ProjectsApiError, AirflowFailException):
    """A retried task found the project changed by someone else since its first try; it will not overwrite."""
