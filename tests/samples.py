"""Sample API bodies and ids shared by the unit tests (shapes from the vendors' OpenAPI extracts)."""

from __future__ import annotations

from typing import Any

GCORE_URL = "https://api.gcore.com"
GCAI_URL = "https://app.gc.ai/api/external/v1"
GCAI_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
TASK_ID = "7244e161-664c-4afd-a34e-7003eac4d949"

GCORE_PROJECT: dict[str, Any] = {
    "id": 42,
    "client_id": 7,
    "name": "analytics",
    "description": None,
    "created_at": "2026-01-01T00:00:00",
    "deleted_at": None,
    "is_default": False,
    "state": "ACTIVE",
    "task_id": None,
}
GCAI_PROJECT: dict[str, Any] = {
    "id": GCAI_ID,
    "name": "Vendor: Acme MSA",
    "description": None,
    "custom_instructions": "Cite the MSA",
    "is_access_controlled": False,
    "my_access_level": None,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-02T00:00:00Z",
}
