"""GcaiUpdateProjectOperator end to end: real HTTP to the emulator inside ``dag.test()``."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import airflow
import pytest
from packaging.version import Version

from projects_emulator import ProjectsEmulator, gcai_state
from projects_emulator.dagtest import DagRunReport

pytestmark = pytest.mark.integration


#: Behaviour these tests pin that Airflow 3.2 does not have (see each skip's reason).
BEFORE_AIRFLOW_3_3 = Version(airflow.__version__).release < (3, 3)

HEADER = """
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator
"""


def _dag(dag_id: str, body: str, params: str = "{}") -> str:
    return (
        HEADER
        + f"\nwith DAG(dag_id={dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False, "
        + f"params={params}):\n"
        + "".join(f"    {line}\n" for line in body.strip().splitlines())
    )


def _patches(emulator: ProjectsEmulator) -> dict[str, list[Any]]:
    """PATCH bodies per project id, in order."""
    sent: dict[str, list[Any]] = {}
    for entry in emulator.requests(api="gcai", method="PATCH"):
        sent.setdefault(entry.path.rsplit("/", 1)[-1], []).append(entry.body)
    return sent


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Successful writes per project id, counted inside the emulator's store."""
    counts: Counter[str] = Counter()
    original = gcai_state.GcaiStore.write

    def counting(self: gcai_state.GcaiStore, project: gcai_state.GcaiProject, changes: dict[str, Any]) -> None:
        counts[project.id] += 1
        original(self, project, changes)

    monkeypatch.setattr(gcai_state.GcaiStore, "write", counting)
    yield counts


def test_omitted_none_and_templated_values_reach_the_api_exactly(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport]
) -> None:
    full = {"description": "Old description", "custom_instructions": "Old instructions"}
    only_instr = emulator.add_gcai_project("Only instructions", **full)
    clear_desc = emulator.add_gcai_project("Clear description", **full)
    everything = emulator.add_gcai_project("Everything", **full)
    mapped_a = emulator.add_gcai_project("Mapped A", **full)
    mapped_b = emulator.add_gcai_project("Mapped B", **full)
    source = _dag(
        "gcai_update_semantics",
        f"""
GcaiUpdateProjectOperator(task_id="instructions_only", project_id="{{{{ params.a }}}}",
                          custom_instructions="Run {{{{ run_id }}}}: {{{{ params.ci }}}}")
GcaiUpdateProjectOperator(task_id="clear_description", project_id="{{{{ params.b }}}}", description=None)
GcaiUpdateProjectOperator(task_id="everything", project_id={everything!r}, name="{{{{ params.name }}}}",
                          description="{{{{ params.desc }}}}", custom_instructions=None)
# Per map index: one clears the description, the other renames; the partial field goes to both.
GcaiUpdateProjectOperator.partial(task_id="per_index", custom_instructions="{{{{ params.ci }}}}").expand_kwargs(
    [
        {{"project_id": {mapped_a!r}, "description": None}},
        {{"project_id": {mapped_b!r}, "name": "{{{{ params.name }}}}"}},
    ]
)
""",
        params=repr({"a": only_instr, "b": clear_desc, "ci": "Cite clauses.", "name": "  New name ", "desc": "D"}),
    )

    report = run_dag(source, "gcai_update_semantics")

    assert report.failures == {}
    sent = _patches(emulator)
    assert sent[only_instr] == [{"custom_instructions": f"Run {report.run_id}: Cite clauses."}]
    assert sent[clear_desc] == [{"description": None}]
    assert sent[everything] == [{"name": "  New name ", "description": "D", "custom_instructions": None}]
    assert sent[mapped_a] == [{"custom_instructions": "Cite clauses.", "description": None}]
    assert sent[mapped_b] == [{"custom_instructions": "Cite clauses.", "name": "  New name "}]

    def fields(pid: str) -> tuple[Any, ...]:
        project = emulator.gcai_project(pid)
        return project["name"], project["description"], project["custom_instructions"]

    # Omitted fields kept their values; None cleared; GC AI stores the name trimmed.
    assert fields(only_instr) == ("Only instructions", "Old description", f"Run {report.run_id}: Cite clauses.")
    assert fields(clear_desc) == ("Clear description", None, "Old instructions")
    assert fields(everything) == ("New name", "D", None)
    assert fields(mapped_a) == ("Mapped A", None, "Cite clauses.")
    assert fields(mapped_b) == ("New name", "Old description", "Cite clauses.")

    # The XCom return value is the updated project.
    assert report.xcom("clear_description")["description"] is None
    assert report.xcom("clear_description")["custom_instructions"] == "Old instructions"
    assert report.xcom("everything")["name"] == "New name"
    assert report.xcom("instructions_only")["id"] == only_instr
    assert [report.xcom("per_index", map_index=i)["id"] for i in (0, 1)] == [mapped_a, mapped_b]


