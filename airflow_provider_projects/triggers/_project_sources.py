"""What an account's polls read (see ``_project_locks.py``): one project, or pages of the projects list."""

from __future__ import annotations

from collections.abc import Collection, Hashable
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_projects.errors import ProjectsApiError
from airflow_provider_projects.hooks.gcore import project_path
from airflow_provider_projects.models.gcore import GcoreProject, GcoreProjectLock, GcoreProjectsPage
from airflow_provider_projects.triggers._sources import Reader

if TYPE_CHECKING:
    from airflow_provider_projects.triggers._project_locks import Account

#: The most projects one page may hold (the spec's ``limit`` maximum).
PAGE_SIZE: Final = 1000


class ProjectSource:
    """``GET /cloud/v1/projects/{id}`` for the waits on one project; reads the lock holder for them."""

    def __init__(self, account: Account, project_id: int) -> None:
        self._account = account
        self._project_id = project_id
        self._read = Reader(account.hook, project_path(project_id), GcoreProject)

    async def read(self, subjects: Collection[Hashable]) -> dict[Hashable, GcoreProjectLock]:
        return {self._project_id: await self._account.lock_of(await self._read(), read_holder=True)}


class PageSource:
    """Pages of ``GET /cloud/v1/projects`` for every wait of the account, oldest projects first.

    Reading stops at the page that holds the last project waited on (new projects come last, so
    the offsets of the earlier ones stay put). A project on none of the pages is read on its own.
    """

    def __init__(self, account: Account) -> None:
        self._account = account
        self._pages: dict[int, Reader[GcoreProjectsPage]] = {}

    async def read(self, subjects: Collection[Hashable]) -> dict[Hashable, Any]:
        wanted = set(subjects)
        found: dict[Hashable, Any] = {}
        offset = 0
        while wanted - found.keys():
            page = await self._page(offset)()
            self._account.saw_count(page.count)
            for project in page.results:
                if project.id in wanted:
                    found[project.id] = await self._account.lock_of(project, read_holder=False)
            offset += PAGE_SIZE
            if len(page.results) < PAGE_SIZE or offset >= page.count:
                break
        for project_id in wanted - found.keys():
            found[project_id] = await self._alone(project_id)  # type: ignore[arg-type]
        return found

    def _page(self, offset: int) -> Reader[GcoreProjectsPage]:
        reader = self._pages.get(offset)
        if reader is None:
            path = f"/cloud/v1/projects?limit={PAGE_SIZE}&offset={offset}&order_by=created_at.asc"
            reader = self._pages[offset] = Reader(self._account.hook, path, GcoreProjectsPage)
        return reader

    async def _alone(self, project_id: int) -> GcoreProjectLock | ProjectsApiError:
        """A project the pages did not show: deleted, new, or moved between pages while they were read."""
        try:
            project = await Reader(self._account.hook, project_path(project_id), GcoreProject)()
        except ProjectsApiError as error:  # its own waits hear it (a 404 names the project); the others go on
            return error
        return await self._account.lock_of(project, read_holder=False)
