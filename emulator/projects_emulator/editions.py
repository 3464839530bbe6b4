"""Which edition of Gcore's published spec the emulator follows, and what differs between them.

Gcore deprecated ``PUT /cloud/v1/projects/{id}`` in 2025-12. The 2026-05 spec edition still lists
it (``services_documented`` in the reference extracts); the 2026-08 edition, the current one, no
longer does (``services_docs_mintlify_enriched``). Everything else the emulator serves is the same
in both, so the edition is a single switch rather than two emulators.
"""

from __future__ import annotations

from typing import Literal

Edition = Literal["2026-05", "2026-08"]
EDITIONS: tuple[Edition, ...] = ("2026-05", "2026-08")
#: The edition Gcore publishes today, and the emulator's default.
CURRENT: Edition = "2026-08"
#: The extract of each edition in ``gcore-cloud-openapi-projects-tasks.json``.
SPEC_KEYS: dict[Edition, str] = {"2026-05": "services_documented", "2026-08": "services_docs_mintlify_enriched"}


def edition(value: str) -> Edition:
    """Check a user-supplied edition name and return it typed."""
    if value not in EDITIONS:
        raise ValueError(f"edition must be one of {', '.join(EDITIONS)}, not {value!r}")
    return value


def gcore_put_allowed(value: Edition) -> bool:
    """True when the edition still documents PUT on a project (answered 405 otherwise)."""
    return value == "2026-05"
