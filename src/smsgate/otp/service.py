"""One-time passcodes: the rules. Receives a session; never commits.

A code comes from ``secrets``, is stored only as an HMAC bound to its request, is
compared in constant time and works once. The text that carries it goes through
the normal durable send path, tagged ``kind = "otp"``; the stored message body is
redacted and the real text travels sealed in the outbox entry until it is sent.
"""

from __future__ import annotations

import hmac
import math
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.models import OtpRequest
from smsgate.errors import Conflict, NotFound, PermissionDenied, RateLimited, Unprocessable
from smsgate.ids import new_id
from smsgate.keyring import Keyring
from smsgate.messages.schemas import SmsSendRequest, iso
from smsgate.messages.service import SendPolicy, accept_many, prepare
from smsgate.otp import repository
from smsgate.otp.schemas import (
    OtpCountryStats,
    OtpRecord,
    OtpSendRequest,
    OtpSettings,
    OtpStats,
    OtpVerifyRequest,
    OtpVerifyResult,
)
from smsgate.phone import parse_phone

PENDING = "pending"
VERIFIED = "verified"
EXPIRED = "expired"
CANCELED = "canceled"
MAX_ATTEMPTS_REACHED = "max_attempts_reached"

# The texts, by language. {service} is "Acme " or "", so the sentence reads either way.
TEXTS = {
    "en": "Your {service}verification code is {code}. It expires in {minutes} minutes.",
    "es": "Tu código de verificación {service}es {code}. Caduca en {minutes} minutos.",
    "fr": "Votre code de vérification {service}est {code}. Il expire dans {minutes} minutes.",
    "de": "Ihr {service}Bestätigungscode ist {code}. Er läuft in {minutes} Minuten ab.",
    "pt": "O seu código de verificação {service}é {code}. Expira em {minutes} minutos.",
    "it": "Il tuo codice di verifica {service}è {code}. Scade tra {minutes} minuti.",
}
MASK = "•"


def generate_code(length: int) -> str:
    return f"{secrets.randbelow(10**length):0{length}d}"


def render(code: str, *, service_name: str | None, locale: str | None, ttl_seconds: int) -> str:
    language = (locale or "en").replace("_", "-").split("-")[0].lower()
    template = TEXTS.get(language, TEXTS["en"])
    return template.format(
        service=f"{service_name} " if service_name else "",
        code=code,
        minutes=max(1, math.ceil(ttl_seconds / 60)),
    )


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


async def load_settings(session: AsyncSession, project_id: str) -> OtpSettings:
    stored = await repository.get_settings(session, project_id)
    return OtpSettings.model_validate(stored or {})


async def save_settings(
    session: AsyncSession, project_id: str, settings: OtpSettings, now: datetime
) -> OtpSettings:
    await repository.put_settings(session, project_id, settings.model_dump(mode="json"), now)
    return settings


def effective_state(otp: OtpRequest, now: datetime) -> str:
    """Expiry comes from the clock, not only from a sweeper."""
    if otp.state == PENDING and otp.expires_at <= now:
        return EXPIRED
    return otp.state


def record_of(otp: OtpRequest, now: datetime) -> OtpRecord:
    state = effective_state(otp, now)
    return OtpRecord(
        request_id=otp.id,
        to=otp.to,
        state=state,
        expires_at=iso(otp.expires_at) or "",
        sms_id=otp.sms_id,
        service_name=otp.service_name,
        attempts_remaining=max(0, otp.max_attempts - otp.attempts) if state == PENDING else 0,
        send_count=otp.send_count,
        created_at=iso(otp.created_at) or "",
        verified_at=iso(otp.verified_at),
        canceled_at=iso(otp.canceled_at),
    )


