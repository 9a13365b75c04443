"""Typed results. Unknown fields are ignored, so a newer server does not break an older SDK."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class SmsRecord(_Model):
    sms_id: str
    to: str
    from_: str | None = Field(default=None, alias="from")
    body: str
    state: str
    vendor: str | None = None
    vendor_message_id: str | None = None
    segments: int
    encoding: str
    price_usd: Decimal
    error_code: str | None = None
    error_message: str | None = None
    batch_id: str | None = None
    template_id: str | None = None
    send_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class SmsEvent(_Model):
    event_id: str
    sms_id: str
    type: str
    state: str
    vendor: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    occurred_at: datetime


class Page(_Model, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class ItemError(_Model):
    type: str
    code: str
    message: str
    param: str | None = None
    request_id: str | None = None


class ItemResult(_Model):
    ok: bool
    sms: SmsRecord | None = None
    error: ItemError | None = None


class BatchResult(_Model):
    batch_id: str
    results: list[ItemResult]


class ResendResult(_Model):
    results: list[ItemResult]


class CancelResult(_Model):
    message_id: str
    cancelled: bool
    state: str


class SandboxMessage(_Model):
    id: str
    sms_id: str
    to: str
    from_: str | None = Field(default=None, alias="from")
    body: str
    received_at: datetime


class Account(_Model):
    project_id: str
    project_name: str
    key_id: str
    permissions: list[str]


class OtpRequest(_Model):
    request_id: str
    to: str
    state: str
    expires_at: datetime
    sms_id: str
    service_name: str | None = None
    attempts_remaining: int | None = None
    send_count: int | None = None
    created_at: datetime | None = None
    verified_at: datetime | None = None
    canceled_at: datetime | None = None


class VerifyResult(_Model):
    valid: bool
    state: str
    attempts_remaining: int
