"""Typed results. Unknown fields are ignored, so a newer server does not break an older SDK.

Times are timezone-aware ``datetime`` (UTC), money is ``decimal.Decimal``. ``from`` is
a Python keyword: the field is ``from_`` (``model_dump(by_alias=True)`` gives ``from``).
``state`` and ``encoding`` stay plain strings so that a state added by a newer server
is not an error; the known values are in ``SMS_STATES`` and ``FINAL_STATES``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

SMS_STATES = (
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "canceled",
    "expired",
)
FINAL_STATES = frozenset({"delivered", "undelivered", "failed", "canceled", "expired"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class SmsRecord(_Model):
    """One message, as ``sms.send``, ``sms.status`` and ``sms.list`` return it."""

    sms_id: str
    to: str
    from_: str | None = Field(default=None, alias="from")
    body: str
    state: str
    vendor: str | None = None
    vendor_message_id: str | None = None
    segments: int
    encoding: str
    """``GSM-7`` or ``UCS-2``."""
    price_usd: Decimal
    error_code: str | None = None
    error_message: str | None = None
    batch_id: str | None = None
    template_id: str | None = None
    send_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def is_final(self) -> bool:
        """True once the state can no longer change (delivered, failed, ...)."""
        return self.state in FINAL_STATES


class SmsEvent(_Model):
    """One step in a message's life (``sms.events``)."""

    event_id: str
    sms_id: str
    type: str
    state: str
    vendor: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    occurred_at: datetime


class Page(_Model, Generic[T]):
    """One page of a list, newest first. ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None = None


class BatchItemError(_Model):
    """Why one message of a batch (or resend) was not accepted."""

    type: str
    code: str
    message: str
    param: str | None = None
    request_id: str | None = None


class BatchItem(_Model):
    """One message of a batch or resend: ``ok`` with ``sms``, or not with ``error``."""

    ok: bool
    sms: SmsRecord | None = None
    error: BatchItemError | None = None


class BatchResult(_Model):
    batch_id: str
    results: list[BatchItem]


class ResendResult(_Model):
    results: list[BatchItem]


class CancelResult(_Model):
    message_id: str
    cancelled: bool
    state: str


class SandboxMessage(_Model):
    """A message as a simulated phone received it (``sandbox.messages``)."""

    id: str
    sms_id: str
    to: str
    from_: str | None = Field(default=None, alias="from")
    body: str
    received_at: datetime


class Account(_Model):
    """Who the API key belongs to (``account.me``)."""

    project_id: str
    project_name: str
    key_id: str
    permissions: list[str]


class OtpRequest(_Model):
    """A one-time passcode request (``sms.otp``). The code itself is never returned."""

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
    """The answer of ``sms.verify``: ``valid`` is True once, for the right code."""

    valid: bool
    state: str
    attempts_remaining: int
