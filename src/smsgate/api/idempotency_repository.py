"""Queries on the idempotency table (dialect-specific upsert lives here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import upsert_insert
from smsgate.db.models import IdempotencyKey


async def reserve(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert an in-progress row unless the key exists. True if this call made it."""
    insert = upsert_insert(session)
    stmt = (
        insert(IdempotencyKey)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["project_id", "key"])
        .returning(IdempotencyKey.key)
    )
    return (await session.execute(stmt)).first() is not None


async def get(session: AsyncSession, project_id: str, key: str) -> IdempotencyKey | None:
    return await session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.project_id == project_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    )


async def take_over(
    session: AsyncSession, project_id: str, key: str, values: dict[str, Any]
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.project_id == project_id, IdempotencyKey.key == key)
        .values(**values)
    )


async def complete(
    session: AsyncSession, project_id: str, key: str, token: datetime, status: int, body: Any
) -> bool:
    """Store the answer if the reservation is still ours (its lock time is our token)."""
    result = await session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.project_id == project_id,
            IdempotencyKey.key == key,
            IdempotencyKey.state == "in_progress",
            IdempotencyKey.locked_until == token,
        )
        .values(state="done", response_status=status, response_body=body, locked_until=None)
        .returning(IdempotencyKey.key)
    )
    return result.first() is not None


async def release(session: AsyncSession, project_id: str, key: str, token: datetime) -> None:
    """Give up our reservation: only while it is still ours (a request that took the key
    over after our lock ran out keeps it) and not done."""
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.project_id == project_id,
            IdempotencyKey.key == key,
            IdempotencyKey.state == "in_progress",
            IdempotencyKey.locked_until == token,
        )
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at < now).returning(IdempotencyKey.key)
    )
    return len(result.all())
