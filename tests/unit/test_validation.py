"""Input rules checked before any request, the NOT_SET marker, and the exact GC AI PATCH body."""

from __future__ import annotations

import copy
import math
import pickle
import uuid
from typing import Any

import pytest

from airflow_provider_projects import validation
from airflow_provider_projects.errors import InvalidInputError
from airflow_provider_projects.unset import NOT_SET, NotSet

UUID_TEXT = "3c90c3cc-0d44-4b50-8888-8dd25736052a"

#: The exact GC AI PATCH body builder (``hooks.gcai.update_body`` at first, now in ``validation``).
update_body = validation.gcai_update_body

NAME_PATTERN_RULE = "must start with a letter or digit"


def refused(func: Any, value: Any, *args: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        func(value, *args)
    return caught.value


# -- Gcore name -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "abc",  # 3: the shortest
        "a" * 63,  # 63: the longest
        "a" + "b" * 61 + "c",
        "New Project",
        "0day",
        "Z-9",
        "my_project.",
        "my-project_",
        "a.b",
        "A b-c.d_e 1",
    ],
)
def test_gcore_name_valid(name: str) -> None:
    assert validation.gcore_name(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "must be 3 to 63 characters long, not 0"),
        ("ab", "must be 3 to 63 characters long, not 2"),
        ("a" * 64, "must be 3 to 63 characters long, not 64"),
        ("-abc", NAME_PATTERN_RULE),
        ("_abc", NAME_PATTERN_RULE),
        (".abc", NAME_PATTERN_RULE),
        (" abc", NAME_PATTERN_RULE),
        ("abc-", NAME_PATTERN_RULE),
        ("abc ", NAME_PATTERN_RULE),
        ("ab/c", NAME_PATTERN_RULE),
        ("caf\u00e9", NAME_PATTERN_RULE),
        ("ab\tc", NAME_PATTERN_RULE),
        pytest.param(
            "abc\n",
            NAME_PATTERN_RULE,
        ),
    ],
)
def test_gcore_name_invalid(name: str, rule: str) -> None:
    error = refused(validation.gcore_name, name)
    assert error.field == "name"
    assert rule in (error.rule or "")
    assert str(error).startswith("name ")
    assert rule in str(error)
    assert validation.shown(name) in str(error)


@pytest.mark.parametrize("value", [None, 123, b"abc", ["abc"]])
def test_gcore_name_must_be_a_string(value: Any) -> None:
    error = refused(validation.gcore_name, value)
    assert (error.field, error.rule) == ("name", "must be a string")


def test_field_name_is_configurable() -> None:
    error = refused(validation.gcore_name, "x", "new_name")
    assert error.field == "new_name"
    assert str(error).startswith("new_name must be 3 to 63")


def test_long_rejected_values_are_shortened_in_the_message() -> None:
    error = refused(validation.gcore_name, "a" * 500)
    assert len(str(error)) < 200
    assert "..." in str(error)


# -- Gcore description ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "d", "x" * 255, "\u00e9" * 255])
def test_gcore_description_valid(value: str | None) -> None:
    assert validation.gcore_description(value) == value


def test_gcore_description_too_long() -> None:
    error = refused(validation.gcore_description, "x" * 256)
    assert error.field == "description"
    assert error.rule == "must be at most 255 characters, not 256"


@pytest.mark.parametrize("value", [1, b"x", ["x"], NOT_SET])
def test_gcore_description_must_be_text_or_none(value: Any) -> None:
    error = refused(validation.gcore_description, value)
    assert (error.field, error.rule) == ("description", "must be a string or None")


# -- Gcore project id -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (42, 42), ("42", 42), ("007", 7), (2**63 - 1, 2**63 - 1), (str(2**63 - 1), 2**63 - 1)],
)
def test_gcore_project_id_valid(value: Any, expected: int) -> None:
    result = validation.gcore_project_id(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (True, "must be a positive integer"),
        (False, "must be a positive integer"),
        (0, "must be a positive integer below 2**63"),
        (-1, "must be a positive integer below 2**63"),
        ("0", "must be a positive integer below 2**63"),
        ("-1", "must be a positive integer"),
        ("4a", "must be a positive integer"),
        ("", "must be a positive integer"),
        (" 42", "must be a positive integer"),
        ("+42", "must be a positive integer"),
        ("4.0", "must be a positive integer"),
        (4.0, "must be a positive integer"),
        (None, "must be a positive integer"),
        ("\u0664\u0662", "must be a positive integer"),  # Arabic-Indic digits: int() would accept them
        (2**63, "must be a positive integer below 2**63"),
        (str(2**63), "must be a positive integer below 2**63"),
    ],
)
def test_gcore_project_id_invalid(value: Any, rule: str) -> None:
    error = refused(validation.gcore_project_id, value)
    assert error.field == "project_id"
    assert error.rule == rule
    assert str(error).startswith(f"project_id {rule} (got ")


