"""Mutation testing: mutmut on each module of ``scripts/mutate-modules.txt``, against its own tests.

Each module runs in a scratch copy of the repo (mutmut works in ``./mutants`` of its working
directory; the checkout stays untouched and two runs never share state), with only that module
mutated and only the suites that mirror it selected. Then the mutants of
``scripts/mutate-by-hand.txt`` for that module (what mutmut cannot mutate: module-level constants,
decorated functions) are applied one at a time to the copy and judged by the same suites. Prints
the kill rate per module and overall, then every survivor as ``file:line`` with the line before
and after the mutation.

Usage (through ``scripts/mutate.sh``, which installs mutmut first)::

    .venv/bin/python scripts/mutate.py [module ...]   # e.g. _http/wire.py waiting.py; none: all

Environment: ``MUTATE_JOBS`` (parallel mutants, default 2), ``MUTATE_KEEP=1`` (keep the scratch
copies and print where they are, to rerun ``mutmut show/browse`` there).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "airflow_provider_projects"
MODULES = REPO / "scripts" / "mutate-modules.txt"
BY_HAND = REPO / "scripts" / "mutate-by-hand.txt"
#: A test that runs for more than this under a mutant is hung by it (the slowest unit or
#: reliability test takes about 1 s alone, a few on a loaded 2-core machine).
TEST_TIMEOUT_S = 60
#: mutmut's own bound, in CPU seconds per mutant: (tests' clean time + constant) x multiplier x 2.
#: It catches a mutant that spins (a loop in virtual time never sleeps, so never times out by wall clock).
TIMEOUT_MULTIPLIER = 5
TIMEOUT_CONSTANT = 3
#: mutmut's exit codes per mutant: detected (killed, or stopped for taking too long) or not.
DETECTED = {1, 3, 24, -24, 36, 152, 255}
NO_TESTS = {5, 33}


@dataclass
class Result:
    module: str
    total: int = 0
    detected: int = 0
    survivors: list[str] = field(default_factory=list)

    def rate(self) -> str:
        return f"{100 * self.detected / self.total:.1f}%" if self.total else "n/a"


def read_modules() -> dict[str, list[str]]:
    """``module -> mirrored test paths`` from the modules file (comments and blank lines skipped)."""
    modules = {}
    for line in MODULES.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            modules[words[0]] = words[1:]
    return modules


def read_by_hand() -> dict[str, list[tuple[str, str]]]:
    """``module -> [(text, mutated text), ...]`` from the by-hand file."""
    mutants: dict[str, list[tuple[str, str]]] = {}
    for line in BY_HAND.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            module, _, change = line.partition(" :: ")
            before, _, after = change.partition(" => ")
            mutants.setdefault(module.strip(), []).append((before, after))
    return mutants


def scratch_copy(work: Path) -> None:
    """The repo's files (tracked or new, never ignored) in ``work``, and ``../shared`` beside it and
    beside ``work/mutants`` (where mutmut runs the tests: their ``REPO.parent / "shared"``)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, (raw.decode() for raw in listed)):
        source = REPO / name
        if source.is_file():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    shared = REPO.parent / "shared"
    if shared.is_dir():
        for beside in (work.parent, work):
            (beside / "shared").symlink_to(shared.resolve())


def write_config(work: Path, module: str, tests: list[str]) -> None:
    """mutmut's ``[mutmut]`` section in ``setup.cfg`` (read because pyproject.toml has no ``[tool.mutmut]``)."""
    also_copy = sorted(p.name for p in work.iterdir() if p.name not in (PACKAGE, "shared", "setup.cfg"))
    lines = [
        "[mutmut]",
        f"source_paths = {PACKAGE}",
        f"only_mutate = {PACKAGE}/{module}",
        "also_copy =",
        *(f"    {name}" for name in also_copy),
        "pytest_add_cli_args_test_selection =",
        *(f"    {test}" for test in tests),
        "pytest_add_cli_args =",
        *(f"    {arg}" for arg in ("-p", "no:cacheprovider", f"--timeout={TEST_TIMEOUT_S}")),
        f"timeout_multiplier = {TIMEOUT_MULTIPLIER}",
        f"timeout_constant = {TIMEOUT_CONSTANT}",
        "use_git_change_detection = false",
        # Each mutant runs in a child forked from a process that never ran a test: one forked from
        # mutmut's main process inherits the thread pools Airflow's async connection read used
        # there, whose threads do not survive a fork, and a test that reads a connection hangs
        # until its timeout, which would count as a kill.
        "process_isolation = forkserver",
    ]
    (work / "setup.cfg").write_text("\n".join(lines) + "\n")


def run_mutmut(work: Path, module: str, log: Path) -> int:
    jobs = os.environ.get("MUTATE_JOBS", "2")
    mutmut = Path(sys.executable).with_name("mutmut")
    print(f"== mutate: {module} (log: {log})", flush=True)
    with log.open("w") as out:
        done = subprocess.run(
            [str(mutmut), "run", "--max-children", jobs], check=False, cwd=work, stdout=out, stderr=subprocess.STDOUT
        )
    return done.returncode


