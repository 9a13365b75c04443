"""The rules of sending: validate, price, store, queue. Receives a session; never commits.

Single sends and batches both go through ``accept_many``: it takes many requests
and writes them with one statement per table in the caller's transaction. That
is the seam a group-commit path will funnel concurrent single sends through.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.api import idempotency_repository
from smsgate.api.scope import in_progress
from smsgate.db.engine import Database
from smsgate.db.group_commit import GroupCommit
from smsgate.db.models import Batch, Message
from smsgate.errors import Conflict, NotFound, SmsgateError, Unprocessable
from smsgate.ids import has_prefix, new_id
from smsgate.messages import repository, states
from smsgate.messages.schemas import (
    ErrorBody,
    ItemResult,
    SmsBatchResult,
    SmsCancelResult,
    SmsEvent,
    SmsRecord,
    SmsResendResult,
    SmsSendRequest,
)
from smsgate.pagination import Page, make_page
from smsgate.phone import parse_phone
from smsgate.pricing import price_per_segment, to_micros
from smsgate.text.gsm7 import MAX_BODY_CHARS, analyze
from smsgate.vendors import byok

MAX_SCHEDULE_AHEAD = timedelta(days=35)


@dataclass(frozen=True)
class SendPolicy:
    """What the rules need from the gateway's configuration."""

    vendors: Collection[str]
    default_price: Decimal
    validity: timedelta


def prepare(
    req: SmsSendRequest,
    *,
    project_id: str,
    policy: SendPolicy,
    now: datetime,
    batch_id: str | None = None,
    kind: str = "transactional",
) -> dict[str, Any]:
    """Validate and price one send request; return the message row. Raises ``Unprocessable``."""
    phone = parse_phone(req.to, param="to")
    if req.template_id is not None:
        # Templates arrive with the templates capability; until then no id is known.
        raise Unprocessable(
            f"No template {req.template_id}.", code="unknown_template", param="template_id"
        )
    if req.body is None or req.body == "":
        raise Unprocessable("A message needs a body.", code="missing_parameter", param="body")
    if len(req.body) > MAX_BODY_CHARS:
        raise Unprocessable(
            f"The body has {len(req.body)} characters; the limit is {MAX_BODY_CHARS}.",
            code="body_too_long",
            param="body",
        )
    if req.vendor is not None and req.vendor not in policy.vendors:
        raise Unprocessable(
            f"This project has no vendor named {req.vendor!r}.",
            code="unknown_vendor",
            param="vendor",
        )
    if req.callback_url is not None and not req.callback_url.startswith(("http://", "https://")):
        raise Unprocessable(
            "callback_url must be an http(s) URL.", code="invalid_parameter", param="callback_url"
        )
    send_at = req.send_at
    if send_at is not None:
        if send_at > now + MAX_SCHEDULE_AHEAD:
            raise Unprocessable(
                "send_at may be at most 35 days ahead.", code="invalid_send_at", param="send_at"
            )
        if send_at <= now:
            send_at = None
    text = analyze(req.body)
    price = price_per_segment(phone.region, policy.default_price) * text.segments
    return {
        "id": new_id("sms"),
        "project_id": project_id,
        "to": phone.e164,
        "from_": req.from_,
        "body": req.body,
        "kind": kind,
        "state": states.SCHEDULED if send_at else states.QUEUED,
        "requested_vendor": req.vendor,
        "vendor": None,
        "vendor_message_id": None,
        "segments": text.segments,
        "encoding": text.encoding,
        "price_micros": to_micros(price),
        "error_code": None,
        "error_message": None,
        "batch_id": batch_id,
        "template_id": req.template_id,
        "callback_url": req.callback_url,
        "send_at": send_at,
        "expires_at": (send_at or now) + policy.validity,
        "created_at": now,
        "updated_at": now,
    }


async def accept_many(
    session: AsyncSession,
    rows: Sequence[dict[str, Any]],
    sealed_bodies: Mapping[str, str] | None = None,
) -> list[Message]:
    """Store prepared messages with their first event and outbox entries, in one transaction.

    ``sealed_bodies`` maps a message id to its real text, sealed, for messages whose
    stored body is redacted (OTP codes): only the dispatcher ever opens it.
    """
    if not rows:
        return []
    events = [repository.event_row(r["id"], r["state"], r["created_at"]) for r in rows]
    outbox = [
        {
            "sms_id": r["id"],
            "available_at": r["send_at"] or r["created_at"],
            "attempts": 0,
            "lease_owner": None,
            "lease_expires_at": None,
            "secret_body": (sealed_bodies or {}).get(r["id"]),
            "created_at": r["created_at"],
        }
        for r in rows
    ]
    await repository.insert_accepted(session, rows, outbox, events)
    return [Message(**r) for r in rows]


