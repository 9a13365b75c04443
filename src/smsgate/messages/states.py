"""Message states, their order, and which ones are final.

scheduled → queued → sending → sent → delivered | undelivered
              ↑         │
              └─────────┘ transient vendor error: back to queued with a later retry
and from any non-final state: failed, canceled (scheduled/queued only), expired
"""

from __future__ import annotations

SCHEDULED = "scheduled"
QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
DELIVERED = "delivered"
UNDELIVERED = "undelivered"
FAILED = "failed"
CANCELED = "canceled"
EXPIRED = "expired"

ALL = (SCHEDULED, QUEUED, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED, CANCELED, EXPIRED)
FINAL = frozenset({DELIVERED, UNDELIVERED, FAILED, CANCELED, EXPIRED})
CANCELABLE = (SCHEDULED, QUEUED)
DISPATCHABLE = (SCHEDULED, QUEUED, SENDING)
"""States a claimed outbox entry may still send from (``sending``: a crashed worker's)."""
RESENDABLE = frozenset({DELIVERED, UNDELIVERED, FAILED, CANCELED, EXPIRED, SENT})
FAILED_LIKE = frozenset({UNDELIVERED, FAILED, EXPIRED})

RECEIPT_APPLIES_FROM = (QUEUED, SENDING, SENT)
"""A vendor receipt moves a message only from these (a late ``sent`` never undoes ``delivered``)."""
