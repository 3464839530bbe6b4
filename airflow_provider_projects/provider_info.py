"""The provider info that Airflow's providers manager reads through the entry point.

Built on demand and free of heavy imports: the providers manager loads it in every Airflow process.
"""

from __future__ import annotations

from typing import Any, Final

from airflow_provider_projects import __version__

PACKAGE: Final = "airflow_provider_projects"
GCORE_BASE_URL: Final = "https://api.gcore.com"
GCAI_BASE_URL: Final = "https://app.gc.ai/api/external/v1"

#: The API key field's placeholder per API, keyed by its default base URL (what the hooks pass).
#: Each shows the form of key that API issues: the form is where a wrong kind of key gets pasted.
KEY_PLACEHOLDERS: Final[dict[str, str]] = {
    GCORE_BASE_URL: "the API token alone, without 'APIKey'",
    GCAI_BASE_URL: "gcai_… (organisation key) or u:gcai_… (personal key), without 'Bearer'",
}

#: Form fields stored in the connection's extra JSON (Airflow 3.2+ ``conn-fields``).
CONN_FIELDS: Final[dict[str, Any]] = {
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Read timeout for each request; the connect timeout is the smaller of this and 10 s. "
        "Default 30.",
        "schema": {"type": ["number", "null"], "minimum": 0.1, "maximum": 3600},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Tries after the first on connection errors, timeouts, 429, 502, 503 and 504. Default 4.",
        "schema": {"type": ["integer", "null"], "minimum": 0, "maximum": 10},
    },
    # "proxy" is also one of Airflow's sensitive field names: the UI and the API mask its value.
    "proxy": {
        "label": "Proxy URL",
        "description": "http(s)://[user:password@]host:port of the proxy to reach the API through, or 'direct' "
        "to ignore HTTPS_PROXY/NO_PROXY. Empty: the environment's proxy settings apply.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "verify": {
        "label": "Verify TLS",
        "description": "true (default), false, or the path of a CA bundle (PEM) on the workers and triggerers, "
        "e.g. for a proxy that inspects TLS with an internal CA.",
        # A string, so the form renders one text input; the hook also takes JSON true/false.
        "schema": {"type": ["string", "null"]},
    },
    "cert": {
        "label": "Client certificate",
        "description": "Path of a client certificate (PEM) for mutual TLS, readable on the workers and triggerers.",
        "schema": {"type": ["string", "null"]},
    },
    "cert_key": {
        "label": "Client certificate key",
        "description": "Path of the client certificate's private key, if it is not in the certificate file.",
        "schema": {"type": ["string", "null"]},
    },
    "allow_insecure_http": {
        "label": "Allow plain http",
        "description": "true to send the key over plain http:// to a host other than this machine (an emulator "
        "on a test host). Plain http is otherwise refused, except to loopback.",
        # A string like "verify", so the form renders one text input; the hook also takes JSON true.
        "schema": {"type": ["string", "null"]},
    },
}


def _connection_type(conn_type: str, hook: str, hook_name: str, base_url: str) -> dict[str, Any]:
    return {
        "connection-type": conn_type,
        "hook-class-name": f"{PACKAGE}.hooks.{hook}",
        "hook-name": hook_name,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "login"],
            "relabeling": {"password": "API key", "host": "API base URL"},
            "placeholders": {
                "host": base_url,
                "password": KEY_PLACEHOLDERS[base_url],
                "extra": '{"timeout": 30, "max_retries": 4}',
            },
        },
        "conn-fields": CONN_FIELDS,
    }


def build_provider_info() -> dict[str, Any]:
    """The dict behind ``get_provider_info()``; a test validates it against Airflow's schema."""
    return {
        "package-name": "airflow-provider-projects",
        "name": "Projects (Gcore Cloud and GC AI)",
        "description": "Replace Gcore Cloud projects, update GC AI projects and wait for Gcore task locks.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "Gcore Cloud", "external-doc-url": "https://api.gcore.com/docs/cloud"},
            {"integration-name": "GC AI", "external-doc-url": "https://docs.gc.ai/api-reference"},
        ],
        "hooks": [
            {"integration-name": "Gcore Cloud", "python-modules": [f"{PACKAGE}.hooks.gcore"]},
            {"integration-name": "GC AI", "python-modules": [f"{PACKAGE}.hooks.gcai"]},
        ],
        "operators": [
            {"integration-name": "Gcore Cloud", "python-modules": [f"{PACKAGE}.operators.gcore"]},
            {"integration-name": "GC AI", "python-modules": [f"{PACKAGE}.operators.gcai"]},
        ],
        "sensors": [{"integration-name": "Gcore Cloud", "python-modules": [f"{PACKAGE}.sensors.gcore"]}],
        "triggers": [
            {
                "integration-name": "Gcore Cloud",
                "python-modules": [f"{PACKAGE}.triggers.gcore", f"{PACKAGE}.triggers.gcore_events"],
            }
        ],
        "extra-links": [
            f"{PACKAGE}.links.GcoreProjectLink",
            f"{PACKAGE}.links.GcaiProjectLink",
        ],
        "connection-types": [
            _connection_type("gcore", "gcore.GcoreHook", "Gcore Cloud", GCORE_BASE_URL),
            _connection_type("gcai", "gcai.GcaiHook", "GC AI", GCAI_BASE_URL),
        ],
    }