async def with_project_vendors(
    session: AsyncSession, project_id: str, policy: SendPolicy
) -> SendPolicy:
    """The policy with this project's own vendors added to what a send may pin."""
    own = await byok.names(session, project_id)
    return replace(policy, vendors=frozenset(policy.vendors) | own) if own else policy


async def send(
    session: AsyncSession, project_id: str, req: SmsSendRequest, policy: SendPolicy, now: datetime
) -> SmsRecord:
    if req.vendor is not None and req.vendor not in policy.vendors:
        policy = await with_project_vendors(session, project_id, policy)
    row = prepare(req, project_id=project_id, policy=policy, now=now)
    [message] = await accept_many(session, [row])
    return SmsRecord.of(message)


async def send_grouped(
    db: Database,
    sends: GroupCommit[dict[str, Any], Message],
    project_id: str,
    req: SmsSendRequest,
    policy: SendPolicy,
    now: datetime,
) -> SmsRecord:
    """``send`` for a request without an idempotency key: the message is stored by a
    group commit, in one transaction with the other sends that arrive meanwhile.
    Answered once committed, like ``send``."""
    row = await _prepare_outside(db, project_id, req, policy, now)
    return SmsRecord.of(await sends.submit(row))


async def _prepare_outside(
    db: Database, project_id: str, req: SmsSendRequest, policy: SendPolicy, now: datetime
) -> dict[str, Any]:
    """``send``'s checks before a group commit: a read transaction of its own, if any."""
    if req.vendor is not None and req.vendor not in policy.vendors:
        async with db.reader() as session:
            policy = await with_project_vendors(session, project_id, policy)
    return prepare(req, project_id=project_id, policy=policy, now=now)


@dataclass(frozen=True, slots=True)
class KeyedSend:
    """A send with an idempotency key whose reservation we hold (``token``): its message
    and its stored answer commit together."""

    row: dict[str, Any]
    project_id: str
    key: str
    token: datetime


async def write_keyed_sends(session: AsyncSession, sends: Sequence[KeyedSend]) -> list[Any]:
    """Store the messages and, in the same transaction, each one's answer under its key.
    Returns the answers (JSON). A reservation lost meanwhile (its lock ran out and another
    request took the key) fails the transaction; group commit then retries each send
    alone, so only that one fails."""
    messages = await accept_many(session, [s.row for s in sends])
    answers = []
    for send, message in zip(sends, messages, strict=True):
        answer = SmsRecord.of(message).model_dump(mode="json", by_alias=True)
        if not await idempotency_repository.complete(
            session, send.project_id, send.key, send.token, 200, answer
        ):
            raise in_progress()
        answers.append(answer)
    return answers


async def send_keyed(
    db: Database,
    sends: GroupCommit[KeyedSend, Any],
    project_id: str,
    req: SmsSendRequest,
    policy: SendPolicy,
    now: datetime,
    key: str,
    token: datetime,
) -> Any:
    """``send`` for a request whose idempotency key is reserved: stored by a group commit
    with the other sends that arrive meanwhile. Returns the stored answer."""
    row = await _prepare_outside(db, project_id, req, policy, now)
    return await sends.submit(KeyedSend(row, project_id, key, token))


def _error_body(exc: SmsgateError) -> ErrorBody:
    return ErrorBody(
        type=exc.type, code=exc.code, message=exc.message, param=exc.param, request_id=None
    )


def _validation_error(exc: ValidationError, index: int) -> Unprocessable:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    code = {"missing": "missing_parameter", "extra_forbidden": "unknown_parameter"}.get(
        first["type"], "invalid_parameter"
    )
    return Unprocessable(
        f"messages[{index}]: {first['msg']} ({loc or 'item'}).",
        code=code,
        param=f"messages.{index}.{loc}" if loc else f"messages.{index}",
    )


async def _accept_results(
    session: AsyncSession, outcomes: list[dict[str, Any] | SmsgateError]
) -> list[ItemResult]:
    rows = [o for o in outcomes if isinstance(o, dict)]
    stored = iter(await accept_many(session, rows))
    return [
        ItemResult(ok=False, error=_error_body(o))
        if isinstance(o, SmsgateError)
        else ItemResult(ok=True, sms=SmsRecord.of(next(stored)))
        for o in outcomes
    ]


async def send_batch(
    session: AsyncSession, project_id: str, items: Sequence[Any], policy: SendPolicy, now: datetime
) -> SmsBatchResult:
    batch_id = new_id("bat")
    policy = await with_project_vendors(session, project_id, policy)
    outcomes: list[dict[str, Any] | SmsgateError] = []
    for index, item in enumerate(items):
        try:
            if isinstance(item, dict) and "idempotency_key" in item:
                raise Unprocessable(
                    "Items of a batch take no idempotency_key; give one for the whole batch.",
                    code="unknown_parameter",
                    param=f"messages.{index}.idempotency_key",
                )
            try:
                req = SmsSendRequest.model_validate(item)
            except ValidationError as exc:
                raise _validation_error(exc, index) from None
            outcomes.append(
                prepare(req, project_id=project_id, policy=policy, now=now, batch_id=batch_id)
            )
        except SmsgateError as exc:
            outcomes.append(exc)
    size = sum(isinstance(o, dict) for o in outcomes)
    await repository.insert_batch(
        session, Batch(id=batch_id, project_id=project_id, size=size, created_at=now)
    )
    return SmsBatchResult(batch_id=batch_id, results=await _accept_results(session, outcomes))


