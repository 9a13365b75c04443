"""The vendor contract: one upstream, one ``send`` per message, callbacks into events.

    VendorError
    ├── TransientVendorError   retried with backoff (timeouts, 5xx, throttling)
    │   └── NoVendorAvailable  routing found no healthy vendor; waits, costs no attempt
    └── PermanentVendorError   fails the message at once (invalid number, rejected)

A vendor never touches the database or the queue: the dispatcher owns those.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    sms_id: str
    """Our id; vendors that take a client reference get it, so a resubmission is recognisable."""
    project_id: str
    to: str
    from_: str | None
    body: str
    segments: int
    encoding: str
    kind: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Submitted:
    vendor_message_id: str
    part_ids: tuple[str, ...] = ()
    """Every part's id when the upstream took a long message as several (SMPP), in order;
    each part gets its own receipt. Empty when the upstream has one id per message."""


@dataclass(frozen=True, slots=True)
class VendorEvent:
    """A receipt (or, later, an inbound message) turned into our terms."""

    kind: Literal["receipt"]
    state: Literal["sent", "delivered", "undelivered", "failed"]
    vendor_message_id: str
    sms_id: str | None = None
    alternate_ids: tuple[str, ...] = ()
    """Other readings of ``vendor_message_id`` (SMPP: the same number in hex or decimal),
    tried when no message carries it: most likely first."""
    error_code: str | None = None
    error_message: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundPart:
    """Where one part of a concatenated inbound message belongs."""

    reference: int
    total: int
    number: int


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a phone sent to one of our numbers (mobile-originated)."""

    from_: str
    to: str
    body: str
    vendor_message_id: str | None = None
    part: InboundPart | None = None
    """Set for one part of a long message: the parts are stored and joined when all came."""
    received_at: datetime | None = None


EventSink = Callable[[str, Sequence["VendorEvent | InboundMessage"]], Awaitable[None]]
"""Where a vendor with its own connection (SMPP) hands receipts and inbound messages:
``sink(vendor name, events)`` returns once they are durably stored."""


@dataclass(frozen=True)
class CallbackRequest:
    """An upstream's HTTP callback as it reached us. ``url`` is the public URL it was sent
    to (what signatures cover); header names are lower-case."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = field(repr=False)


class InvalidCallback(Exception):
    """A callback that fails its signature check (or cannot be read)."""


class VendorError(Exception):
    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after


class TransientVendorError(VendorError):
    """Try again later."""


class PermanentVendorError(VendorError):
    """Do not try again: the message fails."""


class NoVendorAvailable(TransientVendorError):
    """Routing found no healthy vendor: nobody was asked, so it is not an attempt."""


class Vendor:
    """Talks to one upstream. No database, no queue: the dispatcher owns those.

    ``kind`` is the adapter (``twilio``); ``name`` is this configured instance
    (``twilio-us``), the name messages are pinned to and callbacks are addressed to.
    """

    kind: ClassVar[str]
    name: str
    health_tracked: ClassVar[bool] = True
    """Whether failures feed this vendor's circuit breaker."""

    async def send(self, message: OutboundMessage) -> Submitted:
        """Hand one message to the upstream and return its id there.

        Raise TransientVendorError to be retried, PermanentVendorError to fail the message.
        """
        raise NotImplementedError

    def parse_callback(self, request: CallbackRequest) -> Sequence[VendorEvent | InboundMessage]:
        """Verify the upstream's signature and turn a receipt or inbound message into events.

        Raise ``InvalidCallback`` when the signature does not hold.
        """
        raise InvalidCallback(f"{self.name} takes no callbacks")

    def callback_answer(self, received: int) -> dict[str, Any]:
        """The body that answers an accepted callback (some upstreams expect their own)."""
        return {"received": received}

    async def start(self, sink: EventSink) -> None:
        """Open long-lived connections (SMPP binds). Receipts and inbound messages that
        arrive on them go to ``sink``. HTTP vendors have nothing to start."""
        return None

    def connections(self) -> list[dict[str, Any]] | None:
        """Long-lived connections and their state, for ``GET /v1/vendors``; None when the
        vendor has none (HTTP vendors)."""
        return None

    async def check(self) -> str:
        """Reach the upstream without sending anything (``smsgate vendors check``).

        Returns a one-line description; raises ``VendorError`` when it cannot.
        """
        return "nothing to check"

    async def aclose(self) -> None:
        return None