async def send(
    session: AsyncSession,
    project_id: str,
    req: OtpSendRequest,
    *,
    policy: SendPolicy,
    keys: Keyring,
    now: datetime,
) -> OtpRecord:
    phone = parse_phone(req.to, param="to")
    rules = await load_settings(session, project_id)
    if rules.allowed_countries is not None and phone.region not in rules.allowed_countries:
        raise PermissionDenied(
            f"Passcodes to {phone.region or 'this destination'} are not allowed for this project.",
            code="country_not_allowed",
            param="to",
        )
    if req.template_id is not None:
        raise Unprocessable(
            f"No template {req.template_id}.", code="unknown_template", param="template_id"
        )
    await repository.lock_number(session, project_id, phone.e164)
    prefix = phone.e164[1 : 1 + rules.prefix_digits]
    block = await repository.active_block(session, project_id, prefix, now)
    if block is not None:
        raise _prefix_blocked(block.blocked_until, now)

    pending = await repository.latest_for(session, project_id, phone.e164, pending_only=True)
    if pending is not None and effective_state(pending, now) != PENDING:
        await repository.expire_if_due(session, pending.id, now)
        pending = None
    if pending is not None:
        ready_at = pending.last_sent_at + timedelta(seconds=rules.resend_cooldown_seconds)
        if now < ready_at:
            raise RateLimited(
                "A passcode was just sent to this number; wait before asking again.",
                code="otp_resend_too_soon",
                param="to",
                headers=_retry_after((ready_at - now).total_seconds()),
            )
    window = timedelta(seconds=rules.send_window_seconds)
    sent, oldest = await repository.sends_since(session, project_id, now - window, to=phone.e164)
    if sent >= rules.max_sends_per_number:
        wait = ((oldest + window) - now).total_seconds() if oldest else window.total_seconds()
        raise RateLimited(
            f"At most {rules.max_sends_per_number} passcodes per number every "
            f"{rules.send_window_seconds // 60} minutes.",
            code="otp_send_limit",
            param="to",
            headers=_retry_after(wait),
        )
    prefix_window = timedelta(seconds=rules.prefix_window_seconds)
    burst, _ = await repository.sends_since(session, project_id, now - prefix_window, prefix=prefix)
    if burst >= rules.prefix_limit:
        until = now + timedelta(seconds=rules.prefix_block_seconds)
        await repository.block_prefix(session, project_id, prefix, until, now)
        raise _prefix_blocked(until, now)

    ttl = req.ttl_seconds or rules.default_ttl_seconds
    length = req.code_length or rules.default_code_length
    code = generate_code(length)
    request_id = pending.id if pending is not None else new_id("otp")
    text_args: dict[str, Any] = {
        "service_name": req.service_name,
        "locale": req.locale,
        "ttl_seconds": ttl,
    }
    real_text = render(code, **text_args)
    row = prepare(
        SmsSendRequest(to=phone.e164, body=real_text),
        project_id=project_id,
        policy=policy,
        now=now,
        kind="otp",
    )
    row["body"] = render(MASK * length, **text_args)
    await accept_many(session, [row], {row["id"]: keys.seal(real_text, row["id"])})

    code_hash = keys.otp_hash(request_id, code)
    expires_at = now + timedelta(seconds=ttl)
    if pending is not None:
        # A resend makes a new code; the previous one stops working. Wrong attempts carry
        # over, so resending is no way around the attempt limit.
        await repository.update_request(
            session,
            pending.id,
            code_hash=code_hash,
            code_length=length,
            ttl_seconds=ttl,
            sms_id=row["id"],
            send_count=pending.send_count + 1,
            expires_at=expires_at,
            last_sent_at=now,
            service_name=req.service_name,
            locale=req.locale,
            updated_at=now,
        )
    else:
        await repository.add_request(
            session,
            OtpRequest(
                id=request_id,
                project_id=project_id,
                to=phone.e164,
                region=phone.region,
                service_name=req.service_name,
                locale=req.locale,
                code_hash=code_hash,
                code_length=length,
                ttl_seconds=ttl,
                state=PENDING,
                attempts=0,
                max_attempts=rules.max_attempts,
                send_count=1,
                sms_id=row["id"],
                expires_at=expires_at,
                last_sent_at=now,
                verified_at=None,
                canceled_at=None,
                created_at=now,
                updated_at=now,
            ),
        )
    await repository.add_send(
        session,
        {
            "project_id": project_id,
            "request_id": request_id,
            "to": phone.e164,
            "prefix": prefix,
            "sent_at": now,
        },
    )
    otp = await repository.get(session, project_id, request_id)
    assert otp is not None
    return record_of(otp, now)


