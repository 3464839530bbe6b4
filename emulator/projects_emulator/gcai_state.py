"""GC AI state: one organisation, its two API keys, and its projects with per-user access.

Access follows the spec: an organisation key (``gcai_...``) sees and writes only projects that
are not access-controlled; a personal key (``u:gcai_...``) also sees access-controlled projects it
holds a grant on, and writes those where the grant is ``write`` or ``admin``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack

from projects_emulator.common import check_keywords
from projects_emulator.timeline import Timeline, js_iso

AccessLevel = Literal["read", "write", "admin"]
ACCESS_LEVELS: tuple[AccessLevel, ...] = ("read", "write", "admin")

ORG_KEY = "gcai_emulator_org_key"
USER_KEY = "u:gcai_emulator_user_key"
# The spec does not publish CallerOrganization; an integer id like the user's is assumed.
ORGANIZATION_ID = 4242
ORGANIZATION_NAME = "Emulated Organisation"
USER_ID = 7
USER_EMAIL = "emulated.user@example.com"

#: Seeded projects: (id, name, description, custom_instructions, access_controlled, user's grant).
SEED_PROJECTS: tuple[tuple[str, str, str | None, str | None, bool, AccessLevel | None], ...] = (
    (
        "3c90c3cc-0d44-4b50-8888-8dd25736052a",
        "Vendor: Acme MSA",
        "Master services agreement with Acme",
        "Cite clause numbers.",
        False,
        "admin",
    ),
    ("5b0e6f64-1c1d-4a8e-9f57-2f3b9d2c7a11", "Board minutes 2026", None, None, False, None),
    ("8d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "Litigation hold", "Privileged", None, True, "admin"),
    ("a7e4c2d9-6b1f-4f3a-9c8e-5d2b1a0f9e37", "HR policies", None, None, True, "read"),
)
_HOUR = 3_600.0


@dataclass(frozen=True)
class ApiKey:
    """An API key the emulator accepts and the identity it resolves to (``GET /me``)."""

    key: str
    token_type: Literal["organization", "user"]
    api_key_id: str
    user_id: int | None

    def identity(self) -> dict[str, Any]:
        """Serialise as the API's ``CallerIdentityResponse``."""
        return {
            "token_type": self.token_type,
            "api_key_id": self.api_key_id,
            "organization": {"id": ORGANIZATION_ID, "name": ORGANIZATION_NAME},
            "user": {"id": self.user_id, "email": USER_EMAIL} if self.user_id is not None else None,
        }


DEFAULT_KEYS = (
    ApiKey(ORG_KEY, "organization", "key_emu_org_0001", None),
    ApiKey(USER_KEY, "user", "key_emu_user_0001", USER_ID),
)


@dataclass
class GcaiProject:
    """A GC AI project; ``grants`` maps user id to access level; times are epoch seconds."""

    id: str
    name: str
    description: str | None
    custom_instructions: str | None
    is_access_controlled: bool
    created_at: float
    updated_at: float
    grants: dict[int, AccessLevel] = field(default_factory=dict)

    def access_level(self, key: ApiKey | None) -> AccessLevel | None:
        """The caller's recorded grant; always None for organisation keys (no user identity)."""
        return None if key is None or key.user_id is None else self.grants.get(key.user_id)

    def visible_to(self, key: ApiKey) -> bool:
        """Tell whether the key may read the project (else the API answers 404)."""
        return not self.is_access_controlled or self.access_level(key) is not None

    def writable_by(self, key: ApiKey) -> bool:
        """Tell whether the key may PATCH the project (else 404: "not found or no write access")."""
        return not self.is_access_controlled or self.access_level(key) in ("write", "admin")

    def to_json(self, key: ApiKey | None) -> dict[str, Any]:
        """Serialise as the API's ``ProjectResponse`` as seen by ``key``."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "custom_instructions": self.custom_instructions,
            "is_access_controlled": self.is_access_controlled,
            "my_access_level": self.access_level(key),
            "created_at": js_iso(self.created_at),
            "updated_at": js_iso(self.updated_at),
        }


class GcaiProjectFields(TypedDict, total=False):
    """What a new GC AI project may be given (``add_gcai_project``'s keyword arguments)."""

    description: str | None
    custom_instructions: str | None
    #: True: only keys with a grant see it (the organisation key never does).
    access_controlled: bool
    #: The personal key's grant on it (read, write, admin), or None for no grant.
    user_access: AccessLevel | None
    #: A fixed UUID instead of a fresh one.
    project_id: str | None


class GcaiStore:
    """Keys and projects of the one emulated organisation (callers hold the emulator's lock)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.keys: dict[str, ApiKey] = {}
        self.projects: dict[str, GcaiProject] = {}
        self.seed()

    def seed(self) -> None:
        """Forget everything and load the default keys and seeded projects."""
        self.keys = {k.key: k for k in DEFAULT_KEYS}
        self.projects.clear()
        start = self.timeline.epoch()
        for age, (pid, name, description, instructions, controlled, grant) in enumerate(reversed(SEED_PROJECTS)):
            self.add_project(
                name,
                created_at=start - (age + 1) * _HOUR,
                project_id=pid,
                description=description,
                custom_instructions=instructions,
                access_controlled=controlled,
                user_access=grant,
            )

    def add_project(
        self, name: str, *, created_at: float | None = None, **fields: Unpack[GcaiProjectFields]
    ) -> GcaiProject:
        """Create a project (created now, or at epoch ``created_at``) and return it."""
        check_keywords(fields, GcaiProjectFields.__optional_keys__, "add_gcai_project()")
        project_id = fields.get("project_id")
        pid = str(uuid.UUID(project_id)) if project_id is not None else str(uuid.uuid4())
        if pid in self.projects:
            raise ValueError(f"GC AI project {pid} already exists")
        user_access = fields.get("user_access")
        if user_access is not None and user_access not in ACCESS_LEVELS:
            raise ValueError(f"user_access must be one of {ACCESS_LEVELS} or None")
        created = self.timeline.epoch() if created_at is None else created_at
        project = GcaiProject(
            id=pid,
            name=name,
            description=fields.get("description"),
            custom_instructions=fields.get("custom_instructions"),
            is_access_controlled=fields.get("access_controlled", False),
            created_at=created,
            updated_at=created,
            grants={USER_ID: user_access} if user_access else {},
        )
        self.projects[pid] = project
        return project

    def delete_project(self, project_id: str) -> None:
        """Remove a project (GC AI deletes for good: 404 afterwards)."""
        del self.projects[project_id]

    def write(self, project: GcaiProject, changes: dict[str, Any]) -> None:
        """Apply validated changes and advance ``updated_at``, strictly (1 ms past the last)."""
        for name, value in changes.items():
            setattr(project, name, value)
        project.updated_at = max(self.timeline.epoch(), project.updated_at + 0.001)
