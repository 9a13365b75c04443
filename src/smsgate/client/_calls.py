"""Every API call of the SDK, described once (used by both clients)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smsgate.client._core import Call, body, clean, page_of
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
    *,
    to: str,
    body_: str | None = None,
    from_: str | None = None,
    vendor: str | None = None,
    send_at: datetime | None = None,
    callback_url: str | None = None,
    template_id: str | None = None,
    variables: dict[str, str] | None = None,
    idempotency_key: str | None = None,
) -> Call[SmsRecord]:
    return Call(
        "POST",
        "/v1/sms/send",
        SmsRecord,
        json=body(
            to=to,
            body=body_,
            from_=from_,
            vendor=vendor,
            send_at=send_at,
            callback_url=callback_url,
            template_id=template_id,
            variables=variables,
        ),
        creates=True,
        idempotency_key=idempotency_key,
    )


def sms_status(sms_id: str) -> Call[SmsRecord]:
    return Call("GET", f"/v1/sms/status/{sms_id}", SmsRecord)


def sms_list(**params: Any) -> Call[Page[SmsRecord]]:
    return Call("GET", "/v1/sms/list", page_of(SmsRecord), params=clean(params))


def sms_events(sms_id: str, **params: Any) -> Call[Page[SmsEvent]]:
    return Call("GET", f"/v1/sms/events/{sms_id}", page_of(SmsEvent), params=clean(params))


def sms_batch_send(
    messages: list[dict[str, Any]], idempotency_key: str | None = None
) -> Call[BatchResult]:
    return Call(
        "POST",
        "/v1/sms/batch/send",
        BatchResult,
        json={"messages": [body(**m) for m in messages]},
        creates=True,
        idempotency_key=idempotency_key,
    )


def sms_cancel(sms_id: str, idempotency_key: str | None = None) -> Call[CancelResult]:
    return Call(
        "POST",
        f"/v1/sms/cancel/{sms_id}",
        CancelResult,
        creates=True,
        idempotency_key=idempotency_key,
    )


def sms_resend(
    target_id: str, only_failed: bool = False, idempotency_key: str | None = None
) -> Call[ResendResult]:
    return Call(
        "POST",
        f"/v1/sms/resend/{target_id}",
        ResendResult,
        json={"only_failed": only_failed},
        creates=True,
        idempotency_key=idempotency_key,
    )


def sms_otp(
    *,
    to: str,
    service_name: str | None = None,
    ttl_seconds: int | None = None,
    code_length: int | None = None,
    template_id: str | None = None,
    locale: str | None = None,
    idempotency_key: str | None = None,
) -> Call[OtpRequest]:
    return Call(
        "POST",
        "/v1/sms/otp",
        OtpRequest,
        json=body(
            to=to,
            service_name=service_name,
            ttl_seconds=ttl_seconds,
            code_length=code_length,
            template_id=template_id,
            locale=locale,
        ),
        creates=True,
        idempotency_key=idempotency_key,
    )


def sms_verify(
    *, to: str, code: str, request_id: str | None = None, idempotency_key: str | None = None
) -> Call[VerifyResult]:
    return Call(
        "POST",
        "/v1/sms/verify",
        VerifyResult,
        json=body(to=to, code=code, request_id=request_id),
        creates=True,
        idempotency_key=idempotency_key,
    )


def otp_status(request_id: str) -> Call[OtpRequest]:
    return Call("GET", f"/v1/sms/otp/{request_id}", OtpRequest)


def otp_cancel(request_id: str) -> Call[OtpRequest]:
    return Call("POST", f"/v1/sms/otp/{request_id}/cancel", OtpRequest, creates=True)


def sandbox_messages(**params: Any) -> Call[Page[SandboxMessage]]:
    return Call("GET", "/v1/sandbox/messages", page_of(SandboxMessage), params=clean(params))


def account_me() -> Call[Account]:
    return Call("GET", "/v1/account/me", Account)
