"""Every query on messages, their events and batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.models import Batch, Message, MessageEvent, OutboxEntry
from smsgate.ids import new_id
from smsgate.messages import states


async def insert_accepted(
    session: AsyncSession,
    messages: Sequence[dict[str, Any]],
    outbox: Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
) -> None:
    """Write messages, their first event and their outbox entries (one executemany each)."""
    if messages:
        await session.execute(insert(Message), list(messages))
    if events:
        await session.execute(insert(MessageEvent), list(events))
    if outbox:
        await session.execute(insert(OutboxEntry), list(outbox))


async def insert_batch(session: AsyncSession, batch: Batch) -> None:
    session.add(batch)
    await session.flush()


async def get_batch(session: AsyncSession, project_id: str, batch_id: str) -> Batch | None:
    return await session.scalar(
        select(Batch).where(Batch.id == batch_id, Batch.project_id == project_id)
    )


async def get_message(session: AsyncSession, project_id: str, sms_id: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.id == sms_id, Message.project_id == project_id)
    )


async def batch_members(session: AsyncSession, project_id: str, batch_id: str) -> list[Message]:
    return list(
        await session.scalars(
            select(Message)
            .where(Message.project_id == project_id, Message.batch_id == batch_id)
            .order_by(Message.id)
        )
    )


async def list_messages(
    session: AsyncSession,
    project_id: str,
    *,
    after: str | None,
    limit: int,
    state: str | None = None,
    to: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Message]:
    query = select(Message).where(Message.project_id == project_id)
    if after:
        query = query.where(Message.id < after)
    if state:
        query = query.where(Message.state == state)
    if to:
        query = query.where(Message.to == to)
    if since:
        query = query.where(Message.created_at >= since)
    if until:
        query = query.where(Message.created_at < until)
    return list(await session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)))


async def list_events(
    session: AsyncSession, sms_id: str, *, after: str | None, limit: int
) -> list[MessageEvent]:
    query = select(MessageEvent).where(MessageEvent.sms_id == sms_id)
    if after:
        query = query.where(MessageEvent.id < after)
    return list(await session.scalars(query.order_by(MessageEvent.id.desc()).limit(limit + 1)))


async def cancel(session: AsyncSession, project_id: str, sms_id: str, now: datetime) -> bool:
    """Cancel if still scheduled/queued. Atomic: a worker's claim and this cannot both win.

    Only the message row is touched (the dispatcher drops the outbox entry of a
    canceled message when it meets it), so cancel and claim lock in one order.
    """
    result = await session.execute(
        update(Message)
        .where(
            Message.id == sms_id,
            Message.project_id == project_id,
            Message.state.in_(states.CANCELABLE),
        )
        .values(state=states.CANCELED, updated_at=now)
        .returning(Message.id)
    )
    return result.first() is not None


def event_row(
    sms_id: str,
    state: str,
    now: datetime,
    *,
    type: str | None = None,
    vendor: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "sms_id": sms_id,
        "type": type or f"sms.{state}",
        "state": state,
        "vendor": vendor,
        "error_code": error_code,
        "error_message": error_message,
        "occurred_at": now,
    }


async def add_events(session: AsyncSession, events: Sequence[dict[str, Any]]) -> None:
    if events:
        await session.execute(insert(MessageEvent), list(events))
