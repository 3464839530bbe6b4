"""A ``projects-emulator serve`` child process for the command-line tests, with bounded waits.

Every wait has a deadline and a watchdog kills the child, so a hung emulator fails a test
quickly instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from types import TracebackType
from typing import Any

COMMAND = [sys.executable, "-m", "projects_emulator"]
#: Seconds a child may live at most, and a command may take.
LIFETIME = 60.0
COMMAND_TIMEOUT = 20.0


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one ``projects-emulator`` command to its end."""
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, env=env, check=False
    )


class Served:
    """``projects-emulator serve ARGS`` running until the block ends; ``exports`` as a shell reads them."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._watchdog = threading.Timer(LIFETIME, self.process.kill)
        self._watchdog.start()
        self.banner: list[str] = []
        self.exports: dict[str, str] = {}

    def __enter__(self) -> Served:
        assert self.process.stdout is not None
        for line in self.process.stdout:  # ends at EOF if the child dies: the watchdog bounds it
            self.banner.append(line.rstrip("\n"))
            if line.startswith("export "):
                name, _, value = shlex.split(line.removeprefix("export "))[0].partition("=")
                self.exports[name] = value
            if line.startswith("# Serving"):
                return self
        _, errors = self.process.communicate(timeout=COMMAND_TIMEOUT)
        raise AssertionError(f"serve ended before serving: {errors}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """This process's environment plus the printed exports (what a pasting user has)."""
        return {**os.environ, **self.exports}

    def connection(self, name: str) -> dict[str, Any]:
        """One printed ``AIRFLOW_CONN_*`` value, parsed."""
        value: dict[str, Any] = json.loads(self.exports[name])
        return value

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a control command against this emulator, through the printed env variable."""
        return run(*args, env=self.env)

    def stop(self, stop_signal: signal.Signals = signal.SIGTERM) -> tuple[int, str, str]:
        """Signal the child and collect its exit status and remaining output."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(stop_signal)
            out, errors = self.process.communicate(timeout=COMMAND_TIMEOUT)
            return self.process.returncode, out, errors
        finally:
            self._watchdog.cancel()
            if self.process.poll() is None:
                self.process.kill()
                self.process.communicate()
