"""Every reading of the clock, every pause and the random part of backoff go through here.

One seam for time and chance: production code calls ``_clock.now()``, ``_clock.sleep()``,
``_clock.asleep()`` and ``_clock.jitter()`` through the module, so a test replaces time itself
(see ``tests/fakes.py``) instead of threading clocks through production signatures.
"""

from __future__ import annotations

import asyncio
import random
import time


def now() -> float:
    """Wall-clock seconds since the epoch: deadlines cross processes, so they are absolute."""
    return time.time()


def sleep(seconds: float) -> None:
    """Block the worker for ``seconds``."""
    time.sleep(seconds)


async def asleep(seconds: float) -> None:
    """Pause this coroutine for ``seconds`` (the event loop runs others meanwhile)."""
    await asyncio.sleep(seconds)


def jitter() -> float:
    """A number in [0, 1): spreads retries of mapped tasks that hit one limit together."""
    return random.random()