# -- UUIDs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", [validation.gcai_project_id, validation.gcore_task_id])
@pytest.mark.parametrize(
    "value", [UUID_TEXT, UUID_TEXT.upper(), uuid.UUID(UUID_TEXT)], ids=["lower", "upper", "uuid-object"]
)
def test_uuid_valid_and_canonical(func: Any, value: Any) -> None:
    assert func(value) == UUID_TEXT


@pytest.mark.parametrize(
    ("func", "field"), [(validation.gcai_project_id, "project_id"), (validation.gcore_task_id, "gcore_task_id")]
)
@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-a-uuid",
        UUID_TEXT.replace("-", ""),  # 32 hex digits: valid for uuid.UUID, but not the API's form
        "{" + UUID_TEXT + "}",
        "urn:uuid:" + UUID_TEXT,
        UUID_TEXT[:-1] + "g",
        " " + UUID_TEXT,
        42,
        None,
        uuid.UUID(UUID_TEXT).bytes,
    ],
)
def test_uuid_invalid(func: Any, field: str, value: Any) -> None:
    error = refused(func, value)
    assert error.field == field
    assert error.rule is not None
    assert "must be a UUID" in error.rule


# -- GC AI ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["x", " padded ", "Vendor: Acme MSA (renamed)", "\u00e9" * 1000])
def test_gcai_name_valid_is_sent_as_given(value: str) -> None:
    assert validation.gcai_name(value) == value


@pytest.mark.parametrize("value", ["", " ", "\t\n ", "\u3000"])
def test_gcai_name_blank(value: str) -> None:
    error = refused(validation.gcai_name, value)
    assert (error.field, error.rule) == ("name", "must not be empty after trimming whitespace")


@pytest.mark.parametrize("value", [None, 1, ["x"], b"x", NOT_SET])
def test_gcai_name_not_a_string(value: Any) -> None:
    error = refused(validation.gcai_name, value)
    assert (error.field, error.rule) == ("name", "must be a string")


@pytest.mark.parametrize("value", [None, "", "text", "x" * 100_000])
def test_gcai_optional_text_valid(value: str | None) -> None:
    assert validation.gcai_optional_text(value, "description") == value


@pytest.mark.parametrize("value", [1, 1.5, True, ["x"], {"a": 1}])
def test_gcai_optional_text_invalid(value: Any) -> None:
    error = refused(validation.gcai_optional_text, value, "custom_instructions")
    assert (error.field, error.rule) == ("custom_instructions", "must be a string, or None to clear it")


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), (0.5, 0.5), (3600, 3600.0)])
def test_positive_seconds_valid(value: Any, expected: float) -> None:
    assert validation.positive_seconds(value, "poke_interval") == expected


@pytest.mark.parametrize("value", [0, -1, 0.0, True, "5", None, float("nan")])
def test_positive_seconds_invalid(value: Any) -> None:
    error = refused(validation.positive_seconds, value, "poke_interval")
    assert (error.field, error.rule) == ("poke_interval", "must be a finite number of seconds greater than 0")


# -- NOT_SET --------------------------------------------------------------------------------------


def test_not_set_is_a_falsy_singleton() -> None:
    assert not NOT_SET
    assert bool(NOT_SET) is False
    assert NOT_SET is not None
    assert NotSet() is NOT_SET
    assert repr(NOT_SET) == "NOT_SET"


@pytest.mark.parametrize(
    "clone",
    [
        copy.copy,
        copy.deepcopy,
        lambda v: pickle.loads(pickle.dumps(v)),  # noqa: S301
        lambda v: pickle.loads(pickle.dumps(v, protocol=0)),  # noqa: S301
        lambda v: copy.deepcopy({"a": [v]})["a"][0],
        lambda v: pickle.loads(pickle.dumps({"a": (v,)}))["a"][0],  # noqa: S301
    ],
    ids=["copy", "deepcopy", "pickle", "pickle-protocol-0", "deepcopy-nested", "pickle-nested"],
)
def test_not_set_survives_copies_as_the_same_object(clone: Any) -> None:
    assert clone(NOT_SET) is NOT_SET


# -- GC AI PATCH body -----------------------------------------------------------------------------

FIELDS = ("name", "description", "custom_instructions")


@pytest.mark.parametrize("name", ["omit", "value"])
@pytest.mark.parametrize("description", ["omit", "none", "value"])
@pytest.mark.parametrize("custom_instructions", ["omit", "none", "value"])
def test_update_body_table(name: str, description: str, custom_instructions: str) -> None:
    choices = {"name": name, "description": description, "custom_instructions": custom_instructions}
    kwargs: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for field, choice in choices.items():
        if choice == "none":
            kwargs[field] = expected[field] = None
        elif choice == "value":
            kwargs[field] = expected[field] = f"new {field}"
    if not expected:
        error = refused(lambda _: update_body(**kwargs), None)
        assert error.rule == "at least one field"
        return
    body = update_body(**kwargs)
    assert body == expected
    assert list(body) == [f for f in FIELDS if f in expected]


