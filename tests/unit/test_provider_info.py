"""The provider info: valid for Airflow, registered as an entry point, and every module it names exists."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import json
from typing import Any

import jsonschema
import pytest

from airflow_provider_projects import __version__, get_provider_info
from airflow_provider_projects.hooks.gcai import GcaiHook
from airflow_provider_projects.hooks.gcore import GcoreHook
from airflow_provider_projects.hooks.settings import MAX_RETRIES_LIMIT
from airflow_provider_projects.provider_info import GCAI_BASE_URL, GCORE_BASE_URL

EXTRA_TIMEOUT = "timeout"
EXTRA_MAX_RETRIES = "max_retries"
#: Every extra the hooks read, each with a field in the connection form.
EXTRAS = (EXTRA_TIMEOUT, EXTRA_MAX_RETRIES, "proxy", "verify", "cert", "cert_key", "allow_insecure_http")

DIST = "airflow-provider-projects"
INFO = get_provider_info()
HOOKS = {"gcore": GcoreHook, "gcai": GcaiHook}


def airflow_schema(name: str) -> dict[str, Any]:
    return json.loads(importlib.resources.files("airflow").joinpath(name).read_text())


def connection_type(conn_type: str) -> dict[str, Any]:
    matches = [c for c in INFO["connection-types"] if c["connection-type"] == conn_type]
    assert len(matches) == 1
    return matches[0]


@pytest.fixture(autouse=True)
def airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))


# -- schema ---------------------------------------------------------------------------------------


def test_provider_info_validates_against_airflows_schema() -> None:
    schema = airflow_schema("provider_info.schema.json")
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(INFO), key=str)
    assert [e.message for e in errors] == []


def test_connection_types_validate_against_the_provider_yaml_schema() -> None:
    """provider_info.schema.json does not describe conn-fields / ui-field-behaviour; provider.yaml's does."""
    schema = airflow_schema("provider.yaml.schema.json")
    item_schema = schema["properties"]["connection-types"]
    assert "conn-fields" in item_schema["items"]["properties"]  # the Airflow version under test knows them
    validator_class = jsonschema.validators.validator_for(schema)
    errors = list(validator_class(item_schema).iter_errors(INFO["connection-types"]))
    assert [e.message for e in errors] == []


def test_get_provider_info_is_json_safe() -> None:
    assert json.loads(json.dumps(get_provider_info())) == INFO


def test_package_name_and_version_match_the_distribution() -> None:
    assert INFO["package-name"] == DIST
    assert INFO["versions"][0] == __version__
    assert importlib.metadata.version(DIST) == __version__


def test_every_integration_used_is_declared() -> None:
    declared = {i["integration-name"] for i in INFO["integrations"]}
    used = {entry["integration-name"] for key in ("hooks", "operators", "sensors", "triggers") for entry in INFO[key]}
    assert used <= declared
    assert declared == {"Gcore Cloud", "GC AI"}


# -- entry point ----------------------------------------------------------------------------------


def test_entry_point_is_registered_and_points_to_get_provider_info() -> None:
    points = [
        ep
        for ep in importlib.metadata.entry_points(group="apache_airflow_provider")
        if ep.dist is not None and ep.dist.name == DIST
    ]
    assert len(points) == 1
    point = points[0]
    assert point.value == "airflow_provider_projects:get_provider_info"
    assert point.load() is get_provider_info
    assert point.load()() == INFO


# -- every module named exists --------------------------------------------------------------------


def listed_modules() -> list[str]:
    modules = []
    for key in ("hooks", "operators", "sensors", "triggers"):
        for entry in INFO.get(key, []):
            modules += entry["python-modules"]
    return modules


def listed_classes() -> list[str]:
    return list(INFO.get("extra-links", [])) + [c["hook-class-name"] for c in INFO["connection-types"]]


@pytest.mark.parametrize("module", listed_modules())
def test_listed_module_imports(module: str) -> None:
    # Deliberately no importorskip: a module the provider info names but nobody has written yet must fail.
    importlib.import_module(module)


@pytest.mark.parametrize("path", listed_classes())
def test_listed_class_imports(path: str) -> None:
    module_name, _, class_name = path.rpartition(".")
    module = importlib.import_module(module_name)
    assert isinstance(getattr(module, class_name), type)


def test_the_listed_module_kinds_are_the_expected_ones() -> None:
    assert listed_modules() == [
        "airflow_provider_projects.hooks.gcore",
        "airflow_provider_projects.hooks.gcai",
        "airflow_provider_projects.operators.gcore",
        "airflow_provider_projects.operators.gcai",
        "airflow_provider_projects.sensors.gcore",
        "airflow_provider_projects.triggers.gcore",
        "airflow_provider_projects.triggers.gcore_events",
    ]


# -- connection types -----------------------------------------------------------------------------


@pytest.mark.parametrize(("conn_type", "hook_class"), HOOKS.items())
def test_connection_type_names_its_hook(conn_type: str, hook_class: type) -> None:
    entry = connection_type(conn_type)
    assert entry["hook-class-name"] == f"{hook_class.__module__}.{hook_class.__qualname__}"
    assert entry["hook-name"] == hook_class.hook_name
    assert hook_class.conn_type == conn_type


