"""The outbox as a work queue: claim with a lease, then record each outcome.

Every query the dispatcher makes lives here. Claiming differs by database:

* PostgreSQL: ``UPDATE outbox … WHERE sms_id IN (SELECT … FOR UPDATE SKIP LOCKED)``,
  so concurrent workers in many processes take disjoint rows without waiting.
* SQLite: the same ``UPDATE … RETURNING`` without the locking clause; write
  transactions start with ``BEGIN IMMEDIATE``, so a claim is atomic by construction.

A row is claimable when it is due (``available_at``) and not leased, or its lease
has expired (its worker crashed). The message row then moves to ``sending`` only
if it is still ``scheduled``/``queued`` (or ``sending`` after a crash): a cancel
that got there first wins, and the entry is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import is_postgres, upsert_insert
from smsgate.db.models import DispatchAttempt, HeldReceipt, Message, MessagePart, OutboxEntry
from smsgate.messages import states
from smsgate.messages.repository import add_events, event_row


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    sms_id: str
    project_id: str
    to: str
    from_: str | None
    body: str
    segments: int
    encoding: str
    kind: str
    requested_vendor: str | None
    expires_at: datetime
    attempt: int
    """The attempt this claim makes (1 for the first)."""
    sealed_body: str | None = None
    """The real text, sealed, when ``body`` is redacted (OTP)."""


async def claim(
    session: AsyncSession, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedMessage]:
    due = (
        select(OutboxEntry.sms_id)
        .where(
            OutboxEntry.available_at <= now,
            or_(OutboxEntry.lease_expires_at.is_(None), OutboxEntry.lease_expires_at < now),
        )
        .order_by(OutboxEntry.available_at)
        .limit(limit)
    )
    if is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    claimed = (
        await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.sms_id.in_(due.scalar_subquery()))
            .values(lease_owner=worker, lease_expires_at=now + lease)
            .returning(OutboxEntry.sms_id, OutboxEntry.attempts, OutboxEntry.secret_body)
        )
    ).all()
    if not claimed:
        return []
    attempts = {row.sms_id: row.attempts for row in claimed}
    sealed = {row.sms_id: row.secret_body for row in claimed}
    messages = list(await session.scalars(select(Message).where(Message.id.in_(attempts))))
    before = {m.id: m.state for m in messages}

    gone = [m.id for m in messages if m.state not in states.DISPATCHABLE]
    expired = [m for m in messages if m.state in states.DISPATCHABLE and m.expires_at <= now]
    ready = [m for m in messages if m.state in states.DISPATCHABLE and m.expires_at > now]
    events: list[dict[str, Any]] = []

    if expired:
        won = await _transition(
            session,
            [m.id for m in expired],
            states.DISPATCHABLE,
            now,
            state=states.EXPIRED,
            error_code="validity_expired",
            error_message="The validity period ran out before sending.",
        )
        events += [event_row(i, states.EXPIRED, now, error_code="validity_expired") for i in won]
        gone += [m.id for m in expired]

    winners: set[str] = set()
    if ready:
        winners = set(
            await _transition(
                session, [m.id for m in ready], states.DISPATCHABLE, now, state=states.SENDING
            )
        )
        for m in ready:
            if m.id not in winners:
                gone.append(m.id)
            elif before[m.id] != states.SENDING:
                if before[m.id] == states.SCHEDULED:
                    events.append(event_row(m.id, states.QUEUED, now))
                events.append(event_row(m.id, states.SENDING, now))
    gone += [sms_id for sms_id in attempts if sms_id not in {m.id for m in messages}]
    if gone:
        await session.execute(delete(OutboxEntry).where(OutboxEntry.sms_id.in_(gone)))
    await add_events(session, events)
    return [
        ClaimedMessage(
            sms_id=m.id,
            project_id=m.project_id,
            to=m.to,
            from_=m.from_,
            body=m.body,
            segments=m.segments,
            encoding=m.encoding,
            kind=m.kind,
            requested_vendor=m.requested_vendor,
            expires_at=m.expires_at,
            attempt=attempts[m.id] + 1,
            sealed_body=sealed[m.id],
        )
        for m in ready
        if m.id in winners
    ]


async def _transition(
    session: AsyncSession,
    ids: Sequence[str],
    from_states: Sequence[str],
    now: datetime,
    **values: Any,
) -> list[str]:
    result = await session.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.state.in_(from_states))
        .values(updated_at=now, **values)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    return [row.id for row in result.all()]


async def add_attempts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(DispatchAttempt), list(rows))


async def mark_sent(
    session: AsyncSession, sent: Sequence[tuple[str, str, str]], now: datetime
) -> set[str]:
    """Record each ``(sms_id, vendor, vendor_message_id)`` a vendor accepted, and move
    those still ``sending`` to ``sent`` (a receipt may have moved one on already: it
    keeps its state and gets the id). Two statements for the whole batch; returns the
    ids that became ``sent``."""
    if not sent:
        return set()
    sent = sorted(sent)  # rows locked in id order, as every multi-row UPDATE here does
    await session.execute(  # ORM bulk UPDATE by primary key: one executemany
        update(Message),
        [{"id": i, "vendor": v, "vendor_message_id": r} for i, v, r in sent],
    )
    return set(
        await _transition(
            session, [i for i, _, _ in sent], [states.SENDING], now, state=states.SENT
        )
    )


async def finish(
    session: AsyncSession,
    sms_id: str,
    state: str,
    now: datetime,
    *,
    vendor: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bool:
    """``sending`` → a final state (failed, expired)."""
    return bool(
        await _transition(
            session,
            [sms_id],
            [states.SENDING],
            now,
            state=state,
            vendor=vendor,
            error_code=error_code,
            error_message=error_message,
        )
    )


async def requeue(session: AsyncSession, sms_id: str, now: datetime) -> bool:
    return bool(await _transition(session, [sms_id], [states.SENDING], now, state=states.QUEUED))


async def release_entry(session: AsyncSession, sms_id: str, worker: str) -> None:
    await release_entries(session, [sms_id], worker)


async def release_entries(session: AsyncSession, sms_ids: Sequence[str], worker: str) -> None:
    """Drop the outbox entries this worker holds (a lease another worker took over after
    ours expired is theirs to settle)."""
    if sms_ids:
        await session.execute(
            delete(OutboxEntry).where(
                OutboxEntry.sms_id.in_(sms_ids), OutboxEntry.lease_owner == worker
            )
        )


async def reschedule_entry(
    session: AsyncSession, sms_id: str, worker: str, available_at: datetime, attempts: int
) -> None:
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.sms_id == sms_id, OutboxEntry.lease_owner == worker)
        .values(
            available_at=available_at, attempts=attempts, lease_owner=None, lease_expires_at=None
        )
    )


async def find_by_vendor_ref(
    session: AsyncSession, vendor: str, vendor_message_id: str, project_id: str | None = None
) -> str | None:
    """The message a receipt is about. ``project_id`` scopes it for a project's own vendor:
    its names are only unique within the project, and its callbacks only speak for it."""
    query = select(Message.id).where(
        and_(Message.vendor == vendor, Message.vendor_message_id == vendor_message_id)
    )
    if project_id is not None:
        query = query.where(Message.project_id == project_id)
    return await session.scalar(query.order_by(Message.id.desc()).limit(1))


async def messages_by_ref(
    session: AsyncSession, vendor: str, refs: Sequence[str], project_id: str | None = None
) -> dict[str, str]:
    """:func:`find_by_vendor_ref` for many ids at once: id → newest message carrying it."""
    if not refs:
        return {}
    query = (
        select(Message.vendor_message_id, func.max(Message.id))
        .where(Message.vendor == vendor, Message.vendor_message_id.in_(set(refs)))
        .group_by(Message.vendor_message_id)
    )
    if project_id is not None:
        query = query.where(Message.project_id == project_id)
    return {ref: sms_id for ref, sms_id in await session.execute(query) if ref is not None}


async def parts_by_ref(
    session: AsyncSession, vendor: str, refs: Sequence[str], project_id: str | None = None
) -> dict[str, str]:
    """:func:`find_part` for many ids at once: part id → its message."""
    if not refs:
        return {}
    query = select(MessagePart.vendor_message_id, MessagePart.sms_id).where(
        MessagePart.vendor == vendor, MessagePart.vendor_message_id.in_(set(refs))
    )
    if project_id is not None:
        query = query.join(Message, Message.id == MessagePart.sms_id).where(
            Message.project_id == project_id
        )
    return dict((ref, sms_id) for ref, sms_id in await session.execute(query))


async def apply_receipt(
    session: AsyncSession,
    sms_id: str,
    state: str,
    now: datetime,
    *,
    vendor: str,
    error_code: str | None,
    error_message: str | None,
) -> bool:
    return bool(
        await apply_receipts(
            session,
            [sms_id],
            state,
            now,
            vendor=vendor,
            error_code=error_code,
            error_message=error_message,
        )
    )


async def apply_receipts(
    session: AsyncSession,
    sms_ids: Sequence[str],
    state: str,
    now: datetime,
    *,
    vendor: str,
    error_code: str | None,
    error_message: str | None,
) -> set[str]:
    """Move the messages to a receipt's state where precedence allows (never backwards,
    and a late ``sent`` only from ``queued``/``sending``); returns the ones that moved."""
    from_states = (
        states.RECEIPT_APPLIES_FROM if state != states.SENT else (states.QUEUED, states.SENDING)
    )
    return set(
        await _transition(
            session,
            sms_ids,
            from_states,
            now,
            state=state,
            vendor=vendor,
            error_code=error_code,
            error_message=error_message,
        )
    )


async def record_parts(
    session: AsyncSession, sms_id: str, vendor: str, part_ids: Sequence[str]
) -> None:
    """The ids of a long message's parts, each waiting for its own receipt. An id the
    upstream used before (its counter was reset) now names this part: newest wins."""
    if part_ids:
        upsert = upsert_insert(session)(MessagePart).values(
            [
                {
                    "vendor": vendor,
                    "vendor_message_id": part_id,
                    "sms_id": sms_id,
                    "number": number,
                    "state": states.SENT,
                }
                for number, part_id in enumerate(part_ids, start=1)
            ]
        )
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=["vendor", "vendor_message_id"],
                set_={
                    "sms_id": upsert.excluded.sms_id,
                    "number": upsert.excluded.number,
                    "state": upsert.excluded.state,
                },
            )
        )


async def purge_parts(
    session: AsyncSession,
    finished_before: datetime,
    unfinished_before: datetime,
    limit: int = 5000,
) -> int:
    """Forget the part ids of up to ``limit`` long messages nothing will happen to any
    more: those in a final state since ``finished_before``, and those left unfinished (no
    receipt came) since ``unfinished_before``. Returns how many messages' parts went."""
    stale = (
        select(MessagePart.sms_id)
        .join(Message, Message.id == MessagePart.sms_id)
        .where(
            or_(
                and_(Message.state.in_(states.FINAL), Message.updated_at < finished_before),
                Message.updated_at < unfinished_before,
            )
        )
        .distinct()
        .limit(limit)
    )
    ids = list(await session.scalars(stale))
    if ids:
        await session.execute(delete(MessagePart).where(MessagePart.sms_id.in_(ids)))
    return len(ids)


