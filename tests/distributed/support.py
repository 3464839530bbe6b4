"""What the scenarios share: reading writes out of the emulator's journal, naming runs."""

from __future__ import annotations

import uuid
from typing import Any

#: The methods that change a Gcore project: PATCH (the replace's default), PUT (``method="PUT"`` or ``"auto"``).
WRITE_METHODS = ("PATCH", "PUT")


def gcore_writes(emu: Any, project_id: int) -> list[Any]:
    """Every write the Gcore API received for one project, oldest first."""
    path = f"/cloud/v1/projects/{project_id}"
    found = [r for method in WRITE_METHODS for r in emu.requests(api="gcore", method=method, path=path)]
    return sorted(found, key=lambda r: r.time)


def gcai_writes(emu: Any, project_id: str) -> list[Any]:
    """Every PATCH the GC AI API received for one project (refused ones included), oldest first."""
    return emu.requests(api="gcai", method="PATCH", path=f"/projects/{project_id}")


def writes_per_project(counts: list[int]) -> dict[int, int]:
    """``{writes: how many projects got that many}``, the figure the closing note reports."""
    histogram: dict[int, int] = {}
    for count in counts:
        histogram[count] = histogram.get(count, 0) + 1
    return dict(sorted(histogram.items()))


def run_id(scenario: str) -> str:
    return f"{scenario}-{uuid.uuid4().hex[:8]}"


def add_gcore_projects(emu: Any, prefix: str, count: int) -> list[int]:
    """``count`` fresh Gcore projects, named ``<prefix>-000-old`` and on."""
    return [emu.add_gcore_project(f"{prefix}-{i:03d}-old", description="before") for i in range(count)]


def replace_targets(project_ids: list[int], prefix: str) -> list[dict[str, Any]]:
    """The DAG's conf targets: a new, unique name and a description per project."""
    return [
        {"project_id": pid, "name": f"{prefix}-{i:03d}-new", "description": f"replaced by {prefix}"}
        for i, pid in enumerate(project_ids)
    ]
