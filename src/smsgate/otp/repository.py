"""Every query on OTP requests, their sends, prefix blocks and per-project settings."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import is_postgres, upsert_insert
from smsgate.db.models import OtpPrefixBlock, OtpRequest, OtpSend, ProjectSettings


async def lock_number(session: AsyncSession, project_id: str, to: str) -> None:
    """Serialise OTP sends to one number (PostgreSQL advisory lock; SQLite writes are serial)."""
    if is_postgres(session):
        digest = hashlib.sha256(f"otp:{project_id}:{to}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def get_settings(session: AsyncSession, project_id: str) -> dict[str, Any] | None:
    row = await session.get(ProjectSettings, project_id)
    return row.otp if row else None


async def put_settings(
    session: AsyncSession, project_id: str, otp: dict[str, Any], now: datetime
) -> None:
    insert_ = upsert_insert(session)
    stmt = insert_(ProjectSettings).values(project_id=project_id, otp=otp, updated_at=now)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["project_id"], set_={"otp": otp, "updated_at": now}
        )
    )


async def get(session: AsyncSession, project_id: str, request_id: str) -> OtpRequest | None:
    return await session.scalar(
        select(OtpRequest)
        .where(OtpRequest.id == request_id, OtpRequest.project_id == project_id)
        .execution_options(populate_existing=True)
    )


async def latest_for(
    session: AsyncSession, project_id: str, to: str, *, pending_only: bool = False
) -> OtpRequest | None:
    query = select(OtpRequest).where(OtpRequest.project_id == project_id, OtpRequest.to == to)
    if pending_only:
        query = query.where(OtpRequest.state == "pending")
    return await session.scalar(query.order_by(OtpRequest.id.desc()).limit(1))


async def active_block(
    session: AsyncSession, project_id: str, prefix: str, now: datetime
) -> OtpPrefixBlock | None:
    return await session.scalar(
        select(OtpPrefixBlock).where(
            OtpPrefixBlock.project_id == project_id,
            OtpPrefixBlock.prefix == prefix,
            OtpPrefixBlock.blocked_until > now,
        )
    )


async def block_prefix(
    session: AsyncSession, project_id: str, prefix: str, until: datetime, now: datetime
) -> None:
    insert_ = upsert_insert(session)
    stmt = insert_(OtpPrefixBlock).values(
        project_id=project_id, prefix=prefix, blocked_until=until, created_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["project_id", "prefix"], set_={"blocked_until": until}
        )
    )


async def sends_since(
    session: AsyncSession,
    project_id: str,
    since: datetime,
    *,
    to: str | None = None,
    prefix: str | None = None,
) -> tuple[int, datetime | None]:
    """How many OTP texts went to a number (or a prefix) since ``since``, and the oldest."""
    query = select(func.count(), func.min(OtpSend.sent_at)).where(
        OtpSend.project_id == project_id, OtpSend.sent_at > since
    )
    if to is not None:
        query = query.where(OtpSend.to == to)
    if prefix is not None:
        query = query.where(OtpSend.prefix == prefix)
    count, oldest = (await session.execute(query)).one()
    return int(count), oldest


async def add_send(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(OtpSend).values(**values))


async def add_request(session: AsyncSession, request: OtpRequest) -> None:
    session.add(request)
    await session.flush()


async def update_request(session: AsyncSession, request_id: str, **values: Any) -> None:
    await session.execute(
        update(OtpRequest)
        .where(OtpRequest.id == request_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def transition(
    session: AsyncSession, request_id: str, to_state: str, now: datetime, **values: Any
) -> bool:
    """``pending`` → ``to_state``, only while still pending and unexpired."""
    result = await session.execute(
        update(OtpRequest)
        .where(
            OtpRequest.id == request_id,
            OtpRequest.state == "pending",
            OtpRequest.expires_at > now,
            OtpRequest.attempts < OtpRequest.max_attempts,
        )
        .values(state=to_state, updated_at=now, **values)
        .returning(OtpRequest.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def expire_if_due(session: AsyncSession, request_id: str, now: datetime) -> None:
    await session.execute(
        update(OtpRequest)
        .where(
            OtpRequest.id == request_id,
            OtpRequest.state == "pending",
            OtpRequest.expires_at <= now,
        )
        .values(state="expired", updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def add_failed_attempt(
    session: AsyncSession, request_id: str, now: datetime
) -> Row[int, str] | None:
    """Count a wrong code; the last allowed one ends the request. Returns (attempts, state)."""
    result = await session.execute(
        update(OtpRequest)
        .where(
            OtpRequest.id == request_id,
            OtpRequest.state == "pending",
            OtpRequest.expires_at > now,
        )
        .values(
            attempts=OtpRequest.attempts + 1,
            state=case(
                (OtpRequest.attempts + 1 >= OtpRequest.max_attempts, "max_attempts_reached"),
                else_=OtpRequest.state,
            ),
            updated_at=now,
        )
        .returning(OtpRequest.attempts, OtpRequest.state)
        .execution_options(synchronize_session=False)
    )
    return result.first()


async def stats(
    session: AsyncSession, project_id: str, since: datetime | None, until: datetime | None
) -> Sequence[Row[str | None, int, int]]:
    query = select(
        OtpRequest.region,
        func.count(),
        func.sum(case((OtpRequest.state == "verified", 1), else_=0)),
    ).where(OtpRequest.project_id == project_id)
    if since is not None:
        query = query.where(OtpRequest.created_at >= since)
    if until is not None:
        query = query.where(OtpRequest.created_at < until)
    result = await session.execute(query.group_by(OtpRequest.region))
    return result.all()  # type: ignore[no-any-return]
