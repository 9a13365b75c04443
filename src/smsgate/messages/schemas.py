"""Request and response models of the messages API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from smsgate.api.nul import NoNul
from smsgate.db.models import Message, MessageEvent
from smsgate.pricing import format_usd

IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SmsSendRequest(NoNul):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    body: str | None = None
    from_: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        default=None, alias="from"
    )
    template_id: str | None = None
    variables: dict[str, str] | None = None
    vendor: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    send_at: AwareDatetime | None = None
    callback_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    idempotency_key: IdempotencyKey | None = None


class SmsBatchSendRequest(NoNul):
    model_config = ConfigDict(extra="forbid")
    nul_checked_later = frozenset({"messages"})

    # Items are validated one by one in the service, so one bad item does not sink the batch.
    messages: Annotated[list[Any], Field(min_length=1, max_length=100)]
    idempotency_key: IdempotencyKey | None = None


class SmsResendRequest(NoNul):
    model_config = ConfigDict(extra="forbid")

    only_failed: bool = False
    idempotency_key: IdempotencyKey | None = None


class SmsRecord(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sms_id: str
    to: str
    from_: str | None = Field(alias="from")
    body: str
    state: str
    vendor: str | None
    vendor_message_id: str | None
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]
    price_usd: str
    error_code: str | None
    error_message: str | None
    batch_id: str | None
    template_id: str | None
    send_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, m: Message) -> SmsRecord:
        return cls(
            sms_id=m.id,
            to=m.to,
            from_=m.from_,
            body=m.body,
            state=m.state,
            vendor=m.vendor,
            vendor_message_id=m.vendor_message_id,
            segments=m.segments,
            encoding=m.encoding,
            price_usd=format_usd(m.price_micros),
            error_code=m.error_code,
            error_message=m.error_message,
            batch_id=m.batch_id,
            template_id=m.template_id,
            send_at=iso(m.send_at),
            created_at=iso(m.created_at) or "",
            updated_at=iso(m.updated_at) or "",
        )


class SmsEvent(BaseModel):
    event_id: str
    sms_id: str
    type: str
    state: str
    vendor: str | None
    error_code: str | None
    error_message: str | None
    occurred_at: str

    @classmethod
    def of(cls, e: MessageEvent) -> SmsEvent:
        return cls(
            event_id=e.id,
            sms_id=e.sms_id,
            type=e.type,
            state=e.state,
            vendor=e.vendor,
            error_code=e.error_code,
            error_message=e.error_message,
            occurred_at=iso(e.occurred_at) or "",
        )


class ErrorBody(BaseModel):
    type: str
    code: str
    message: str
    param: str | None
    request_id: str | None


class ItemResult(BaseModel):
    ok: bool
    sms: SmsRecord | None = None
    error: ErrorBody | None = None


class SmsBatchResult(BaseModel):
    batch_id: str
    results: list[ItemResult]


class SmsResendResult(BaseModel):
    results: list[ItemResult]


class SmsCancelResult(BaseModel):
    message_id: str
    cancelled: bool
    state: str


class SmsPage(BaseModel):
    items: list[SmsRecord]
    next_cursor: str | None


class SmsEventPage(BaseModel):
    items: list[SmsEvent]
    next_cursor: str | None