async def get(session: AsyncSession, project_id: str, sms_id: str) -> SmsRecord:
    message = await repository.get_message(session, project_id, sms_id)
    if message is None:
        raise NotFound(f"No message {sms_id}.", param="id")
    return SmsRecord.of(message)


async def list_records(
    session: AsyncSession, project_id: str, *, after: str | None, limit: int, **filters: Any
) -> Page[SmsRecord]:
    if filters.get("state") is not None and filters["state"] not in states.ALL:
        raise Unprocessable(
            f"state must be one of {', '.join(states.ALL)}.",
            code="invalid_parameter",
            param="state",
        )
    if filters.get("to"):
        filters["to"] = parse_phone(filters["to"], param="to").e164
    rows = await repository.list_messages(session, project_id, after=after, limit=limit, **filters)
    page = make_page(rows, limit, "id")
    return Page([SmsRecord.of(m) for m in page.items], page.next_cursor)


async def list_events(
    session: AsyncSession, project_id: str, sms_id: str, *, after: str | None, limit: int
) -> Page[SmsEvent]:
    if await repository.get_message(session, project_id, sms_id) is None:
        raise NotFound(f"No message {sms_id}.", param="id")
    rows = await repository.list_events(session, sms_id, after=after, limit=limit)
    page = make_page(rows, limit, "id")
    return Page([SmsEvent.of(e) for e in page.items], page.next_cursor)


async def cancel(
    session: AsyncSession, project_id: str, sms_id: str, now: datetime
) -> SmsCancelResult:
    if await repository.cancel(session, project_id, sms_id, now):
        await repository.add_events(session, [repository.event_row(sms_id, states.CANCELED, now)])
        return SmsCancelResult(message_id=sms_id, cancelled=True, state=states.CANCELED)
    message = await repository.get_message(session, project_id, sms_id)
    if message is None:
        raise NotFound(f"No message {sms_id}.", param="id")
    raise Conflict(
        f"Message {sms_id} is {message.state}; only scheduled or queued messages can be canceled.",
        code="invalid_state",
    )


def _copy_request(m: Message) -> SmsSendRequest:
    return SmsSendRequest(
        to=m.to, body=m.body, from_=m.from_, vendor=m.requested_vendor, callback_url=m.callback_url
    )


async def resend(
    session: AsyncSession,
    project_id: str,
    target_id: str,
    only_failed: bool,
    policy: SendPolicy,
    now: datetime,
) -> SmsResendResult:
    """Send copies of a finished message, or of a batch's members (``only_failed``: failed ones)."""
    policy = await with_project_vendors(session, project_id, policy)
    if has_prefix(target_id, "bat"):
        if await repository.get_batch(session, project_id, target_id) is None:
            raise NotFound(f"No batch {target_id}.", param="id")
        members = await repository.batch_members(session, project_id, target_id)
        wanted = states.FAILED_LIKE if only_failed else states.RESENDABLE
        originals = [m for m in members if m.state in wanted]
        batch_id: str | None = new_id("bat")
    else:
        message = await repository.get_message(session, project_id, target_id)
        if message is None:
            raise NotFound(f"No message {target_id}.", param="id")
        wanted = states.FAILED_LIKE if only_failed else states.RESENDABLE
        if message.kind == "otp":
            raise Conflict(
                "A passcode message is resent with POST /v1/sms/otp, which makes a new code.",
                code="invalid_state",
            )
        if message.state not in wanted:
            raise Conflict(
                f"Message {target_id} is {message.state}; it can be resent once it has "
                + ("failed." if only_failed else "finished."),
                code="invalid_state",
            )
        originals, batch_id = [message], None
    outcomes: list[dict[str, Any] | SmsgateError] = []
    for m in originals:
        try:
            if m.kind == "otp":
                raise Conflict(
                    "A passcode message is resent with POST /v1/sms/otp, which makes a new code.",
                    code="invalid_state",
                )
            outcomes.append(
                prepare(
                    _copy_request(m),
                    project_id=project_id,
                    policy=policy,
                    now=now,
                    batch_id=batch_id,
                    kind=m.kind,
                )
            )
        except SmsgateError as exc:
            outcomes.append(exc)
    if batch_id is not None and outcomes:
        size = sum(isinstance(o, dict) for o in outcomes)
        await repository.insert_batch(
            session, Batch(id=batch_id, project_id=project_id, size=size, created_at=now)
        )
    return SmsResendResult(results=await _accept_results(session, outcomes))
