"""Helpers shared by the benchmark sections: statistics, printing, and the scratch Airflow home."""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parent
PYTHON: Final = sys.executable


def prepare_airflow_env() -> Path:
    """Point AIRFLOW_HOME at a scratch directory (inherited by every child process), once."""
    home = os.environ.get("BENCH_AIRFLOW_HOME")
    if home is None:
        home = tempfile.mkdtemp(prefix="bench-airflow-home-")
        atexit.register(shutil.rmtree, home, ignore_errors=True)  # children inherit it; the parent removes it
        os.environ["BENCH_AIRFLOW_HOME"] = home
        os.environ["AIRFLOW_HOME"] = home
        os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(home) / "dags")
    return Path(home)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def iqr(values: Sequence[float]) -> str:
    """``[p25 .. p75]`` of the values, two decimals."""
    return f"[{quantile(values, 0.25):.2f} .. {quantile(values, 0.75):.2f}]"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def heading(title: str) -> None:
    print()
    print(title)
    print("-" * len(title))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain-text table with left-aligned columns."""
    # A short row (a measurement that could not run says so in its first cells) is padded.
    cells = [[str(c) for c in header], *[[str(c) for c in row] + [""] * (len(header) - len(row)) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
