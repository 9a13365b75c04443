"""Queries of inbound messages and the parts of long ones still being joined."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import is_postgres, upsert_insert
from smsgate.db.models import InboundMessageRow, InboundPartRow, Message, Project


async def insert_message(session: AsyncSession, row: dict[str, Any]) -> None:
    session.add(InboundMessageRow(**row))
    await session.flush()


async def find_by_vendor_id(
    session: AsyncSession, vendor: str, vendor_message_id: str
) -> str | None:
    return await session.scalar(
        select(InboundMessageRow.id)
        .where(
            InboundMessageRow.vendor == vendor,
            InboundMessageRow.vendor_message_id == vendor_message_id,
        )
        .limit(1)
    )


PART_LIFETIME = timedelta(minutes=10)
"""Parts of one message arrive within seconds; a part older than this belongs to an earlier
message that lost a sibling (its 8-bit reference comes round again), not to this one."""


async def add_part(session: AsyncSession, row: dict[str, Any]) -> None:
    """Store one part; the same part again (a redelivery) is ignored. Parts of the same
    message wait for each other in turn (PostgreSQL: an advisory lock on the key), so two
    concurrent last parts cannot both miss the other."""
    key = f"{row['vendor']}|{row['from_']}|{row['to']}|{row['reference']}|{row['total']}"
    if is_postgres(session):
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
    await session.execute(
        delete(InboundPartRow).where(
            InboundPartRow.vendor == row["vendor"],
            InboundPartRow.from_ == row["from_"],
            InboundPartRow.to == row["to"],
            InboundPartRow.reference == row["reference"],
            InboundPartRow.total == row["total"],
            InboundPartRow.received_at < row["received_at"] - PART_LIFETIME,
        )
    )
    insert = upsert_insert(session)
    await session.execute(
        insert(InboundPartRow)
        .values(**row)
        .on_conflict_do_nothing(
            index_elements=["vendor", "from", "to", "reference", "total", "number"]
        )
    )


async def take_parts_if_complete(
    session: AsyncSession, vendor: str, from_: str, to: str, reference: int, total: int
) -> list[InboundPartRow] | None:
    """All parts, in order, and removed, once every one of them is here; else None."""
    key = (
        InboundPartRow.vendor == vendor,
        InboundPartRow.from_ == from_,
        InboundPartRow.to == to,
        InboundPartRow.reference == reference,
        InboundPartRow.total == total,
    )
    parts = list(
        await session.scalars(select(InboundPartRow).where(*key).order_by(InboundPartRow.number))
    )
    if len(parts) < total:
        return None
    await session.execute(delete(InboundPartRow).where(*key))
    return parts


async def project_for_reply(session: AsyncSession, phone: str) -> str | None:
    """The project that last wrote to ``phone``: an answer most likely belongs to it."""
    return await session.scalar(
        select(Message.project_id).where(Message.to == phone).order_by(Message.id.desc()).limit(1)
    )


async def purge_parts(session: AsyncSession, before: datetime) -> int:
    """Drop parts whose siblings never came; returns how many."""
    result = await session.execute(
        delete(InboundPartRow).where(InboundPartRow.received_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def first_project(session: AsyncSession) -> str | None:
    return await session.scalar(
        select(Project.id).order_by(Project.created_at, Project.id).limit(1)
    )


async def page(
    session: AsyncSession,
    project_id: str,
    *,
    to: str | None,
    from_: str | None,
    after: str | None,
    limit: int,
) -> Sequence[InboundMessageRow]:
    query = select(InboundMessageRow).where(InboundMessageRow.project_id == project_id)
    if to:
        query = query.where(InboundMessageRow.to == to)
    if from_:
        query = query.where(InboundMessageRow.from_ == from_)
    if after:
        query = query.where(InboundMessageRow.id < after)
    return list(await session.scalars(query.order_by(InboundMessageRow.id.desc()).limit(limit + 1)))
