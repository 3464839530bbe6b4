"""``ProjectsEmulator``: both emulated APIs on real local ports, plus the controls tests need."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import Any

from projects_emulator import editions, gcai_state, gcore_state
from projects_emulator.backend import Backend
from projects_emulator.control import ControlApp
from projects_emulator.editions import CURRENT, Edition
from projects_emulator.gcai_api import PREFIX as GCAI_PREFIX
from projects_emulator.gcai_controls import GcaiControls
from projects_emulator.gcore_api import DELETE_SECONDS
from projects_emulator.gcore_controls import GcoreControls
from projects_emulator.listeners import Listen, Listeners, is_loopback
from projects_emulator.request_controls import RequestControls


class ProjectsEmulator(GcoreControls, GcaiControls, RequestControls):
    """Offline Gcore Cloud + GC AI servers on 127.0.0.1; see the package docstring for a tour.

    The controls come from ``GcoreControls``, ``GcaiControls`` and ``RequestControls``; this class
    adds the servers' lifecycle, their addresses and the settings that span both APIs.
    """

    #: Seeded Gcore project ids (1 is the client's default project).
    gcore_project_ids: tuple[int, ...] = tuple(p[0] for p in gcore_state.SEED_PROJECTS)
    #: Seeded GC AI project ids: two org-wide, then two access-controlled (user admin, user read).
    gcai_project_ids: tuple[str, ...] = tuple(p[0] for p in gcai_state.SEED_PROJECTS)
    gcai_org_key: str = gcai_state.ORG_KEY
    gcai_user_key: str = gcai_state.USER_KEY

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        gcore_port: int = 0,
        gcai_port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        edition: str = CURRENT,
        rate_limit: tuple[int, float] | None = None,
        control_port: int | None = None,
        gcore_put_removed: bool | None = None,
    ) -> None:
        if gcore_put_removed is not None:
            edition = _edition_for_put_removed(gcore_put_removed)
        self.host = host
        self._initial = (editions.edition(edition), rate_limit)
        self._backend = Backend(clock, edition=self._initial[0], rate_limit=rate_limit)
        servers = {
            "gcore": Listen(gcore_port, "", self._backend),
            "gcai": Listen(gcai_port, GCAI_PREFIX, self._backend),
        }
        # The control endpoint is for other processes (the ``projects-emulator`` commands); code in
        # this process calls the methods below directly, so it is only served when asked for.
        if control_port is not None:
            servers["control"] = Listen(control_port, "", ControlApp(self))
        self._listeners = Listeners(host, servers)

    @property
    def gcore_key(self) -> str:
        """The Gcore API key the emulator accepts (``Authorization: APIKey <key>``)."""
        return self._backend.gcore_key

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ProjectsEmulator:
        """Bind both ports and serve on daemon threads; returns self."""
        self._listeners.start()
        return self

    def stop(self) -> None:
        """Stop the servers, cut open connections, wake delayed answers and drop stalled ones."""
        self._backend.stalls.drop()
        self._listeners.stop()

    def __enter__(self) -> ProjectsEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._listeners.running

    @property
    def gcore_port(self) -> int:
        """Bound port of the Gcore Cloud server."""
        return self._listeners.port("gcore")

    @property
    def gcai_port(self) -> int:
        """Bound port of the GC AI server."""
        return self._listeners.port("gcai")

    @property
    def gcore_url(self) -> str:
        """Gcore Cloud base URL (routes start with ``/cloud/v1``)."""
        return self._listeners.base_url("gcore")

    @property
    def gcai_url(self) -> str:
        """GC AI base URL, ending in ``/api/external/v1``."""
        return self._listeners.base_url("gcai") + GCAI_PREFIX

    @property
    def control_url(self) -> str | None:
        """Base URL of the control endpoint (see ``control``), or None when not served."""
        return self._listeners.base_url("control") if self._listeners.serves("control") else None

    # -- configuration --------------------------------------------------------------------------
    @property
    def edition(self) -> Edition:
        """The Gcore spec edition served: ``"2026-08"`` (current, no PUT) or ``"2026-05"`` (PUT accepted)."""
        return self._backend.gcore_app.edition

    @edition.setter
    def edition(self, value: str) -> None:
        checked = editions.edition(value)
        with self._backend.lock:
            self._backend.gcore_app.edition = checked

    @property
    def gcore_put_removed(self) -> bool:
        """Deprecated: True when PUT answers 405, i.e. ``edition != "2026-05"``. Set ``edition`` instead."""
        return not editions.gcore_put_allowed(self.edition)

    @gcore_put_removed.setter
    def gcore_put_removed(self, removed: bool) -> None:
        self.edition = _edition_for_put_removed(removed)

    def airflow_connection_env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables (JSON form) pointing the default connections here."""
        gcore: dict[str, Any] = {"conn_type": "gcore", "host": self.gcore_url, "password": self.gcore_key}
        gcai: dict[str, Any] = {"conn_type": "gcai", "host": self.gcai_url, "password": self.gcai_org_key}
        if not is_loopback(self.host):
            # Served with --allow-remote: the hooks refuse plain http off loopback unless told so.
            for conn in (gcore, gcai):
                conn["extra"] = {"allow_insecure_http": True}
        return {"AIRFLOW_CONN_GCORE_DEFAULT": json.dumps(gcore), "AIRFLOW_CONN_GCAI_DEFAULT": json.dumps(gcai)}

    def reset(self) -> None:
        """Back to the start: seeded data, no tasks, faults or journal, constructor settings."""
        edition, rate_limit = self._initial
        with self._backend.lock:
            self._backend.gcore.seed()
            self._backend.gcai.seed()
            self._backend.faults.clear()
            self._backend.journal.clear()
            self._backend.gcore_app.edition = edition
            self._backend.gcore_app.delete_seconds = DELETE_SECONDS
            self._backend.set_rate_limit(rate_limit)
        self._backend.stalls.drop()


def _edition_for_put_removed(removed: bool) -> Edition:
    # ``gcore_put_removed`` predates the edition switch; other code still sets it, so it stays as
    # an alias with a warning rather than breaking it.
    warnings.warn(
        'gcore_put_removed is deprecated: use edition="2026-08" (PUT removed) or edition="2026-05"',
        DeprecationWarning,
        stacklevel=3,
    )
    return "2026-08" if removed else "2026-05"
