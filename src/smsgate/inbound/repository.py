"""Queries of inbound messages and the parts of long ones still being joined."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import upsert_insert
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


async def add_part(session: AsyncSession, row: dict[str, Any]) -> None:
    """Store one part; the same part again (a redelivery) is ignored."""
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
