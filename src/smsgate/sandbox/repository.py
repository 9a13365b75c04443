"""Queries of the simulated carrier (its inbox and owed receipts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import is_postgres, upsert_insert
from smsgate.db.models import SandboxMessage


async def store_submissions(
    session: AsyncSession, submissions: Sequence[dict[str, Any]]
) -> list[str]:
    """Insert many in one statement; a resubmitted ``sms_id`` is counted, not stored again.

    Returns the carrier id of each submission, in order.
    """
    insert = upsert_insert(session)
    # One statement may not touch a row twice: fold repeats of an sms_id in this batch.
    unique = {s["sms_id"]: s for s in submissions}
    extra = {sms_id: -1 for sms_id in unique}
    for s in submissions:
        extra[s["sms_id"]] += 1
    rows = [{**s, "submit_count": 1 + extra[sms_id]} for sms_id, s in unique.items()]
    upsert = insert(SandboxMessage).values(rows)
    stmt = upsert.on_conflict_do_update(
        index_elements=["sms_id"],
        set_={"submit_count": SandboxMessage.submit_count + upsert.excluded.submit_count},
    ).returning(SandboxMessage.sms_id, SandboxMessage.vendor_message_id)
    ids = {row.sms_id: row.vendor_message_id for row in (await session.execute(stmt)).all()}
    return [ids[s["sms_id"]] for s in submissions]


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
