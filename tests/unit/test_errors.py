"""The error classes: one base, AirflowFailException for what a retry cannot fix, pickling keeps everything."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_projects import errors
from airflow_provider_projects.errors import (
    ApiUnreachableError,
    AuthenticationError,
    ConcurrentChangeError,
    ConnectionSetupError,
    GcoreTaskFailedError,
    InvalidInputError,
    InvalidResponseError,
    LockConflictError,
    LockWaitTimeoutError,
    MethodNotAllowedError,
    NotFoundError,
    ProjectsApiError,
    RateLimitedError,
    ServerError,
    UnexpectedStatusError,
)

COMMON: dict[str, Any] = {
    "status": 409,
    "api_code": "ConflictError",
    "api_message": "locked",
    "request_id": "req-1",
    "method": "PUT",
    "url": "https://api.gcore.com/cloud/v1/projects/42",
}

#: (class, extra keyword fields, fails the task at once)
CLASSES: list[tuple[type[ProjectsApiError], dict[str, Any], bool]] = [
    (ProjectsApiError, {}, False),
    (InvalidInputError, {"field": "name", "rule": "must be a string"}, True),
    (ConnectionSetupError, {}, True),
    (AuthenticationError, {}, True),
    (NotFoundError, {}, True),
    (MethodNotAllowedError, {}, True),
    (ConcurrentChangeError, {}, True),
    (
        LockConflictError,
        {"task_id": "7244e161-664c-4afd-a34e-7003eac4d949", "task_type": "update_project", "resource_id": "42"},
        False,
    ),
    (RateLimitedError, {"retry_after": 12.5}, False),
    (ServerError, {}, False),
    (ApiUnreachableError, {}, False),
    (InvalidResponseError, {}, False),
    (UnexpectedStatusError, {}, False),
    (GcoreTaskFailedError, {"task_id": "t-1", "task_error": "quota exceeded"}, True),
    (LockWaitTimeoutError, {}, False),
]


def build(cls: type[ProjectsApiError], fields: dict[str, Any]) -> ProjectsApiError:
    return cls("something failed", **COMMON, **fields)


def test_the_table_covers_every_error_class() -> None:
    defined = {obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, ProjectsApiError)}
    assert defined == {cls for cls, _, _ in CLASSES}


@pytest.mark.parametrize(("cls", "fields", "fails_at_once"), CLASSES, ids=[c.__name__ for c, _, _ in CLASSES])
def test_hierarchy(cls: type[ProjectsApiError], fields: dict[str, Any], fails_at_once: bool) -> None:
    error = build(cls, fields)
    assert isinstance(error, ProjectsApiError)
    assert isinstance(error, AirflowException)
    assert isinstance(error, AirflowFailException) is fails_at_once


@pytest.mark.parametrize(("cls", "fields", "fails_at_once"), CLASSES, ids=[c.__name__ for c, _, _ in CLASSES])
def test_fields_str_and_repr(cls: type[ProjectsApiError], fields: dict[str, Any], fails_at_once: bool) -> None:
    error = build(cls, fields)
    for name, value in {**COMMON, **fields}.items():
        assert getattr(error, name) == value
    assert str(error) == "something failed"
    assert repr(error) == f"{cls.__name__}('something failed', status=409)"
    assert error.args == ("something failed",)


def test_defaults_are_none() -> None:
    error = ProjectsApiError("m")
    assert (error.status, error.api_code, error.api_message, error.request_id, error.method, error.url) == (None,) * 6
    assert LockConflictError("m").task_id is None
    assert RateLimitedError("m").retry_after is None
    assert InvalidInputError("m").field is None


def test_str_follows_a_changed_message() -> None:
    error = RateLimitedError("slow down")
    error.message += " (more)"
    assert str(error) == "slow down (more)"


@pytest.mark.parametrize(("cls", "fields", "fails_at_once"), CLASSES, ids=[c.__name__ for c, _, _ in CLASSES])
@pytest.mark.parametrize("protocol", [0, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL])
def test_pickle_round_trip_keeps_subclass_and_fields(
    cls: type[ProjectsApiError], fields: dict[str, Any], fails_at_once: bool, protocol: int
) -> None:
    error = build(cls, fields)
    copy = pickle.loads(pickle.dumps(error, protocol=protocol))  # noqa: S301
    assert type(copy) is cls
    assert vars(copy) == vars(error)
    for name, value in {**COMMON, **fields}.items():
        assert getattr(copy, name) == value
    assert str(copy) == str(error)
    assert repr(copy) == repr(error)
    assert isinstance(copy, AirflowFailException) is fails_at_once


def test_pickle_keeps_a_changed_message() -> None:
    error = RateLimitedError("slow down", retry_after=500.0)
    error.message += " (the server asked to wait 500 s)"
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301
    assert str(copy) == "slow down (the server asked to wait 500 s)"
    assert copy.retry_after == 500.0


def test_errors_can_be_raised_and_caught_by_the_base() -> None:
    with pytest.raises(ProjectsApiError) as caught:
        raise LockConflictError("locked", task_id="t", status=409)
    assert isinstance(caught.value, LockConflictError)
    assert caught.value.task_id == "t"
