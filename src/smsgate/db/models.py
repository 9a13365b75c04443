"""Tables. One declarative base; every query against them lives in a repository module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from smsgate.db.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the full key. Keys carry 256 random bits, so a fast hash is enough."""
    key_hint: Mapped[str] = mapped_column(String(40))
    permissions: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    to: Mapped[str] = mapped_column(String(20))
    from_: Mapped[str | None] = mapped_column("from", String(40))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="transactional")
    state: Mapped[str] = mapped_column(String(20))
    requested_vendor: Mapped[str | None] = mapped_column(String(64))
    vendor: Mapped[str | None] = mapped_column(String(64))
    vendor_message_id: Mapped[str | None] = mapped_column(String(128))
    segments: Mapped[int] = mapped_column(Integer)
    encoding: Mapped[str] = mapped_column(String(8))
    price_micros: Mapped[int] = mapped_column(BigInteger)
    """Price in millionths of a US dollar (exact on both databases)."""
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(String(40))
    template_id: Mapped[str | None] = mapped_column(String(40))
    callback_url: Mapped[str | None] = mapped_column(Text)
    send_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_messages_project_id_id", "project_id", "id"),
        Index("ix_messages_project_to", "project_id", "to"),
        Index("ix_messages_batch", "batch_id"),
        Index("ix_messages_vendor_ref", "vendor", "vendor_message_id"),
        Index("ix_messages_to_id", "to", "id"),
    )


class MessageEvent(Base):
    __tablename__ = "message_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sms_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    vendor: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime]


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class OutboxEntry(Base):
    """One row per message waiting to be dispatched, written with the message.

    A worker claims a row by setting ``lease_owner``/``lease_expires_at``; the row is
    deleted when the message leaves the dispatcher's hands (sent, failed, ...). A
    lease that expires (crashed worker) makes the row claimable again.
    """

    __tablename__ = "outbox"

    sms_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    available_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    secret_body: Mapped[str | None] = mapped_column(Text)
    """The real text, sealed, when the stored body is redacted (OTP); gone with the row."""
    created_at: Mapped[datetime]


class DispatchAttempt(Base):
    """Every hand-over to a vendor, successful or not, is a row."""

    __tablename__ = "dispatch_attempts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sms_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    vendor: Mapped[str] = mapped_column(String(64))
    worker: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    """submitted | transient_error | permanent_error"""
    vendor_message_id: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    """in_progress | done"""
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any | None] = mapped_column(JSON)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SandboxMessage(Base):
    """The simulated carrier's world: what a simulated phone received, and the receipt it owes.

    This table belongs to the simulator (an upstream), not to the gateway: the
    simulator vendor adapter hands messages to it as it would to an HTTP API.
    """

    __tablename__ = "sandbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(40))
    sms_id: Mapped[str] = mapped_column(String(40), unique=True)
    """The client reference the gateway sent; the simulator dedups on it."""
    vendor_message_id: Mapped[str] = mapped_column(String(64), unique=True)
    to: Mapped[str] = mapped_column(String(20))
    from_: Mapped[str | None] = mapped_column("from", String(40))
    body: Mapped[str] = mapped_column(Text)
    submit_count: Mapped[int] = mapped_column(Integer, default=1)
    receipt_status: Mapped[str] = mapped_column(String(20))
    """delivered | undelivered"""
    receipt_error_code: Mapped[str | None] = mapped_column(String(64))
    receipt_due_at: Mapped[datetime | None] = mapped_column(index=True)
    """When the carrier reports the receipt; null once reported."""
    received_at: Mapped[datetime]

    __table_args__ = (Index("ix_sandbox_project_to", "project_id", "to", "id"),)


class ProjectSettings(Base):
    """Per-project settings, one JSON document per area (``otp`` so far)."""

    __tablename__ = "project_settings"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    otp: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class OtpRequest(Base):
    __tablename__ = "otp_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    to: Mapped[str] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(4))
    service_name: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    """HMAC-SHA256 of the code under the server key; the code itself is never stored."""
    code_length: Mapped[int] = mapped_column(Integer)
    ttl_seconds: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    send_count: Mapped[int] = mapped_column(Integer, default=1)
    sms_id: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[datetime]
    last_sent_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_otp_project_to_state", "project_id", "to", "state"),
        Index("ix_otp_project_id", "project_id", "id"),
    )


class OtpSend(Base):
    """One row per OTP text sent: the per-number and per-prefix velocity limits count these."""

    __tablename__ = "otp_sends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(40))
    to: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_otp_sends_to", "project_id", "to", "sent_at"),
        Index("ix_otp_sends_prefix", "project_id", "prefix", "sent_at"),
    )


class OtpPrefixBlock(Base):
    __tablename__ = "otp_prefix_blocks"

    project_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(20), primary_key=True)
    blocked_until: Mapped[datetime]
    created_at: Mapped[datetime]


class ProjectVendor(Base):
    """A project's own upstream credentials (bring your own key).

    ``settings`` holds the non-secret fields; the secret ones are sealed with the
    server key (AES-GCM, bound to project and name) and never leave the server again.
    """

    __tablename__ = "project_vendors"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed_secrets: Mapped[str] = mapped_column(Text)
    secret_fields: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MessagePart(Base):
    """One part of a long message that the upstream took as several (SMPP): each part has
    its own id and its own receipt. The message is delivered when every part is, and
    undelivered as soon as one part is not."""

    __tablename__ = "message_parts"

    vendor: Mapped[str] = mapped_column(String(64), primary_key=True)
    vendor_message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    sms_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))


class HeldReceipt(Base):
    """A receipt for a vendor id no message carries yet: it overtook its own submit
    response (or the commit that records it). Matched as soon as the id is recorded."""

    __tablename__ = "held_receipts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(40), index=True)
    """The readings of one receipt's id (hex, decimal) share a group; they go together."""
    vendor: Mapped[str] = mapped_column(String(64))
    vendor_message_id: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime]

    __table_args__ = (Index("ix_held_receipts_ref", "vendor", "vendor_message_id"),)


class InboundMessageRow(Base):
    """A message a phone sent to us (``inb_…``)."""

    __tablename__ = "inbound_messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    vendor: Mapped[str] = mapped_column(String(64))
    from_: Mapped[str] = mapped_column("from", String(40))
    to: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer)
    vendor_message_id: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime]

    __table_args__ = (Index("ix_inbound_project_id", "project_id", "id"),)


class InboundPartRow(Base):
    """One part of a concatenated inbound message, kept until its siblings arrive."""

    __tablename__ = "inbound_parts"

    vendor: Mapped[str] = mapped_column(String(64), primary_key=True)
    from_: Mapped[str] = mapped_column("from", String(40), primary_key=True)
    to: Mapped[str] = mapped_column(String(40), primary_key=True)
    reference: Mapped[int] = mapped_column(Integer, primary_key=True)
    total: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
