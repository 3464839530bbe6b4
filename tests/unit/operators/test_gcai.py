"""GcaiUpdateProjectOperator: omitted is not None, through real templating, XCom, logging and DAG serialization.

The API is the scripted ``api`` (tests/fakes.py) and HTTP retry pauses land on the virtual ``clock``.
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import DAG
from fakes import FakeApi, Reply, VirtualClock, body_of, ok
from structlog.testing import capture_logs

from airflow_provider_projects.errors import InvalidInputError, NotFoundError
from airflow_provider_projects.hooks.gcai import GcaiHook
from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
from airflow_provider_projects.unset import NOT_SET

BASE = "https://gcai.test/api/external/v1"
PID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
PID2 = "5b0e6f64-1c1d-4a8e-9f57-2f3b9d2c7a11"
PATH = f"/projects/{PID}"
KEY = "gcai_unit_operator_key"
FIELDS = ("name", "description", "custom_instructions")
START = datetime(2026, 1, 1)

PROJECT: dict[str, Any] = {
    "id": PID,
    "name": "Vendor: Acme MSA",
    "description": "Master services agreement",
    "custom_instructions": "Cite clause numbers.",
    "is_access_controlled": False,
    "my_access_level": None,
    "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-02T00:00:00.000Z",
}


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "gcai", "host": BASE, "password": KEY}
    monkeypatch.setenv("AIRFLOW_CONN_GCAI_DEFAULT", json.dumps(conn))


def _answer(project: dict[str, Any] | None = None) -> Callable[[Any], Reply]:
    """A scripted PATCH that answers like GC AI: the project with the sent fields applied."""
    base = dict(project or PROJECT)

    def respond(request: Any) -> Reply:
        return ok({**base, **body_of(request), "updated_at": "2026-01-03T00:00:00.000Z"})

    return respond


def raw(request: Any) -> str:
    return "" if request.body is None else request.body.decode()


def _render_and_run(op: GcaiUpdateProjectOperator, params: dict[str, Any]) -> dict[str, Any]:
    context: Any = {"params": params, "ds": "2026-01-01", "task": op}
    op.render_template_fields(context)
    return op.execute(context)


# -- checks when the DAG is parsed ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_sleep(clock: VirtualClock) -> VirtualClock:
    """Every test runs on the virtual clock: no HTTP retry ever waits for real."""
    return clock


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"project_id": "nope", "name": "x"}, "project_id"),
        ({"project_id": 12345, "name": "x"}, "project_id"),
        ({"project_id": PID, "name": "  "}, "name"),
        ({"project_id": PID, "name": None}, "name"),
        ({"project_id": PID, "description": 3}, "description"),
        ({"project_id": PID, "custom_instructions": ["x"]}, "custom_instructions"),
        ({"project_id": PID}, "name, description, custom_instructions"),
        # Even with a templated id, an update with no field at all is refused at parse time.
        ({"project_id": "{{ params.pid }}"}, "name, description, custom_instructions"),
        # A literal field is judged even when a neighbour is templated.
        ({"project_id": PID, "name": "{{ params.name }}", "description": 3}, "description"),
    ],
)
def test_literal_mistakes_fail_at_construction_naming_the_task(
    kwargs: dict[str, Any], field: str, api: FakeApi
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        GcaiUpdateProjectOperator(task_id="update_acme", **kwargs)
    assert refused.value.field == field
    assert str(refused.value).startswith("Task 'update_acme': ")
    assert refused.value.rule
    if field.count(",") == 2:
        assert "nothing to update" in str(refused.value)
        for name in FIELDS:
            assert name in str(refused.value)
    else:
        assert str(refused.value).startswith(f"Task 'update_acme': {field} {refused.value.rule}")
    assert api.requests == []


def test_templated_fields_alone_are_not_judged_at_construction() -> None:
    op = GcaiUpdateProjectOperator(task_id="t", project_id="{{ params.pid }}", name="{{ params.name }}")
    assert (op.project_id, op.name) == ("{{ params.pid }}", "{{ params.name }}")


def test_an_upstream_output_is_taken_as_it_is_and_rendered_later() -> None:
    with DAG("instructions_from_upstream", schedule=None, start_date=datetime(2026, 1, 1)):
        produce = GcaiUpdateProjectOperator(task_id="produce", project_id=PID, name="Vendor: Acme")
        op = GcaiUpdateProjectOperator(
            task_id="apply", project_id=PID, custom_instructions=produce.output, description="Only the MSA."
        )
    assert op.custom_instructions == produce.output  # a new XComArg object per .output


def test_defaults_are_not_set_and_none_is_kept() -> None:
    op = GcaiUpdateProjectOperator(task_id="t", project_id=PID.upper(), description=None)
    assert op.project_id == PID
    assert op.name is NOT_SET
    assert op.custom_instructions is NOT_SET
    assert op.description is None
    assert set(op.template_fields) == {"project_id", *FIELDS}
    assert op.gcai_conn_id == "gcai_default"


# -- templating -------------------------------------------------------------------------------------

#: (constructor kwargs, params, expected body); templates render to values, omitted fields stay out.
TEMPLATED = [
    pytest.param(
        {"name": "{{ params.name }}"},
        {"name": "Acme MSA 2026"},
        {"name": "Acme MSA 2026"},
        id="name-template-only",
    ),
    pytest.param(
        {"description": "Loaded {{ ds }}", "custom_instructions": None},
        {},
        {"description": "Loaded 2026-01-01", "custom_instructions": None},
        id="description-template-instructions-null",
    ),
    pytest.param(
        {"custom_instructions": "{{ params.ci }}", "description": None, "name": "Literal"},
        {"ci": "Answer in French."},
        {"custom_instructions": "Answer in French.", "description": None, "name": "Literal"},
        id="all-three-mixed",
    ),
    pytest.param(
        {"name": "{{ params.name }}", "description": "{{ params.d }}", "custom_instructions": "{{ params.ci }}"},
        {"name": "N", "d": "D", "ci": "C"},
        {"name": "N", "description": "D", "custom_instructions": "C"},
        id="all-three-templates",
    ),
    pytest.param(
        {"description": None},
        {},
        {"description": None},
        id="description-null-only",
    ),
]


@pytest.mark.parametrize(("kwargs", "params", "expected"), TEMPLATED)
def test_rendered_fields_are_sent_and_omitted_ones_are_not(
    kwargs: dict[str, Any], params: dict[str, Any], expected: dict[str, Any], api: FakeApi
) -> None:
    api.on("PATCH", PATH, _answer())
    with DAG("templating", schedule=None, start_date=START):
        op = GcaiUpdateProjectOperator(task_id="t", project_id="{{ params.pid }}", **kwargs)

    result = _render_and_run(op, {"pid": PID, **params})

    assert op.project_id == PID
    for field in FIELDS:
        if field not in kwargs:
            assert getattr(op, field) is NOT_SET, f"{field} was rendered into {getattr(op, field)!r}"
    [sent] = api.requests
    assert (sent.method, sent.url) == ("PATCH", BASE + PATH)
    assert body_of(sent) == expected
    for field in FIELDS:
        if field not in expected:
            assert f'"{field}"' not in raw(sent)
        elif expected[field] is None:
            assert f'"{field}":null' in raw(sent).replace(" ", "")
    # The XCom return value is the updated project as the API returned it.
    assert result == {**PROJECT, **expected, "updated_at": "2026-01-03T00:00:00.000Z"}
    assert json.loads(json.dumps(result)) == result  # JSON-safe for XCom


def test_native_rendering_to_none_sends_null(api: FakeApi) -> None:
    api.on("PATCH", PATH, _answer())
    with DAG("native", schedule=None, start_date=START, render_template_as_native_obj=True) as dag:
        op = GcaiUpdateProjectOperator(
            task_id="t", project_id=PID, description="{{ params.d }}", custom_instructions="{{ params.ci }}"
        )
    context: Any = {"params": {"d": None, "ci": "kept"}}
    op.render_template_fields(context, jinja_env=dag.get_template_env())
    op.execute(context)
    assert body_of(api.requests[-1]) == {"description": None, "custom_instructions": "kept"}
    assert '"description":null' in raw(api.requests[-1])


@pytest.mark.parametrize(
    ("kwargs", "params", "field"),
    [
        ({"project_id": "{{ params.pid }}", "name": "x"}, {"pid": "not-a-uuid"}, "project_id"),
        ({"project_id": PID, "name": "{{ params.name }}"}, {"name": "   "}, "name"),
        ({"project_id": PID, "name": "{{ params.name }}"}, {"name": ""}, "name"),
    ],
    ids=["bad-id", "blank-name", "empty-name"],
)
def test_rendered_values_are_checked_before_any_request(
    kwargs: dict[str, Any], params: dict[str, Any], field: str, api: FakeApi
) -> None:
    api.on("PATCH", PATH, ok(PROJECT))
    with DAG("bad_render", schedule=None, start_date=START):
        op = GcaiUpdateProjectOperator(task_id="t", **kwargs)
    with pytest.raises(InvalidInputError) as refused:
        _render_and_run(op, params)
    assert refused.value.field == field
    assert api.requests == []


# -- result and log ---------------------------------------------------------------------------------


def _info_lines(logs: list[dict[str, Any]]) -> list[str]:
    lines = []
    for entry in logs:
        if entry.get("log_level") != "info":
            continue
        args = entry.get("positional_args", ())
        lines.append(entry["event"] % args if args else entry["event"])
    return lines


def test_execute_logs_one_concise_line(api: FakeApi) -> None:
    api.on("PATCH", PATH, _answer())
    op = GcaiUpdateProjectOperator(task_id="t", project_id=PID, description=None, custom_instructions="y" * 5000)
    with capture_logs() as logs:
        op.execute({})  # type: ignore[arg-type]
    lines = _info_lines(logs)
    assert len(lines) == 1, lines
    line = lines[0]
    assert PID in line
    assert "description" in line
    assert "custom_instructions" in line
    assert "name left as they were" in line
    assert "\n" not in line
    assert len(line) < 300
    assert KEY not in line


def test_execute_returns_the_updated_project(api: FakeApi) -> None:
    api.on("PATCH", PATH, _answer())
    op = GcaiUpdateProjectOperator(task_id="t", project_id=PID, name="Renamed")
    result = op.execute({})  # type: ignore[arg-type]
    assert result["name"] == "Renamed"
    assert result["description"] == PROJECT["description"]
    assert set(result) == set(PROJECT)
    assert [(r.method, r.path) for r in api.requests] == [("PATCH", PATH)]  # no read before the write
    assert body_of(api.requests[0]) == {"name": "Renamed"}


def test_404_fails_the_task_saying_not_found_or_no_write_access(api: FakeApi, clock: VirtualClock) -> None:
    api.on("PATCH", PATH, Reply(404, {"error": "Project not found or insufficient write access"}))
    op = GcaiUpdateProjectOperator(task_id="t", project_id=PID, name="x")
    with pytest.raises(NotFoundError) as failed:
        op.execute({})  # type: ignore[arg-type]
    assert "does not exist" in str(failed.value)
    assert "no write access" in str(failed.value)
    assert len(api.requests) == 1
    assert clock.sleeps == []


def test_429_in_execute_honours_retry_after(api: FakeApi, clock: VirtualClock) -> None:
    limited = Reply(429, {"error": "Rate limit exceeded", "code": "RATE_LIMITED"}, {"Retry-After": "3"})
    api.on("PATCH", PATH, limited, _answer())
    result = GcaiUpdateProjectOperator(task_id="t", project_id=PID, name="x").execute({})  # type: ignore[arg-type]
    assert result["name"] == "x"
    assert clock.sleeps == [3.0 + 0.5 * 0.3]  # Retry-After plus jitter (0.5 of at most 10 %)
    assert len(api.requests) == 2
    assert api.requests[0].body == api.requests[1].body


@pytest.mark.parametrize("status", [200, 404])
def test_the_hook_session_is_closed_after_execute(status: int, api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[GcaiHook] = []
    original = GcaiHook.close

    def close(self: GcaiHook) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(GcaiHook, "close", close)
    api.on("PATCH", PATH, ok(PROJECT) if status == 200 else Reply(404, {"error": "Project not found"}))
    op = GcaiUpdateProjectOperator(task_id="t", project_id=PID, name="x")
    if status == 200:
        op.execute({})  # type: ignore[arg-type]
    else:
        with pytest.raises(NotFoundError):
            op.execute({})  # type: ignore[arg-type]
    assert len(closed) == 1


def test_other_connection_is_used(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> None:
    conn = {"conn_type": "gcai", "host": "https://other.test/v1", "password": "u:gcai_other"}
    monkeypatch.setenv("AIRFLOW_CONN_GCAI_OTHER", json.dumps(conn))
    api.on("PATCH", PATH, ok(PROJECT))
    GcaiUpdateProjectOperator(task_id="t", project_id=PID, name="x", gcai_conn_id="gcai_other").execute({})  # type: ignore[arg-type]
    assert api.requests[-1].url == f"https://other.test/v1/projects/{PID}"
    assert api.requests[-1].headers["Authorization"] == "u:gcai_other"


# -- copies and DAG serialization -------------------------------------------------------------------


def test_not_set_survives_copy_and_pickle() -> None:
    op = GcaiUpdateProjectOperator(task_id="t", project_id=PID, description=None)
    clone = copy.deepcopy(op)
    assert clone.name is NOT_SET
    assert clone.custom_instructions is NOT_SET
    assert clone.description is None
    assert pickle.loads(pickle.dumps(NOT_SET)) is NOT_SET  # noqa: S301 - our own bytes


def _dag_with_every_form() -> DAG:
    with DAG("gcai_serialization", schedule=None, start_date=START, params={"pid": PID}) as dag:
        GcaiUpdateProjectOperator(task_id="clear_description", project_id=PID, description=None)
        GcaiUpdateProjectOperator(
            task_id="templated",
            project_id="{{ params.pid }}",
            name="{{ params.name }}",
            custom_instructions="Loaded {{ ds }}",
        )
        GcaiUpdateProjectOperator(
            task_id="all_three", project_id=PID, name="n", description="d", custom_instructions="c"
        )
        GcaiUpdateProjectOperator.partial(task_id="mapped", custom_instructions="Policy 2026").expand(
            project_id=[PID, PID2]
        )
        GcaiUpdateProjectOperator.partial(task_id="mapped_kwargs", custom_instructions="Policy 2026").expand_kwargs(
            [{"project_id": PID, "description": None}, {"project_id": PID2, "name": "{{ params.name }}"}]
        )
    return dag


def test_dag_serializes_and_deserializes(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    # A class attribute that Airflow's SerializedDagModel sets for the whole process when it loads
    # a DAG without its links (an earlier dag.test() in this run may have): load them, as the UI does.
    monkeypatch.setattr(DagSerialization, "_load_operator_extra_links", True)

    dag = _dag_with_every_form()
    data = DagSerialization.to_dict(dag)
    DagSerialization.validate_schema(data)
    text = json.dumps(data)  # what is stored in the database
    restored = DagSerialization.from_dict(json.loads(text))

    assert set(restored.task_dict) == {"clear_description", "templated", "all_three", "mapped", "mapped_kwargs"}
    for task in restored.tasks:
        assert task.task_type == "GcaiUpdateProjectOperator"
        assert tuple(task.template_fields) == ("project_id", *FIELDS)
        assert "GC AI project" in task.operator_extra_link_dict

    templated = restored.task_dict["templated"]
    assert (templated.project_id, templated.name, templated.custom_instructions) == (
        "{{ params.pid }}",
        "{{ params.name }}",
        "Loaded {{ ds }}",
    )
    all_three = restored.task_dict["all_three"]
    assert (all_three.name, all_three.description, all_three.custom_instructions) == ("n", "d", "c")
    assert restored.task_dict["clear_description"].description is None

    mapped = restored.task_dict["mapped"]
    # Only what was given to partial() is stored: the omitted fields are not turned into values.
    partial = {k: v for k, v in mapped.partial_kwargs.items() if k in FIELDS}
    assert partial == {"custom_instructions": "Policy 2026"}
    assert mapped.expand_input.value == {"project_id": [PID, PID2]}
    per_index = restored.task_dict["mapped_kwargs"].expand_input.value
    assert per_index == [{"project_id": PID, "description": None}, {"project_id": PID2, "name": "{{ params.name }}"}]


# -- the write guard, as this operator uses it (issue 19: only test_write_guard.py covered it) -----


def test_the_patch_in_flight_is_recorded_then_forgotten(api: FakeApi) -> None:
    from airflow_provider_projects.operators._write_guard import GUARD_KEY

    from .test_write_guard import FakeStore, context

    store = FakeStore()
    in_flight: list[Any] = []
    changed = {**PROJECT, "custom_instructions": "Cite clauses."}

    def patch(request: Any) -> Reply:
        in_flight.append(store.get(GUARD_KEY))
        return ok(changed)

    api.on("PATCH", PATH, patch)
    operator = GcaiUpdateProjectOperator(task_id="update", project_id=PID, custom_instructions="Cite clauses.")
    assert operator.execute(context(store, try_number=1)) == changed
    [record] = in_flight
    assert (record["try_number"], record["value"]["desired"]) == (1, {"custom_instructions": "Cite clauses."})
    assert store.values == {}


def test_a_retry_finds_the_patch_of_the_try_that_crashed_applied_and_sends_nothing(api: FakeApi) -> None:
    from .test_write_guard import FakeStore, context, earlier

    body = {"custom_instructions": "Cite clauses."}
    store = FakeStore(earlier(body, None))
    api.on("GET", PATH, ok({**PROJECT, **body}))
    operator = GcaiUpdateProjectOperator(task_id="update", project_id=PID, **body)
    assert operator.execute(context(store, try_number=2))["custom_instructions"] == "Cite clauses."
    assert [r.method for r in api.requests] == ["GET"]
    assert store.values == {}


def test_a_retry_refuses_to_overwrite_a_newer_patch_and_forgets_the_write(api: FakeApi) -> None:
    from airflow_provider_projects.errors import ConcurrentChangeError

    from .test_write_guard import FakeStore, context, earlier

    body = {"custom_instructions": "Cite clauses."}
    store = FakeStore(earlier(body, None, started_at="2026-01-01T00:00:00+00:00"))
    api.on("GET", PATH, ok({**PROJECT, "custom_instructions": "Theirs", "updated_at": "2026-01-03T00:00:00Z"}))
    operator = GcaiUpdateProjectOperator(task_id="update", project_id=PID, **body)
    with pytest.raises(ConcurrentChangeError, match="after try 1"):
        operator.execute(context(store, try_number=2))
    assert [r.method for r in api.requests] == ["GET"]
    assert store.values == {}


def test_a_retry_sends_the_patch_when_nothing_changed_since_the_crashed_try(api: FakeApi) -> None:
    from .test_write_guard import FakeStore, context, earlier

    body = {"custom_instructions": "Cite clauses."}
    # Updated exactly when the crashed try started: not after it, so not someone else's change.
    store = FakeStore(earlier(body, None, started_at="2026-01-02T00:00:00+00:00"))
    api.on("GET", PATH, ok(PROJECT))
    api.on("PATCH", PATH, ok({**PROJECT, **body}))
    operator = GcaiUpdateProjectOperator(task_id="update", project_id=PID, **body)
    assert operator.execute(context(store, try_number=2))["custom_instructions"] == "Cite clauses."
    assert [r.method for r in api.requests] == ["GET", "PATCH"]
    assert store.values == {}


def test_a_retry_that_cannot_read_when_the_crashed_try_started_refuses(api: FakeApi) -> None:
    from airflow_provider_projects.errors import ConcurrentChangeError

    from .test_write_guard import FakeStore, context, earlier

    body = {"custom_instructions": "Cite clauses."}
    store = FakeStore(earlier(body, None, started_at="not a time"))
    api.on("GET", PATH, ok(PROJECT))
    operator = GcaiUpdateProjectOperator(task_id="update", project_id=PID, **body)
    with pytest.raises(ConcurrentChangeError) as refused:
        operator.execute(context(store, try_number=2))
    assert str(refused.value) == (
        f"GC AI project {PID} was updated at {PROJECT['updated_at']}, after try 1 of this task started sending "
        f"{body}. Not overwriting a newer change; clear the task to apply this one anyway."
    )
    assert [r.method for r in api.requests] == ["GET"]


def test_a_retry_that_finds_its_change_applied_says_so(api: FakeApi) -> None:
    from .test_write_guard import FakeStore, context, earlier

    body = {"custom_instructions": "Cite clauses."}
    api.on("GET", PATH, ok({**PROJECT, **body}))
    operator = GcaiUpdateProjectOperator(task_id="update", project_id=PID, **body)
    with capture_logs() as logs:
        operator.execute(context(FakeStore(earlier(body, None)), try_number=2))
    infos = [e["event"] % e.get("positional_args", ()) for e in logs if e.get("log_level") == "info"]
    assert f"GC AI project {PID} already holds this change (an earlier try applied it)" in infos


def test_the_update_is_logged_with_the_fields_left_as_they_were(api: FakeApi) -> None:
    api.on("PATCH", PATH, ok({**PROJECT, "name": "Renamed"}))
    operator = GcaiUpdateProjectOperator(task_id="update", project_id=PID, name="Renamed")
    with capture_logs() as logs:
        operator.execute({})  # type: ignore[arg-type]
    infos = [e["event"] % e.get("positional_args", ()) for e in logs if e.get("log_level") == "info"]
    [line] = [info for info in infos if info.startswith(f"GC AI project {PID}: ")]
    assert line.endswith("; description, custom_instructions left as they were")


def test_a_literal_beside_a_template_is_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(InvalidInputError, match="description must be a string, or None to clear it"):
        GcaiUpdateProjectOperator(task_id="update", project_id=PID, name="{{ params.name }}", description=5)
    # The template alone waits for rendering: nothing to check yet.
    GcaiUpdateProjectOperator(task_id="update2", project_id=PID, name="{{ params.name }}")