@pytest.mark.parametrize("conn_type", HOOKS)
def test_connection_type_has_conn_fields_and_ui_field_behaviour(conn_type: str) -> None:
    entry = connection_type(conn_type)
    fields = entry["conn-fields"]
    assert set(fields) == {*EXTRAS}
    for field in fields.values():
        assert field["label"]
        assert field["schema"]["type"]
    behaviour = entry["ui-field-behaviour"]
    assert set(behaviour) == {"hidden-fields", "relabeling", "placeholders"}
    assert behaviour["relabeling"]["password"] == "API key"
    assert "password" not in behaviour["hidden-fields"]
    assert "host" not in behaviour["hidden-fields"]
    assert "extra" not in behaviour["hidden-fields"]


@pytest.mark.parametrize(("conn_type", "base_url"), [("gcore", GCORE_BASE_URL), ("gcai", GCAI_BASE_URL)])
def test_host_placeholder_is_the_default_base_url(conn_type: str, base_url: str) -> None:
    assert connection_type(conn_type)["ui-field-behaviour"]["placeholders"]["host"] == base_url
    assert HOOKS[conn_type].default_base_url == base_url


@pytest.mark.parametrize(
    ("value", "accepted"), [(None, True), (0.5, True), (30, True), (3600, True), (0, False), (-1, False), (3601, False)]
)
def test_timeout_field_schema_agrees_with_the_hook(value: Any, accepted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = connection_type("gcore")["conn-fields"][EXTRA_TIMEOUT]["schema"]
    assert jsonschema.Draft202012Validator(schema).is_valid(value) is accepted
    assert_hook_accepts(monkeypatch, {EXTRA_TIMEOUT: value}, accepted)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(None, True), (0, True), (4, True), (MAX_RETRIES_LIMIT, True), (-1, False), (11, False), (2.5, False)],
)
def test_max_retries_field_schema_agrees_with_the_hook(
    value: Any, accepted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = connection_type("gcai")["conn-fields"][EXTRA_MAX_RETRIES]["schema"]
    assert jsonschema.Draft202012Validator(schema).is_valid(value) is accepted
    assert_hook_accepts(monkeypatch, {EXTRA_MAX_RETRIES: value}, accepted)


def assert_hook_accepts(monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], accepted: bool) -> None:
    from airflow_provider_projects.errors import ConnectionSetupError

    monkeypatch.setenv(
        "AIRFLOW_CONN_CONN_SCHEMA", json.dumps({"conn_type": "gcai", "password": "gcai_k", "extra": extra})
    )
    hook = GcaiHook("conn_schema")
    try:
        hook.settings()
    except ConnectionSetupError:
        assert not accepted
    else:
        assert accepted


@pytest.mark.parametrize("conn_type", HOOKS)
def test_the_form_behaviour_is_valid_for_airflow(conn_type: str) -> None:
    info = connection_type(conn_type)["ui-field-behaviour"]
    behaviour = {key.replace("-", "_"): value for key, value in info.items()}
    jsonschema.validate(behaviour, airflow_schema("customized_form_field_behaviours.schema.json"))


@pytest.mark.parametrize("hook_class", HOOKS.values())
def test_the_hooks_leave_the_form_to_the_provider_info(hook_class: Any) -> None:
    # Airflow 3.2+ reads the form from provider info and deprecates the hook methods (a warning per load).
    ours = [cls for cls in hook_class.__mro__ if cls.__module__.startswith("airflow_provider_projects.")]
    assert len(ours) == 2  # the hook and ProjectsApiHook
    for cls in ours:
        assert "get_ui_field_behaviour" not in vars(cls)
        assert "get_connection_form_widgets" not in vars(cls)


# -- what Airflow's providers manager makes of it -------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize(("conn_type", "hook_class"), HOOKS.items())
def test_providers_manager_lists_the_hooks(conn_type: str, hook_class: Any) -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert DIST in manager.providers
    assert manager.providers[DIST].version == __version__
    info = manager.hooks[conn_type]
    assert info is not None
    assert info.hook_class_name == f"{hook_class.__module__}.{hook_class.__qualname__}"
    assert info.hook_name == hook_class.hook_name
    assert info.connection_id_attribute_name == hook_class.conn_name_attr
    assert info.package_name == DIST
    assert info.connection_testable is True


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("conn_type", HOOKS)
def test_providers_manager_reads_the_form(conn_type: str) -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    for field in EXTRAS:
        widget = widgets[f"extra__{conn_type}__{field}"]
        assert widget.package_name == DIST
        assert widget.field_name == field
    behaviour = manager.field_behaviours[conn_type]
    assert behaviour["hidden_fields"] == connection_type(conn_type)["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["relabeling"]["password"] == "API key"


def test_gcai_key_placeholder_shows_both_key_forms() -> None:
    """The GC AI form names its two key forms, not a generic text (issue 16, finding 6a)."""
    placeholder = connection_type("gcai")["ui-field-behaviour"]["placeholders"]["password"]
    assert "gcai_…" in placeholder
    assert "u:gcai_…" in placeholder
    # Gcore keys are not GC AI keys: its form must not suggest that form.
    assert "gcai_" not in connection_type("gcore")["ui-field-behaviour"]["placeholders"]["password"]


@pytest.mark.parametrize("conn_type", HOOKS)
def test_the_proxy_field_is_masked_in_the_form_and_by_airflow(conn_type: str) -> None:
    """A proxy URL may carry credentials: a password-style field, under a name Airflow masks."""
    try:
        from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
    except ImportError:  # Airflow 3.2
        from airflow.sdk.execution_time.secrets_masker import should_hide_value_for_key

    assert connection_type(conn_type)["conn-fields"]["proxy"]["schema"]["format"] == "password"
    assert should_hide_value_for_key("proxy")
