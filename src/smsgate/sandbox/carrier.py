"""The built-in simulated carrier: an upstream that lives in the gateway's database.

It plays the part a real SMSC or HTTP vendor plays: it accepts a submission, puts
the text in a simulated phone's inbox (``sandbox_messages``) and, after a delay,
reports a delivery receipt. Its state is durable, so a receipt owed before a
crash is still reported after it. It dedups on the client reference (our
``sms_id``), as an upstream with idempotent submission does; ``submit_count``
records how often the same message was handed over.

Magic numbers (any other valid number is delivered):

| number            | what happens                                                   |
|-------------------|----------------------------------------------------------------|
| +15005550006      | delivered (the documented "always works" number)               |
| +15005550001      | rejected at submit: invalid destination (permanent failure)    |
| +15005550002      | accepted, then an ``undelivered`` receipt (unreachable handset)|
| +1500555001N      | N = 1..9: busy (transient error) on the first N attempts, then delivered |
| +15005550009      | never answers: the submission hangs until the gateway times out|
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import Database
from smsgate.db.group_commit import GroupCommit
from smsgate.db.types import utcnow
from smsgate.sandbox import repository
from smsgate.vendors.base import OutboundMessage, VendorEvent

ALWAYS_DELIVERED = "+15005550006"
INVALID = "+15005550001"
UNDELIVERED = "+15005550002"
FLAKY_PREFIX = "+1500555001"
TIMEOUT = "+15005550009"

ReceiptSink = Callable[[AsyncSession, str, list[VendorEvent], datetime], Awaitable[None]]


class CarrierError(Exception):
    def __init__(self, code: str, message: str, *, permanent: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.permanent = permanent


class SimulatedCarrier:
    def __init__(
        self,
        db: Database,
        *,
        receipt_delay: float = 1.0,
        timeout_sleep: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.clock = clock
        # Concurrent submissions share one transaction, as a real SMSC takes a window of
        # submits at once; this keeps the simulator from costing a commit per message.
        self._store = GroupCommit(db, repository.store_submissions)
        self.receipt_delay = receipt_delay
        self.timeout_sleep = timeout_sleep

    async def submit(self, message: OutboundMessage) -> str:
        """Accept a message; return the carrier's id for it. Raises ``CarrierError``."""
        to = message.to
        if to == INVALID:
            raise CarrierError("invalid_destination", "The number does not exist.", permanent=True)
        if to == TIMEOUT:
            await asyncio.sleep(self.timeout_sleep)
            raise CarrierError("carrier_timeout", "The carrier did not answer.", permanent=False)
        if to.startswith(FLAKY_PREFIX) and len(to) == len(FLAKY_PREFIX) + 1:
            failures = int(to[-1])
            if message.attempt <= failures:
                raise CarrierError(
                    "carrier_busy",
                    f"The carrier is busy (attempt {message.attempt} of {failures} failing).",
                    permanent=False,
                )
        undelivered = to == UNDELIVERED
        now = self.clock()
        return await self._store.submit(
            dict(
                project_id=message.project_id,
                sms_id=message.sms_id,
                vendor_message_id="SM" + secrets.token_hex(16),
                to=to,
                from_=message.from_,
                body=message.body,
                receipt_status="undelivered" if undelivered else "delivered",
                receipt_error_code="unreachable" if undelivered else None,
                receipt_due_at=now + timedelta(seconds=self.receipt_delay),
                received_at=now,
            )
        )

    async def report_receipts(
        self, vendor_name: str, sink: ReceiptSink, *, limit: int = 500
    ) -> int:
        """Report the receipts that are due, through ``sink``, in one transaction."""
        now = self.clock()
        async with self.db.session() as session:
            due = await repository.claim_due_receipts(session, now, limit)
            if due:
                events = [
                    VendorEvent(
                        kind="receipt",
                        state="delivered" if row.receipt_status == "delivered" else "undelivered",
                        vendor_message_id=row.vendor_message_id,
                        sms_id=row.sms_id,
                        error_code=row.receipt_error_code,
                        error_message="The handset could not be reached."
                        if row.receipt_error_code
                        else None,
                    )
                    for row in due
                ]
                await sink(session, vendor_name, events, now)
            return len(due)
