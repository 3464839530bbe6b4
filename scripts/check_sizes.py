"""Fail when a module of the provider or the emulator passes 300 lines, or a function 40.

A room with more than one job grows; these bounds (docs/architecture.md) make it show in CI
instead of in a review a year later. Usage: ``python scripts/check_sizes.py`` (run by test.sh).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (ROOT / "airflow_provider_projects", ROOT / "emulator" / "projects_emulator")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 40


def problems() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            source = path.read_text()
            name = path.relative_to(ROOT)
            if (lines := len(source.splitlines())) > MAX_MODULE_LINES:
                found.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES}): split it by job")
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    size = (node.end_lineno or node.lineno) - node.lineno + 1
                    if size > MAX_FUNCTION_LINES:
                        found.append(
                            f"{name}:{node.lineno}: {node.name}() is {size} lines (at most {MAX_FUNCTION_LINES})"
                        )
    return found


if __name__ == "__main__":
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    sys.exit(1 if found else 0)
