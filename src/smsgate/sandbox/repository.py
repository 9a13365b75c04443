"""Queries of the simulated carrier (its inbox and owed receipts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import is_postgres
from smsgate.db.models import SandboxMessage


async def store_submission(session: AsyncSession, **values: Any) -> str:
    """Insert, or on a resubmission of the same ``sms_id`` count it; return the carrier id."""
    insert = pg_insert if is_postgres(session) else sqlite_insert
    stmt = (
        insert(SandboxMessage)
        .values(submit_count=1, **values)
        .on_conflict_do_update(
            index_elements=["sms_id"],
            set_={"submit_count": SandboxMessage.submit_count + 1},
        )
        .returning(SandboxMessage.vendor_message_id)
    )
    return str((await session.execute(stmt)).scalar_one())


async def claim_due_receipts(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[Row[str, str, str, str | None]]:
    due = (
        select(SandboxMessage.id)
        .where(SandboxMessage.receipt_due_at <= now)
        .order_by(SandboxMessage.receipt_due_at)
        .limit(limit)
    )
    if is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    result = await session.execute(
        update(SandboxMessage)
        .where(SandboxMessage.id.in_(due.scalar_subquery()))
        .values(receipt_due_at=None)
        .returning(
            SandboxMessage.sms_id,
            SandboxMessage.vendor_message_id,
            SandboxMessage.receipt_status,
            SandboxMessage.receipt_error_code,
        )
    )
    return result.all()


async def inbox(
    session: AsyncSession, project_id: str, *, to: str | None, after: int | None, limit: int
) -> list[SandboxMessage]:
    query = select(SandboxMessage).where(
        SandboxMessage.project_id == project_id, SandboxMessage.receipt_status == "delivered"
    )
    if to:
        query = query.where(SandboxMessage.to == to)
    if after is not None:
        query = query.where(SandboxMessage.id < after)
    return list(await session.scalars(query.order_by(SandboxMessage.id.desc()).limit(limit + 1)))
