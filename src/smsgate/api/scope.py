"""The request scope: one write transaction per mutating request, with idempotency.

``run_write`` is what a POST endpoint calls. Without an idempotency key it runs the
service in a transaction and commits before answering. With a key:

1. a short transaction reserves the key (``in_progress``, locked for a minute), or
   finds it: same body and done → the stored answer is replayed
   (``Idempotent-Replayed: true``); different body → 422 ``idempotency_key_reused``;
   still in progress → 409 ``idempotency_request_in_progress``; an expired lock (a
   crashed request) is taken over;
2. the service runs in the main transaction, and the answer is stored in that same
   transaction, so the message exists if and only if its answer does;
3. on an error the main transaction rolls back and the reservation is released,
   so a corrected retry with the same key goes through.

Reservations of concurrent requests share a transaction (group commit, ``reserve_many``),
and ``run_keyed`` is the form for a handler that group-commits its own main transaction
(``POST /v1/sms/send``: messages and their answers, many requests at a time).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.accounts.auth import AuthContext
from smsgate.api import idempotency_repository as repo
from smsgate.config import Settings
from smsgate.db.engine import Database
from smsgate.db.group_commit import GroupCommit
from smsgate.db.types import utcnow
from smsgate.errors import Conflict, SmsgateError, Unprocessable

Handler = Callable[[AsyncSession], Awaitable[BaseModel]]


def request_hash(method: str, path: str, payload: BaseModel | None) -> str:
    """What "the same request" means: method, path and the body without its key."""
    body = (
        payload.model_dump(mode="json", by_alias=True, exclude={"idempotency_key"})
        if payload is not None
        else {}
    )
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_of(request: Request, payload: BaseModel | None) -> str | None:
    in_body: str | None = getattr(payload, "idempotency_key", None)
    in_header = request.headers.get("idempotency-key")
    if in_header is not None and (not 1 <= len(in_header) <= 255 or "\x00" in in_header):
        raise Unprocessable(
            "Idempotency-Key must be 1 to 255 characters, without NUL.",
            code="invalid_parameter",
            param="idempotency_key",
        )
    if in_body is not None and in_header is not None and in_body != in_header:
        raise Unprocessable(
            "The Idempotency-Key header and the idempotency_key field differ.",
            code="idempotency_key_mismatch",
            param="idempotency_key",
        )
    return in_body or in_header


def _dump(result: BaseModel) -> Any:
    return result.model_dump(mode="json", by_alias=True)


async def run_write(
    request: Request,
    auth: AuthContext,
    payload: BaseModel | None,
    handler: Handler,
    *,
    status_code: int = 200,
    queues_messages: bool = False,
) -> JSONResponse:
    """``queues_messages``: the handler queues messages; once they are committed, wake the
    dispatchers (this process's, and on PostgreSQL every process's) instead of leaving
    them to their next poll."""
    db: Database = request.app.state.db
    key = idempotency_key_of(request, payload)
    if key is None:
        async with db.session() as session:
            result = await handler(session)
        if queues_messages:
            request.app.state.gateway.work_queued()
        return JSONResponse(_dump(result), status_code=status_code)

    async def write(token: datetime) -> Any:
        async with db.session() as session:
            body = _dump(await handler(session))
            if not await repo.complete(session, auth.project_id, key, token, status_code, body):
                raise in_progress()  # our lock ran out and another request took the key
        return body

    return await run_keyed(
        request,
        auth,
        payload,
        key,
        write,
        status_code=status_code,
        queues_messages=queues_messages,
    )


async def run_keyed(
    request: Request,
    auth: AuthContext,
    payload: BaseModel | None,
    key: str,
    write: Callable[[datetime], Awaitable[Any]],
    *,
    status_code: int = 200,
    queues_messages: bool = True,
) -> JSONResponse:
    """A request with an idempotency key: reserve it (or answer a replay), then
    ``write(token)`` stores the result with its answer under the key, in one transaction
    (``run_write``'s own, or a group commit shared with other requests, as
    ``POST /v1/sms/send`` does), and returns the answer. On any error the reservation is
    released."""
    db: Database = request.app.state.db
    reserved = await _reserve(
        request, auth.project_id, key, request_hash(request.method, request.url.path, payload)
    )
    if isinstance(reserved, JSONResponse):
        return reserved
    try:
        body = await write(reserved)
    except BaseException:
        async with db.session() as session:
            await repo.release(session, auth.project_id, key, reserved)
        raise
    if queues_messages:
        request.app.state.gateway.work_queued()
    return JSONResponse(body, status_code=status_code)


def in_progress() -> Conflict:
    """The answer while another request holds the key (or took it over from us)."""
    return Conflict(
        "A request with this idempotency key is still being processed.",
        code="idempotency_request_in_progress",
    )


@dataclass(frozen=True, slots=True)
class Reservation:
    project_id: str
    key: str
    request_hash: str
    lock_seconds: float
    ttl_seconds: float


Reserved = JSONResponse | datetime | SmsgateError
"""A replay to answer, our token, or the refusal (which wrote nothing)."""


async def reserve_many(session: AsyncSession, items: Sequence[Reservation]) -> list[Reserved]:
    """Reserve keys in one transaction (group commit). A refusal (in progress, reused
    with another body) is returned, not raised: it wrote nothing, and raising would fail
    the other requests' reservations in the same transaction."""
    out: list[Reserved] = []
    for item in items:
        try:
            out.append(await _reserve_in(session, item))
        except (Unprocessable, Conflict) as refusal:
            out.append(refusal)
    return out


async def _reserve(
    request: Request, project_id: str, key: str, hash_: str
) -> JSONResponse | datetime:
    """Take the key (returns the lock's time, our token for completing) or answer a replay."""
    settings: Settings = request.app.state.settings
    reservations: GroupCommit[Reservation, Reserved] = request.app.state.gateway.reservations
    reserved = await reservations.submit(
        Reservation(
            project_id,
            key,
            hash_,
            settings.idempotency_lock_seconds,
            settings.idempotency_ttl_seconds,
        )
    )
    if isinstance(reserved, SmsgateError):
        raise reserved
    return reserved


async def _reserve_in(session: AsyncSession, item: Reservation) -> JSONResponse | datetime:
    project_id, key, request_hash = item.project_id, item.key, item.request_hash
    now = utcnow()
    token = now + timedelta(seconds=item.lock_seconds)
    fresh = {
        "request_hash": request_hash,
        "state": "in_progress",
        "response_status": None,
        "response_body": None,
        "locked_until": token,
        "created_at": now,
        "expires_at": now + timedelta(seconds=item.ttl_seconds),
    }
    if await repo.reserve(session, {"project_id": project_id, "key": key, **fresh}):
        return token
    row = await repo.get(session, project_id, key)
    if row is None or row.expires_at <= now:
        await repo.take_over(session, project_id, key, fresh)
        return token
    if row.request_hash != request_hash:
        raise Unprocessable(
            "This idempotency key was used with a different request.",
            code="idempotency_key_reused",
            param="idempotency_key",
        )
    if row.state == "done":
        return JSONResponse(
            row.response_body,
            status_code=row.response_status or 200,
            headers={"Idempotent-Replayed": "true"},
        )
    if row.locked_until is not None and row.locked_until > now:
        raise in_progress()
    await repo.take_over(session, project_id, key, fresh)
    return token