def _prefix_blocked(until: datetime, now: datetime) -> RateLimited:
    return RateLimited(
        "Too many passcodes to numbers like this one; the range is paused.",
        code="otp_prefix_blocked",
        param="to",
        headers=_retry_after((until - now).total_seconds()),
    )


async def verify(
    session: AsyncSession, project_id: str, req: OtpVerifyRequest, *, keys: Keyring, now: datetime
) -> OtpVerifyResult:
    to = parse_phone(req.to, param="to").e164
    if req.request_id is not None:
        otp = await repository.get(session, project_id, req.request_id)
        if otp is None or otp.to != to:
            raise NotFound(f"No passcode request {req.request_id} for {to}.", param="request_id")
    else:
        otp = await repository.latest_for(session, project_id, to)
        if otp is None:
            raise NotFound(f"No passcode was requested for {to}.", param="to")
    state = effective_state(otp, now)
    if state != PENDING:
        if state == EXPIRED:
            await repository.expire_if_due(session, otp.id, now)
        return OtpVerifyResult(valid=False, state=state, attempts_remaining=0)

    candidate = keys.otp_hash(otp.id, req.code.strip())
    if hmac.compare_digest(candidate, otp.code_hash):
        if await repository.transition(session, otp.id, VERIFIED, now, verified_at=now):
            return OtpVerifyResult(
                valid=True, state=VERIFIED, attempts_remaining=otp.max_attempts - otp.attempts
            )
    else:
        counted = await repository.add_failed_attempt(session, otp.id, now)
        if counted is not None:
            attempts, new_state = counted
            remaining = 0 if new_state != PENDING else otp.max_attempts - attempts
            return OtpVerifyResult(valid=False, state=new_state, attempts_remaining=remaining)
    # Another verification changed the request first (e.g. a concurrent right code).
    fresh = await repository.get(session, project_id, otp.id)
    assert fresh is not None
    record = record_of(fresh, now)
    return OtpVerifyResult(
        valid=False, state=record.state, attempts_remaining=record.attempts_remaining
    )


async def get(session: AsyncSession, project_id: str, request_id: str, now: datetime) -> OtpRecord:
    otp = await repository.get(session, project_id, request_id)
    if otp is None:
        raise NotFound(f"No passcode request {request_id}.", param="request_id")
    return record_of(otp, now)


async def cancel(
    session: AsyncSession, project_id: str, request_id: str, now: datetime
) -> OtpRecord:
    otp = await repository.get(session, project_id, request_id)
    if otp is None:
        raise NotFound(f"No passcode request {request_id}.", param="request_id")
    if not await repository.transition(session, otp.id, CANCELED, now, canceled_at=now):
        raise Conflict(
            f"Passcode request {request_id} is {effective_state(otp, now)}; "
            "only a pending one can be canceled.",
            code="invalid_state",
        )
    fresh = await repository.get(session, project_id, request_id)
    assert fresh is not None
    return record_of(fresh, now)


async def stats(
    session: AsyncSession, project_id: str, since: datetime | None, until: datetime | None
) -> OtpStats:
    rows = await repository.stats(session, project_id, since, until)

    def item(country: str | None, requests: int, verified: int) -> OtpCountryStats:
        rate = round(verified / requests, 4) if requests else 0.0
        return OtpCountryStats(
            country=country, requests=requests, verified=verified, conversion_rate=rate
        )

    items = sorted(
        (item(region, int(n), int(v or 0)) for region, n, v in rows),
        key=lambda i: (-i.requests, i.country or ""),
    )
    total = item(None, sum(i.requests for i in items), sum(i.verified for i in items))
    return OtpStats(items=items, total=total)
