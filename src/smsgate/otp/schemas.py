"""Request and response models of the one-time passcode API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from smsgate.api.nul import NoNul
from smsgate.messages.schemas import IdempotencyKey

Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class OtpSettings(NoNul):
    """Per-project OTP rules. Every field has the documented default."""

    model_config = ConfigDict(extra="forbid")

    allowed_countries: list[Country] | None = None
    """ISO 3166 alpha-2 codes OTPs may go to; null allows every country."""
    default_ttl_seconds: Annotated[int, Field(ge=60, le=86_400)] = 600
    default_code_length: Annotated[int, Field(ge=4, le=10)] = 6
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    resend_cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    max_sends_per_number: Annotated[int, Field(ge=1, le=100)] = 5
    send_window_seconds: Annotated[int, Field(ge=60, le=86_400)] = 600
    prefix_digits: Annotated[int, Field(ge=3, le=12)] = 7
    """How many leading digits of the E.164 number (without +) make a prefix."""
    prefix_limit: Annotated[int, Field(ge=1, le=100_000)] = 20
    prefix_window_seconds: Annotated[int, Field(ge=60, le=86_400)] = 600
    prefix_block_seconds: Annotated[int, Field(ge=60, le=604_800)] = 3600


class OtpSendRequest(NoNul):
    model_config = ConfigDict(extra="forbid")

    to: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    service_name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    ttl_seconds: Annotated[int, Field(ge=60, le=86_400)] | None = None
    code_length: Annotated[int, Field(ge=4, le=10)] | None = None
    template_id: str | None = None
    locale: Annotated[str, StringConstraints(min_length=2, max_length=16)] | None = None
    idempotency_key: IdempotencyKey | None = None


class OtpVerifyRequest(NoNul):
    model_config = ConfigDict(extra="forbid")

    to: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    code: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    request_id: str | None = None
    idempotency_key: IdempotencyKey | None = None


class OtpRecord(BaseModel):
    request_id: str
    to: str
    state: str
    expires_at: str
    sms_id: str
    service_name: str | None
    attempts_remaining: int
    send_count: int
    created_at: str
    verified_at: str | None
    canceled_at: str | None


class OtpVerifyResult(BaseModel):
    valid: bool
    state: str
    attempts_remaining: int


class OtpCountryStats(BaseModel):
    country: str | None
    requests: int
    verified: int
    conversion_rate: float


class OtpStats(BaseModel):
    items: list[OtpCountryStats]
    total: OtpCountryStats