def test_update_body_with_explicit_not_set_is_the_same_as_omitted() -> None:
    assert update_body(name="n", description=NOT_SET, custom_instructions=NOT_SET) == {"name": "n"}
    assert update_body(description=copy.deepcopy(NOT_SET), custom_instructions="") == {"custom_instructions": ""}


def test_update_body_refuses_an_empty_patch() -> None:
    error = refused(lambda _: update_body(), None)
    assert error.field == "name, description, custom_instructions"
    assert "nothing to update" in str(error)


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"name": None}, "name", "must be a string"),
        ({"name": "   "}, "name", "must not be empty after trimming whitespace"),
        ({"description": 5}, "description", "must be a string, or None to clear it"),
        ({"name": "ok", "custom_instructions": ["x"]}, "custom_instructions", "must be a string, or None to clear it"),
    ],
)
def test_update_body_names_the_bad_field(kwargs: dict[str, Any], field: str, rule: str) -> None:
    error = refused(lambda _: update_body(**kwargs), None)
    assert (error.field, error.rule) == (field, rule)


# -- the exact refusals (issue 19: mutation testing found messages and bounds no test pinned) ----


REFUSALS = [
    (validation.gcore_project_id, (True,), "project_id must be a positive integer (got True)"),
    (validation.gcore_project_id, ("4x",), "project_id must be a positive integer (got '4x')"),
    (validation.gcore_project_id, (2**63,), f"project_id must be a positive integer below 2**63 (got {2**63})"),
    (
        validation.gcore_task_id,
        ("nope",),
        "gcore_task_id must be a UUID like '3c90c3cc-0d44-4b50-8888-8dd25736052a' (got 'nope')",
    ),
    (validation.gcore_name, (7,), "name must be a string (got 7)"),
    (
        validation.gcore_name,
        ("-x-",),
        "name must start with a letter or digit, contain only letters, digits, spaces, '.', '_' or '-', "
        "and end with a letter, digit, '.' or '_' (got '-x-')",
    ),
    (validation.gcore_description, (5,), "description must be a string or None (got 5)"),
    (
        validation.gcore_description,
        ("d" * 256,),
        "description must be at most 255 characters, not 256 (got '" + "d" * 56 + "...)",
    ),
    (validation.gcore_replace_method, ("POST",), "method must be one of 'auto', 'PUT', 'PATCH' (got 'POST')"),
    (validation.gcai_name, (7,), "name must be a string (got 7)"),
    (validation.gcai_name, ("  ",), "name must not be empty after trimming whitespace (got '  ')"),
    (validation.gcai_optional_text, (3, "description"), "description must be a string, or None to clear it (got 3)"),
    (
        validation.positive_seconds,
        (math.inf, "timeout"),
        "timeout must be a finite number of seconds greater than 0 (got inf)",
    ),
    (
        validation.error_count,
        (-1, "max_consecutive_errors"),
        "max_consecutive_errors must be a whole number, 0 or more (got -1)",
    ),
]


@pytest.mark.parametrize(("check", "args", "message"), REFUSALS, ids=lambda v: getattr(v, "__name__", None))
def test_each_refusal_names_the_field_the_rule_and_the_value(check: Any, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        check(*args)
    assert str(refused.value) == message


def test_nothing_to_update_says_what_to_give() -> None:
    with pytest.raises(InvalidInputError) as refused:
        validation.gcai_update_body()
    assert str(refused.value) == (
        "nothing to update: give at least one of name, description, custom_instructions "
        "(None clears description or custom_instructions)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(0, 0, id="zero-errors-tolerated"),
        pytest.param(3, 3, id="three"),
    ],
)
def test_error_count_takes_zero_or_more(value: int, expected: int) -> None:
    assert validation.error_count(value, "max_consecutive_errors") == expected


@pytest.mark.parametrize("value", [True, 1.5, "2", None])
def test_error_count_refuses_what_is_not_a_whole_number(value: Any) -> None:
    with pytest.raises(InvalidInputError, match="max_consecutive_errors must be a whole number"):
        validation.error_count(value, "max_consecutive_errors")


@pytest.mark.parametrize("method", ["auto", "PUT", "PATCH"])
def test_the_replace_methods_are_taken_as_given(method: str) -> None:
    assert validation.gcore_replace_method(method) == method


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        pytest.param(58, "'" + "x" * 58 + "'", id="60-characters-shown-whole"),
        pytest.param(59, "'" + "x" * 56 + "...", id="61-characters-cut-to-60"),
    ],
)
def test_a_refused_value_is_shown_in_60_characters_at_most(length: int, shown: str) -> None:
    assert validation.shown("x" * length) == shown
    assert len(validation.shown("x" * length)) == 60


def test_a_gcore_name_is_3_to_63_characters() -> None:
    for name in ("abc", "a" * 63):
        assert validation.gcore_name(name) == name
    for name in ("ab", "a" * 64):
        with pytest.raises(InvalidInputError) as refused:
            validation.gcore_name(name)
        assert (
            str(refused.value)
            == f"name must be 3 to 63 characters long, not {len(name)} (got {validation.shown(name)})"
        )
