"""Typed errors raised by this provider, all under one base class.

Errors that another try cannot fix (bad input, a rejected key, a missing project, a removed
endpoint) also derive from ``AirflowFailException`` so Airflow fails the task at once instead of
burning its retries. No error ever holds an API key or an ``Authorization`` header: messages that
come from a server pass through ``redact`` in the HTTP core before they reach these classes.

A wait that fails in the triggerer hands its error to the resumed task as JSON: :meth:`to_event`
and :meth:`ProjectsApiError.from_event` say explicitly which fields travel, per class.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from airflow.sdk.exceptions import AirflowException, AirflowFailException

#: Every error's own fields, as they travel in an event (each class adds its ``extra_fields``).
_BASE_FIELDS = ("status", "api_code", "api_message", "request_id", "method", "url")


class ProjectsApiError(AirflowException):
    """Base of every error this provider raises.

    ``status`` is the HTTP status (``None`` when no answer was received or the input was
    refused locally), ``api_code`` the API's own error code (Gcore's ``exception_class``, GC AI's
    ``code``), ``api_message`` the API's message and ``request_id`` the id to quote to support.
    """

    #: Fields of a subclass beyond the base ones, carried by :meth:`to_event` (JSON-safe values).
    extra_fields: ClassVar[tuple[str, ...]] = ()

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

    def with_context(self, context: str) -> ProjectsApiError:
        """A copy of this error whose message ends with ``context`` (the original is left as it was)."""
        amended = copy.copy(self)
        amended.message = f"{self.message} ({context})"
        amended.args = (amended.message,)
        return amended

    def to_event(self) -> dict[str, Any]:
        """This error as JSON-safe values, for a trigger event."""
        fields = {name: getattr(self, name) for name in (*_BASE_FIELDS, *self.extra_fields)}
        return {"type": type(self).__name__, "message": self.message, "fields": fields}

    @staticmethod
    def from_event(event: dict[str, Any]) -> ProjectsApiError:
        """The typed error :meth:`to_event` described (an unknown type gives the base class)."""
        error_type = EVENT_TYPES.get(str(event.get("type")), ProjectsApiError)
        given = event.get("fields")
        given = given if isinstance(given, dict) else {}
        names = (*_BASE_FIELDS, *error_type.extra_fields)
        return error_type(str(event.get("message", "the wait failed")), **{n: given.get(n) for n in names})


class InvalidInputError(ProjectsApiError, AirflowFailException):
    """The input broke a rule: refused before any request (``field`` and ``rule`` say which), or a 400/422."""

    extra_fields = ("field", "rule")

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field
        self.rule = rule


class ConnectionSetupError(ProjectsApiError, AirflowFailException):
    """The Airflow connection is malformed; the message says how to fix it."""


class ConnectionNotFoundError(ProjectsApiError):
    """No Airflow connection could be read by that id; the message says how to create it.

    Not an ``AirflowFailException``: the Task SDK reports a connection it could not read as missing,
    also while the metadata database or the API server restarts, so the task's retries apply (as
    for Airflow's own ``AirflowNotFoundException``).
    """


class AuthenticationError(ProjectsApiError, AirflowFailException):
    """The API refused the key (401) or the key may not do this (403)."""


class NotFoundError(ProjectsApiError, AirflowFailException):
    """The resource does not exist (404); for GC AI also "no write access" (the API does not tell them apart)."""


class MethodNotAllowedError(ProjectsApiError, AirflowFailException):
    """The endpoint does not accept this method (405), e.g. Gcore's PUT after its removal."""


class LockConflictError(ProjectsApiError):
    """Gcore answered 409 naming the running task that holds a lock on the resource.

    ``task_id`` is that task (always set: a 409 naming no holder is a :class:`ConflictError`),
    so a caller can wait for it and write again.
    """

    extra_fields = ("task_id", "task_type", "resource_id")

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None = None,
        task_type: str | None = None,
        resource_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.task_id = task_id
        self.task_type = task_type
        self.resource_id = resource_id


class ConflictError(ProjectsApiError):
    """A 409 that names no lock holder (another conflict, or a lock in words this provider does not know).

    Nothing was written. Waiting cannot be aimed at a task, so the error ends the call; an Airflow
    retry reads the project again and waits if a lock shows by then.
    """


class RateLimitedError(ProjectsApiError):
    """429 after the retries ran out, or with a ``Retry-After`` longer than the allowed wait."""

    extra_fields = ("retry_after",)

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
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

    extra_fields = ("task_id", "task_error")

    def __init__(self, message: str, *, task_id: str | None = None, task_error: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.task_id = task_id
        self.task_error = task_error


class LockWaitTimeoutError(ProjectsApiError):
    """A lock did not clear within the allowed time."""


class ConcurrentChangeError(ProjectsApiError, AirflowFailException):
    """A retried task found the project changed by someone else since its first try; it will not overwrite."""


#: The errors an event may name, by class name: listed, not looked up by reflection.
EVENT_TYPES: dict[str, type[ProjectsApiError]] = {
    cls.__name__: cls
    for cls in (
        ProjectsApiError,
        InvalidInputError,
        ConnectionSetupError,
        ConnectionNotFoundError,
        AuthenticationError,
        NotFoundError,
        MethodNotAllowedError,
        LockConflictError,
        ConflictError,
        RateLimitedError,
        ServerError,
        ApiUnreachableError,
        InvalidResponseError,
        UnexpectedStatusError,
        GcoreTaskFailedError,
        LockWaitTimeoutError,
        ConcurrentChangeError,
    )
}
