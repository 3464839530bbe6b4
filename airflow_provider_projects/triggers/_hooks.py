"""The hooks the triggers of one event loop share: one connection read for many waits.

A triggerer starting ten thousand waits reads each connection once: the triggers of one event
loop share a hook (its connection read, settings and HTTP core) per connection id for
:data:`HOOK_REUSE_SECONDS`, so a changed connection is picked up by waits that start a minute later
at the latest. A wait or a watch whose key was refused calls :func:`forget_hook`, the one way to
read a connection again: the next trigger to ask gets a fresh hook.
"""

from __future__ import annotations

from typing import Final

from airflow_provider_projects import _clock
from airflow_provider_projects._loop_local import LoopLocal
from airflow_provider_projects.hooks.gcore import GcoreHook

HOOK_REUSE_SECONDS: Final = 60.0
_hooks: LoopLocal[dict[str, tuple[float, GcoreHook]]] = LoopLocal(dict)


def trigger_hook(conn_id: str) -> GcoreHook:
    """The running loop's hook for ``conn_id``, shared by the triggers that start within a minute."""
    hooks = _hooks.get()
    now = _clock.now()
    made = hooks.get(conn_id)
    if made is None or now - made[0] > HOOK_REUSE_SECONDS:
        made = hooks[conn_id] = (now, GcoreHook(conn_id))
    return made[1]


def forget_hook(conn_id: str) -> None:
    """Read the connection again for the next trigger: its key was refused (it may be fixed meanwhile)."""
    _hooks.get().pop(conn_id, None)
