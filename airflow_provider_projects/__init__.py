"""Airflow provider for Gcore Cloud and GC AI projects.

Imported on every DAG parse (through the provider entry point and the operator modules), so this
module defines only the version and a function that builds the provider info on demand.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """Describe this provider to Airflow's providers manager (the `apache_airflow_provider` entry point)."""
    from airflow_provider_projects.provider_info import build_provider_info

    return build_provider_info()
