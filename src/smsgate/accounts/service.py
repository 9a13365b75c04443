"""Projects and keys: creation, bootstrap of an empty database, revocation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.accounts import repository
from smsgate.accounts.keys import PERMISSIONS, generate_key, normalise_permissions
from smsgate.db.models import ApiKey, Project
from smsgate.db.types import utcnow
from smsgate.errors import NotFound
from smsgate.ids import new_id


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str

    def __repr__(self) -> str:
        return f"CreatedKey(id={self.key.id!r}, hint={self.key.key_hint!r})"


async def create_project(session: AsyncSession, name: str) -> Project:
    project = Project(id=new_id("prj"), name=name, created_at=utcnow())
    session.add(project)
    await session.flush()
    return project


async def create_key(
    session: AsyncSession, project_id: str, name: str, permissions: list[str] | tuple[str, ...]
) -> CreatedKey:
    if await repository.get_project(session, project_id) is None:
        raise NotFound(f"No project {project_id}.")
    made = generate_key()
    key = ApiKey(
        id=new_id("key"),
        project_id=project_id,
        name=name,
        key_hash=made.hash,
        key_hint=made.hint,
        permissions=normalise_permissions(permissions),
        created_at=utcnow(),
        revoked_at=None,
    )
    session.add(key)
    await session.flush()
    return CreatedKey(key=key, secret=made.secret)


async def bootstrap(session: AsyncSession, project_name: str = "default") -> CreatedKey | None:
    """On an empty database, make the default project and an admin key. Else do nothing."""
    if await repository.count_projects(session) > 0:
        return None
    project = await create_project(session, project_name)
    return await create_key(session, project.id, "admin (bootstrap)", PERMISSIONS)


async def admin_key_for_first_project(session: AsyncSession, name: str) -> CreatedKey:
    """``smsgate init``: a new admin key on the first project, creating it if needed."""
    project = await repository.first_project(session)
    if project is None:
        project = await create_project(session, "default")
    return await create_key(session, project.id, name, PERMISSIONS)


async def revoke_key(session: AsyncSession, key_id: str) -> None:
    if not await repository.revoke_key(session, key_id, utcnow()):
        raise NotFound(f"No active key {key_id}.")