async def find_part(
    session: AsyncSession, vendor: str, vendor_message_id: str, project_id: str | None = None
) -> str | None:
    """The message a part's id belongs to, for a message sent in parts."""
    query = select(MessagePart.sms_id).where(
        MessagePart.vendor == vendor, MessagePart.vendor_message_id == vendor_message_id
    )
    if project_id is not None:
        query = query.join(Message, Message.id == MessagePart.sms_id).where(
            Message.project_id == project_id
        )
    return await session.scalar(query.limit(1))


async def part_receipt(
    session: AsyncSession, sms_id: str, vendor: str, vendor_message_id: str, state: str
) -> str | None:
    """Record one part's receipt; return the state the whole message reaches, if any:
    the first part that fails fails it, and it is delivered when every part is."""
    if is_postgres(session):
        # Two parts' receipts in concurrent transactions would each miss the other's
        # update and neither would see "all delivered": take turns on the message row.
        await session.execute(select(Message.id).where(Message.id == sms_id).with_for_update())
    await session.execute(
        update(MessagePart)
        .where(
            MessagePart.vendor == vendor,
            MessagePart.vendor_message_id == vendor_message_id,
            MessagePart.state.in_((states.SENT, states.QUEUED)),
        )
        .values(state=state)
    )
    part_states = list(
        await session.scalars(select(MessagePart.state).where(MessagePart.sms_id == sms_id))
    )
    failed = [s for s in part_states if s in (states.UNDELIVERED, states.FAILED)]
    if failed:
        return failed[0]
    if part_states and all(s == states.DELIVERED for s in part_states):
        return states.DELIVERED
    return None


async def hold_receipt(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(HeldReceipt), rows)


async def held_for(
    session: AsyncSession, vendor: str, vendor_message_ids: Sequence[str]
) -> list[HeldReceipt]:
    if not vendor_message_ids:
        return []
    return list(
        await session.scalars(
            select(HeldReceipt)
            .where(
                HeldReceipt.vendor == vendor,
                HeldReceipt.vendor_message_id.in_(vendor_message_ids),
            )
            .order_by(HeldReceipt.id)
        )
    )


async def held_after(session: AsyncSession, after: str | None, limit: int) -> list[HeldReceipt]:
    query = select(HeldReceipt)
    if after is not None:
        query = query.where(HeldReceipt.id > after)
    return list(await session.scalars(query.order_by(HeldReceipt.id).limit(limit)))


async def release_held(session: AsyncSession, groups: Sequence[str]) -> None:
    """Remove held receipts, every reading of each."""
    if groups:
        await session.execute(delete(HeldReceipt).where(HeldReceipt.group_id.in_(groups)))
