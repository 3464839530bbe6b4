"""``ProjectsEmulator``'s GC AI controls: projects and the organisation's rate limit."""

from __future__ import annotations

from typing import Any, Unpack

from projects_emulator.backend import Backend
from projects_emulator.gcai_state import GcaiProjectFields


class GcaiControls:
    """The GC AI half of ``ProjectsEmulator`` (see the package docstring for a tour)."""

    _backend: Backend

    def gcai_project(self, project_id: str) -> dict[str, Any]:
        """Snapshot of a GC AI project as an organisation key sees it (``my_access_level`` null)."""
        with self._backend.lock:
            return self._backend.gcai.projects[project_id.lower()].to_json(None)

    def add_gcai_project(self, name: str, **fields: Unpack[GcaiProjectFields]) -> str:
        """Create a GC AI project and return its id.

        Keywords: ``description``, ``custom_instructions``, ``access_controlled`` (only keys with a
        grant see it), ``user_access`` (the personal key's grant: read, write or admin) and
        ``project_id`` (a fixed UUID).
        """
        with self._backend.lock:
            return self._backend.gcai.add_project(name, **fields).id

    def delete_gcai_project(self, project_id: str) -> None:
        """Delete a GC AI project for good (404 afterwards)."""
        with self._backend.lock:
            self._backend.gcai.delete_project(project_id.lower())

    def set_gcai_rate_limit(self, limit: int | None, window_seconds: float = 60.0) -> None:
        """Limit GC AI to ``limit`` requests per ``window_seconds`` per organisation; None: no limit."""
        self._backend.set_rate_limit(None if limit is None else (limit, window_seconds))