def test_personal_key_updates_an_access_controlled_project(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GCAI_DEFAULT",
        json.dumps({"conn_type": "gcai", "host": emulator.gcai_url, "password": emulator.gcai_user_key}),
    )
    secret = emulator.add_gcai_project("Privileged", description="keep", access_controlled=True, user_access="write")
    source = _dag(
        "gcai_personal_key",
        f'GcaiUpdateProjectOperator(task_id="update", project_id={secret!r}, custom_instructions="Personal")',
    )

    report = run_dag(source, "gcai_personal_key")

    assert report.failures == {}
    result = report.xcom("update")
    assert result["my_access_level"] == "write"  # only a personal key has an access level
    assert (result["custom_instructions"], result["description"]) == ("Personal", "keep")
    assert emulator.gcai_project(secret)["custom_instructions"] == "Personal"
    assert _patches(emulator) == {secret: [{"custom_instructions": "Personal"}]}


def test_org_key_on_an_access_controlled_project_fails_with_no_write_access(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], capfd: pytest.CaptureFixture[str]
) -> None:
    secret = emulator.add_gcai_project("Privileged", description="keep", access_controlled=True, user_access="admin")
    source = _dag(
        "gcai_no_write_access",
        f'GcaiUpdateProjectOperator(task_id="update", project_id={secret!r}, description=None, retries=2)',
    )

    capfd.readouterr()
    report = run_dag(source, "gcai_no_write_access")
    out, err = capfd.readouterr()

    assert report.task_states == {"update": "failed"}
    # A 404 is final: no HTTP retry and no Airflow retry despite retries=2.
    assert len(emulator.requests(api="gcai", method="PATCH")) == 1
    assert emulator.gcai_project(secret)["description"] == "keep"
    # The task log (dag.test() prints it) carries the provider's error: both readings of the 404.
    failure = next(line for line in (out + err).splitlines() if "NotFoundError" in line)
    assert f"PATCH /projects/{secret}" in failure
    assert "404" in failure
    assert "does not exist" in failure
    assert "no write access" in failure
    assert emulator.gcai_org_key not in out + err


@pytest.mark.skipif(
    BEFORE_AIRFLOW_3_3,
    reason="Airflow 3.2 dag.test() takes ~2.5 s per task: 3 requests/2 s never trips (parallel test covers it)",
)
def test_mapped_update_survives_the_rate_limit(
    emulator: ProjectsEmulator, run_dag: Callable[..., DagRunReport], writes: Counter[str]
) -> None:
    ids = [emulator.add_gcai_project(f"Matter {n:02d}", description=f"d{n}") for n in range(12)]
    # 3 requests per 2 s: the 12 tasks need at least four windows, whatever the machine's speed
    # (dag.test() runs a mapped task's instances one after the other, ~0.1-0.2 s apart).
    emulator.set_gcai_rate_limit(3, 2.0)
    source = _dag(
        "gcai_mapped_rate_limited",
        """
@task
def project_ids(**context):
    return list(context["params"]["ids"])

GcaiUpdateProjectOperator.partial(
    task_id="refresh", custom_instructions="Policy {{ params.version }}"
).expand(project_id=project_ids())
""",
        params=repr({"ids": ids, "version": "2026"}),
    )

    report = run_dag(source, "gcai_mapped_rate_limited")

    mapped = {task: state for task, state in report.task_states.items() if task.startswith("refresh[")}
    assert len(mapped) == len(ids)
    assert report.failures == {}, report.failures
    assert [report.xcom("refresh", map_index=i)["id"] for i in range(len(ids))] == ids

    sent = _patches(emulator)
    assert set(sent) == set(ids)
    for pid in ids:
        # Every try carried the same single field; description and name were never sent.
        assert all(body == {"custom_instructions": "Policy 2026"} for body in sent[pid])
        project = emulator.gcai_project(pid)
        assert project["custom_instructions"] == "Policy 2026"
        assert project["description"] == f"d{ids.index(pid)}"
    # Each project was written exactly once, and the limit really bit: more PATCHes than projects.
    assert dict(writes) == dict.fromkeys(ids, 1)
    patches = emulator.requests(api="gcai", method="PATCH")
    assert len(patches) > len(ids), "the rate limit never answered 429: the test proves nothing"
    # Waiting stayed bounded: Retry-After (1-2 s here) was honoured, not a long backoff.
    assert patches[-1].time - patches[0].time < 15


def test_parallel_instances_share_the_limit_and_all_succeed(emulator: ProjectsEmulator, writes: Counter[str]) -> None:
    """A real executor runs mapped instances side by side; dag.test() does not, so threads stand in."""
    from airflow_provider_projects.operators.gcai import GcaiUpdateProjectOperator

    ids = [emulator.add_gcai_project(f"Parallel {n:02d}") for n in range(12)]
    emulator.set_gcai_rate_limit(4, 1.0)
    results: dict[str, Any] = {}
    todo = list(ids)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                pid = todo.pop()
            op = GcaiUpdateProjectOperator(task_id=f"refresh_{pid[:8]}", project_id=pid, description=None)
            try:
                results[pid] = op.execute({})  # type: ignore[arg-type]
            except Exception as error:  # recorded, asserted below
                results[pid] = error

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    failures = {pid: repr(r) for pid, r in results.items() if not isinstance(r, dict)}
    assert failures == {}
    assert sorted(results) == sorted(ids)
    assert dict(writes) == dict.fromkeys(ids, 1)
    patches = emulator.requests(api="gcai", method="PATCH")
    assert len(patches) > len(ids)  # six at once against four per second: 429s for sure
    assert all(r.body == {"description": None} for r in patches)
    assert patches[-1].time - patches[0].time < 15
