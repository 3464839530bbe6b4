"""Our two connection types as the UI tests see them: labels, defaults and the emulator's URL and key."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from airflow_provider_projects.provider_info import GCAI_BASE_URL, GCORE_BASE_URL
from projects_emulator import ProjectsEmulator


@dataclass(frozen=True)
class ConnType:
    conn_type: str
    hook_name: str
    default_base_url: str
    #: What ``test_connection()`` calls (path without the API's base prefix), for the journal.
    test_path: str

    def url(self, emu: ProjectsEmulator) -> str:
        return emu.gcore_url if self.conn_type == "gcore" else emu.gcai_url

    def key(self, emu: ProjectsEmulator) -> str:
        return emu.gcore_key if self.conn_type == "gcore" else emu.gcai_org_key

    def wrong_key(self) -> str:
        # Shaped like a real key of the type, so only the server's refusal makes the test fail.
        return "emu-gcore-key-WRONG-7c41" if self.conn_type == "gcore" else "gcai_WRONG_key_7c41"


GCORE = ConnType("gcore", "Gcore Cloud", GCORE_BASE_URL, "/cloud/v1/projects")
GCAI = ConnType("gcai", "GC AI", GCAI_BASE_URL, "/me")
CONN_TYPES = [pytest.param(GCORE, id="gcore"), pytest.param(GCAI, id="gcai")]
