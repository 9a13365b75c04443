"""Every API call of the SDK, described once.

Each function takes the arguments of one SDK method and returns the ``Call`` to make;
``_resources`` turns them into the methods of ``Client`` and ``AsyncClient`` (with
these signatures and docstrings). Datetimes may be given as aware ``datetime`` or as
ISO 8601 strings; they are sent as UTC with ``Z``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from smsgate.client._core import Call, segment
from smsgate.client._core import body as request_body
from smsgate.client.models import (
    Account,
    BatchResult,
    CancelResult,
    OtpRequest,
    Page,
    ResendResult,
    SandboxMessage,
    SmsEvent,
    SmsRecord,
    VerifyResult,
)


def sms_send(
    to: str,
    body: str | None = None,
    *,
    from_: str | None = None,
    vendor: str | None = None,
    send_at: datetime | str | None = None,
    callback_url: str | None = None,
    template_id: str | None = None,
    variables: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
) -> Call[SmsRecord]:
    """Send one SMS to ``to`` (E.164). Give ``body``, or ``template_id`` and ``variables``.

    ``send_at`` schedules it. Retries reuse one idempotency key, so the message is
    accepted at most once; pass ``idempotency_key`` to extend that across processes.
    """
    return Call(
        "POST",
        "/v1/sms/send",
        SmsRecord,
        json=request_body(
            to=to,
            body=body,
            from_=from_,
            vendor=vendor,
            send_at=send_at,
            callback_url=callback_url,
            template_id=template_id,
            variables=variables,
        ),
        idempotency_key=idempotency_key,
    )


def sms_status(sms_id: str) -> Call[SmsRecord]:
    """One message by id."""
    return Call("GET", f"/v1/sms/status/{segment(sms_id)}", SmsRecord)


def sms_list(
    *,
    state: str | None = None,
    to: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[Page[SmsRecord]]:
    """One page of messages, newest first (``limit``: 50 by default, at most 500)."""
    params = {"state": state, "to": to, "since": since, "until": until}
    return Call(
        "GET", "/v1/sms/list", Page[SmsRecord], params={**params, "limit": limit, "cursor": cursor}
    )


def sms_events(
    sms_id: str, *, limit: int | None = None, cursor: str | None = None
) -> Call[Page[SmsEvent]]:
    """One page of a message's events, newest first."""
    return Call(
        "GET",
        f"/v1/sms/events/{segment(sms_id)}",
        Page[SmsEvent],
        params={"limit": limit, "cursor": cursor},
    )


def sms_batch_send(
    messages: Iterable[Mapping[str, Any]], *, idempotency_key: str | None = None
) -> Call[BatchResult]:
    """Send up to 100 messages in one request; each is a dict of ``sms.send`` arguments.

    Each message is accepted or refused on its own: see ``BatchResult.results``.
    """
    items = []
    for message in messages:
        if not isinstance(message, Mapping):
            raise TypeError(f"each message must be a dict of send fields, not {message!r}")
        items.append(request_body(**{str(k): v for k, v in message.items()}))
    return Call(
        "POST",
        "/v1/sms/batch/send",
        BatchResult,
        json={"messages": items},
        idempotency_key=idempotency_key,
    )


def sms_cancel(sms_id: str, *, idempotency_key: str | None = None) -> Call[CancelResult]:
    """Cancel a message that has not gone out yet (scheduled or queued)."""
    return Call(
        "POST",
        f"/v1/sms/cancel/{segment(sms_id)}",
        CancelResult,
        idempotency_key=idempotency_key,
    )


def sms_resend(
    id: str, only_failed: bool = False, idempotency_key: str | None = None
) -> Call[ResendResult]:
    """Send a message, or every message of a batch (``id`` is an sms or batch id), again.

    ``only_failed``: for a batch, only its messages that failed or were undelivered.
    """
    return Call(
        "POST",
        f"/v1/sms/resend/{segment(id)}",
        ResendResult,
        json={"only_failed": only_failed},
        idempotency_key=idempotency_key,
    )


def sms_otp(
    to: str,
    *,
    service_name: str | None = None,
    ttl_seconds: int | None = None,
    code_length: int | None = None,
    template_id: str | None = None,
    locale: str | None = None,
    idempotency_key: str | None = None,
) -> Call[OtpRequest]:
    """Send a one-time passcode to ``to``. The code is never returned: the phone gets it."""
    return Call(
        "POST",
        "/v1/sms/otp",
        OtpRequest,
        json=request_body(
            to=to,
            service_name=service_name,
            ttl_seconds=ttl_seconds,
            code_length=code_length,
            template_id=template_id,
            locale=locale,
        ),
        idempotency_key=idempotency_key,
    )


def sms_verify(
    to: str, code: str, *, request_id: str | None = None, idempotency_key: str | None = None
) -> Call[VerifyResult]:
    """Check the passcode a user typed; ``VerifyResult.valid`` is True once, for the right one."""
    return Call(
        "POST",
        "/v1/sms/verify",
        VerifyResult,
        json=request_body(to=to, code=code, request_id=request_id),
        idempotency_key=idempotency_key,
    )


def otp_status(request_id: str) -> Call[OtpRequest]:
    """One passcode request by id."""
    return Call("GET", f"/v1/sms/otp/{segment(request_id)}", OtpRequest)


def otp_cancel(request_id: str, *, idempotency_key: str | None = None) -> Call[OtpRequest]:
    """Cancel a pending passcode request: its code stops working."""
    return Call(
        "POST",
        f"/v1/sms/otp/{segment(request_id)}/cancel",
        OtpRequest,
        idempotency_key=idempotency_key,
    )


def sandbox_messages(
    to: str | None = None, *, limit: int | None = None, cursor: str | None = None
) -> Call[Page[SandboxMessage]]:
    """One page of what the simulated phones received, newest first (only ``to``'s)."""
    return Call(
        "GET",
        "/v1/sandbox/messages",
        Page[SandboxMessage],
        params={"to": to, "limit": limit, "cursor": cursor},
    )


def account_me() -> Call[Account]:
    """The project and key this client uses, and the key's permissions."""
    return Call("GET", "/v1/account/me", Account)