def survivor_line(work: Path, module: str, name: str) -> str:
    """``path:line  before -> after`` for one surviving mutant, from mutmut's diff of its function."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    path = f"{PACKAGE}/{module}"
    cwd = Path.cwd()
    os.chdir(work)
    try:
        diff = get_diff_for_mutant(name, path=path)
    finally:
        os.chdir(cwd)
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    line = _line_of(REPO / path, name, removed[0] if removed else "")
    before = " / ".join(text.strip() for text in removed) or "(nothing)"
    after = " / ".join(text.strip() for text in added) or "(removed)"
    return f"{path}:{line}  {before}  ->  {after}  [{name.rsplit('.', 1)[-1]}]"


def _line_of(path: Path, mutant: str, text: str) -> int | str:
    """The line of ``text`` in the mutated function (found by class and name in the original source)."""
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    function, class_name = orig_function_and_class_names_from_key(mutant)
    tree = ast.parse(source := path.read_text())
    scope = next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == class_name), tree)
    start = 1
    for node in ast.walk(scope):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            break
    lines = source.splitlines()
    for number in range(start, len(lines) + 1):
        if text and lines[number - 1].strip() == text.strip():
            return number
    return f"{start} (in {function})"


def judge(work: Path, module: str) -> Result:
    result = Result(module)
    meta = work / "mutants" / PACKAGE / f"{module}.meta"
    if not meta.exists():
        return result
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    for name, code in sorted(codes.items()):
        result.total += 1
        if code in DETECTED:
            result.detected += 1
        else:
            status = "not reached by its tests" if code in NO_TESTS else f"exit {code}"
            result.survivors.append(f"{survivor_line(work, module, name)}  ({status})")
    return result


def by_hand(work: Path, module: str, tests: list[str], result: Result) -> None:
    """Apply each by-hand mutant of ``module`` to the copy in turn; a mutant survives if its tests pass."""
    path = work / PACKAGE / module
    original = path.read_text()
    for before, after in read_by_hand().get(module, []):
        where = f"{PACKAGE}/{module}:{original[: original.find(before)].count(chr(10)) + 1}"
        if original.count(before) != 1:
            result.survivors.append(
                f"{PACKAGE}/{module}: by hand: {before!r} is not in it exactly once (update {BY_HAND.name})"
            )
            continue
        path.write_text(original.replace(before, after))
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-x",
                    "-p",
                    "no:cacheprovider",
                    f"--timeout={TEST_TIMEOUT_S}",
                    *tests,
                ],
                check=False,
                cwd=work,
                env={**os.environ, "PYTHONPATH": str(work)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        finally:
            path.write_text(original)
        result.total += 1
        if done.returncode == 1:
            result.detected += 1
        else:
            result.survivors.append(
                f"{where}  {before.strip()}  ->  {after.strip()}  [by hand]  (exit {done.returncode})"
            )


def mutate(module: str, tests: list[str]) -> Result:
    scratch = Path(tempfile.mkdtemp(prefix="mutate-"))
    work = scratch / "repo"
    try:
        scratch_copy(work)
        write_config(work, module, tests)
        log = scratch / "mutmut.log"
        code = run_mutmut(work, module, log)
        result = judge(work, module)
        if code != 0 or result.total == 0:
            print(f"mutmut failed on {module} (exit {code}); its output ends:", file=sys.stderr)
            print("\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
            result.survivors.append(f"{PACKAGE}/{module}: mutmut failed (exit {code})")
        by_hand(work, module, tests, result)
        return result
    finally:
        if os.environ.get("MUTATE_KEEP"):
            print(f"   kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def report(results: list[Result]) -> None:
    print("\n== kill rate per module (killed or timed out / mutants)")
    for result in results:
        print(f"{result.module:28} {result.detected:4}/{result.total:<4} {result.rate():>7}")
    overall = Result("overall", sum(r.total for r in results), sum(r.detected for r in results))
    print(f"{overall.module:28} {overall.detected:4}/{overall.total:<4} {overall.rate():>7}")
    survivors = [line for result in results for line in result.survivors]
    print(f"\n== survivors ({len(survivors)})")
    print("\n".join(survivors) if survivors else "none")


def main(argv: list[str]) -> int:
    modules = read_modules()
    chosen = argv or list(modules)
    unknown = [name for name in chosen if name not in modules]
    if unknown:
        print(f"unknown module(s) {unknown}; known: {' '.join(modules)}", file=sys.stderr)
        return 2
    results = []
    for module in chosen:
        results.append(mutate(module, modules[module]))
        report(results[-1:])
    if len(results) > 1:
        report(results)
    return 0 if all(not r.survivors for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
