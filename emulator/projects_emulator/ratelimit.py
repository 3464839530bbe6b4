"""A sliding-window rate limiter keyed by organisation, as GC AI applies to its endpoints.

Sliding window log: a request is allowed when fewer than ``limit`` requests were allowed in the
last ``window`` seconds. Refused requests are not counted, so a client that honours
``Retry-After`` gets through as soon as the oldest request leaves the window.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    """The limiter's verdict for one request, with the numbers for the ``RateLimit-*`` headers."""

    allowed: bool
    limit: int
    remaining: int
    #: Whole seconds until the window frees a slot (at least 1 while a slot is in use).
    reset: int

    def headers(self) -> dict[str, str]:
        """Return the headers to send; ``Retry-After`` only on a refusal."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset)
        return headers


class SlidingWindowLimiter:
    """Allow ``limit`` requests per ``window`` seconds per key, on the caller's clock readings."""

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("rate limit needs limit >= 1 and window_seconds > 0")
        self.limit = limit
        self.window = float(window)
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float) -> RateDecision:
        """Count a request for ``key`` at clock reading ``now`` if the window has room."""
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        allowed = len(hits) < self.limit
        if allowed:
            hits.append(now)
        reset = max(1, math.ceil(hits[0] + self.window - now)) if hits else 0
        return RateDecision(allowed=allowed, limit=self.limit, remaining=max(0, self.limit - len(hits)), reset=reset)
