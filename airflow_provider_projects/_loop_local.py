"""What the triggers of one event loop share, kept per loop in one way: nothing outlives its loop.

A triggerer runs every deferred wait of a deployment in one event loop, so a few things are
worth making once per loop and sharing: the aiohttp session (``_http/aio.py``), the polls that
waits join (``polling/driver.py``) and the hooks the triggers read connections with
(``triggers/_hooks.py``). Each is a :class:`LoopLocal`; a loop that ends takes its values with it
(the registry holds loops weakly), and a loop made later, as tests do, starts afresh.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class LoopLocal(Generic[V]):
    """One value per running event loop, made by ``factory`` on first use in that loop."""

    def __init__(self, factory: Callable[[], V]) -> None:
        self._factory = factory
        self._values: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, V] = weakref.WeakKeyDictionary()

    def get(self) -> V:
        """The running loop's value (call from inside the loop)."""
        loop = asyncio.get_running_loop()
        try:
            return self._values[loop]
        except KeyError:
            value = self._values[loop] = self._factory()
            return value
