"""GC AI answers: ``ProjectResponse`` and ``CallerIdentityResponse``."""

from __future__ import annotations

from airflow_provider_projects.models.base import ApiModel


class GcaiProject(ApiModel):
    """``ProjectResponse``: every field is required; three are nullable."""

    id: str
    name: str
    description: str | None
    custom_instructions: str | None
    is_access_controlled: bool
    my_access_level: str | None
    created_at: str
    updated_at: str


class GcaiOrganization(ApiModel):
    id: int | str
    name: str


class GcaiUser(ApiModel):
    id: int
    email: str | None


class GcaiIdentity(ApiModel):
    """``GET /me``: which kind of key this is and whose."""

    token_type: str
    api_key_id: str
    organization: GcaiOrganization
    user: GcaiUser | None
