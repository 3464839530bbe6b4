"""The error classes: one base, AirflowFailException for what a retry cannot fix; events and pickles keep all."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_projects import errors
from airflow_provider_projects.errors import (
    EVENT_TYPES,
    ApiUnreachableError,
    AuthenticationError,
    ConcurrentChangeError,
    ConflictError,
    ConnectionNotFoundError,
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
    (ConnectionNotFoundError, {}, False),  # retried: the SDK reports an unreadable connection as missing
    (AuthenticationError, {}, True),
    (NotFoundError, {}, True),
    (MethodNotAllowedError, {}, True),
    (ConcurrentChangeError, {}, True),
    (
        LockConflictError,
        {"task_id": "7244e161-664c-4afd-a34e-7003eac4d949", "task_type": "update_project", "resource_id": "42"},
        False,
    ),
    (ConflictError, {}, False),
    (RateLimitedError, {"retry_after": 12.5}, False),
    (ServerError, {}, False),
    (ApiUnreachableError, {}, False),
    (InvalidResponseError, {}, False),
    (UnexpectedStatusError, {}, False),
    (GcoreTaskFailedError, {"task_id": "t-1", "task_error": "quota exceeded"}, True),
    (LockWaitTimeoutError, {}, False),
]


IDS = [c.__name__ for c, _, _ in CLASSES]


def build(cls: type[ProjectsApiError], fields: dict[str, Any]) -> ProjectsApiError:
    return cls("something failed", **COMMON, **fields)


def test_the_table_covers_every_error_class() -> None:
    defined = {obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, ProjectsApiError)}
    assert defined == {cls for cls, _, _ in CLASSES}


@pytest.mark.parametrize(("cls", "fields", "fails_at_once"), CLASSES, ids=IDS)
def test_hierarchy(cls: type[ProjectsApiError], fields: dict[str, Any], fails_at_once: bool) -> None:
    error = build(cls, fields)
    assert isinstance(error, ProjectsApiError)
    assert isinstance(error, AirflowException)
    assert isinstance(error, AirflowFailException) is fails_at_once


@pytest.mark.parametrize(("cls", "fields", "fails_at_once"), CLASSES, ids=IDS)
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


@pytest.mark.parametrize(("cls", "fields", "fails_at_once"), CLASSES, ids=IDS)
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


def test_a_conflict_without_holder_is_not_a_lock_conflict() -> None:
    assert not issubclass(ConflictError, LockConflictError)
    assert not issubclass(LockConflictError, ConflictError)


# -- trigger events -------------------------------------------------------------------------------


def test_every_error_class_may_travel_in_an_event() -> None:
    assert {cls.__name__: cls for cls, _, _ in CLASSES} == EVENT_TYPES


@pytest.mark.parametrize(("cls", "fields", "fails_at_once"), CLASSES, ids=IDS)
def test_an_event_round_trip_keeps_class_message_and_fields(
    cls: type[ProjectsApiError], fields: dict[str, Any], fails_at_once: bool
) -> None:
    error = build(cls, fields)
    event = error.to_event()
    # An event crosses the triggerer as JSON.
    event = json.loads(json.dumps(event))
    assert event["type"] == cls.__name__
    assert event["message"] == "something failed"
    assert event["fields"] == {**COMMON, **fields}
    copy = ProjectsApiError.from_event(event)
    assert type(copy) is cls
    assert vars(copy) == vars(error)
    assert str(copy) == str(error)
    assert isinstance(copy, AirflowFailException) is fails_at_once


def test_an_event_carries_a_changed_message() -> None:
    error = LockWaitTimeoutError("lock not cleared").with_context("waited 600 s")
    assert ProjectsApiError.from_event(error.to_event()).message == "lock not cleared (waited 600 s)"


def test_an_unknown_type_gives_the_base_class_with_the_base_fields() -> None:
    event = {"type": "SomethingNew", "message": "m", "fields": {**COMMON, "task_id": "t-1"}}
    error = ProjectsApiError.from_event(event)
    assert type(error) is ProjectsApiError
    assert error.message == "m"
    assert error.status == 409
    assert error.request_id == "req-1"
    assert not hasattr(error, "task_id")  # a field the base class does not have is dropped


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"type": "LockConflictError"},
        {"type": "LockConflictError", "message": "m", "fields": None},
        {"type": "LockConflictError", "message": "m", "fields": ["not", "a", "dict"]},
        {"type": None, "message": "m", "fields": {}},
    ],
)
def test_a_partial_event_still_gives_an_error(event: dict[str, Any]) -> None:
    error = ProjectsApiError.from_event(event)
    assert isinstance(error, ProjectsApiError)
    assert error.message == event.get("message", "the wait failed")
    assert error.status is None
    if event.get("type") == "LockConflictError":
        assert type(error) is LockConflictError
        assert error.task_id is None


def test_from_event_fills_missing_fields_with_none() -> None:
    error = ProjectsApiError.from_event({"type": "RateLimitedError", "message": "m", "fields": {"status": 429}})
    assert type(error) is RateLimitedError
    assert error.status == 429
    assert error.retry_after is None
    assert error.url is None


# -- with_context ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "fields", "fails_at_once"), CLASSES, ids=IDS)
def test_with_context_returns_an_amended_copy(
    cls: type[ProjectsApiError], fields: dict[str, Any], fails_at_once: bool
) -> None:
    error = build(cls, fields)
    amended = error.with_context("project 42")
    assert amended is not error
    assert type(amended) is cls
    assert str(amended) == "something failed (project 42)"
    assert amended.args == ("something failed (project 42)",)
    for name, value in {**COMMON, **fields}.items():
        assert getattr(amended, name) == value
    # The original is left as it was.
    assert str(error) == "something failed"
    assert error.args == ("something failed",)
    assert error.message == "something failed"


def test_with_context_survives_pickling() -> None:
    amended = GcoreTaskFailedError("task failed", task_id="t-1", task_error="quota").with_context("while waiting")
    copy = pickle.loads(pickle.dumps(amended))  # noqa: S301
    assert str(copy) == "task failed (while waiting)"
    assert (copy.task_id, copy.task_error) == ("t-1", "quota")
