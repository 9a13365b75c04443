"""The parts of one gateway process, built from settings, and its background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.api import idempotency_repository
from smsgate.api.scope import Reservation, reserve_many
from smsgate.config import Settings
from smsgate.db.engine import Database
from smsgate.db.group_commit import GroupCommit
from smsgate.db.models import Message
from smsgate.db.notify import Announcer, listen_outbox
from smsgate.db.types import utcnow
from smsgate.dispatch.queue import purge_parts as purge_message_parts
from smsgate.dispatch.worker import Dispatcher, apply_vendor_events, match_held
from smsgate.inbound import repository as inbound_repository
from smsgate.inbound import service as inbound
from smsgate.keyring import Keyring
from smsgate.messages.service import KeyedSend, SendPolicy, accept_many, write_keyed_sends
from smsgate.pricing import DEFAULT_PRICES
from smsgate.sandbox.carrier import SimulatedCarrier
from smsgate.vendors import config as vendor_config
from smsgate.vendors.base import InboundMessage, VendorEvent
from smsgate.vendors.byok import ProjectVendors
from smsgate.vendors.registry import VendorRegistry
from smsgate.vendors.routing import Router
from smsgate.vendors.simulator import SimulatorVendor

log = logging.getLogger("smsgate")

HOLD_PARTS = timedelta(days=1)
"""How long a part of a long inbound message waits for its siblings."""

PART_IDS_AFTER_FINAL = timedelta(days=3)
"""How long the part ids of a long outbound message are kept once it is final (a late
part receipt changes nothing then, but is recognised rather than held)."""
PART_IDS_UNFINISHED = timedelta(days=30)
"""... and when no final receipt ever came: far past any SMSC's validity period. Purged
earlier, a very late receipt for part 1 would read as one for the whole message."""


@dataclass
class Gateway:
    settings: Settings
    db: Database
    carrier: SimulatedCarrier
    vendors: VendorRegistry
    router: Router
    byok: ProjectVendors
    policy: SendPolicy
    keys: Keyring
    clock: Callable[[], datetime] = utcnow
    """Where services read the time; tests replace it to move time forward."""
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _dispatchers: list[Dispatcher] = field(default_factory=list)
    _event_store: GroupCommit[tuple[str, Sequence[VendorEvent | InboundMessage]], None] = field(
        init=False
    )
    _announcer: Announcer = field(init=False)
    sends: GroupCommit[dict[str, Any], Message] = field(init=False)
    """Single API sends without an idempotency key: concurrent ones share a transaction."""
    keyed_sends: GroupCommit[KeyedSend, Any] = field(init=False)
    """... and those with one, each stored with its answer."""
    reservations: GroupCommit[Reservation, Any] = field(init=False)
    """Idempotency keys being reserved by concurrent requests."""

    @classmethod
    def build(cls, settings: Settings, db: Database | None = None) -> Gateway:
        db = db or Database(settings.resolved_database_url())
        carrier = SimulatedCarrier(
            db,
            receipt_delay=settings.simulator_receipt_delay,
            timeout_sleep=settings.simulator_timeout_sleep,
        )
        upstreams = vendor_config.load_all(settings)
        vendors = VendorRegistry(
            [SimulatorVendor(carrier), *upstreams.vendors], default=upstreams.default
        )
        router = Router(
            vendors,
            default=upstreams.default,
            routes=upstreams.routes,
            prices={
                "simulator": {**DEFAULT_PRICES, "default": settings.default_price_per_segment},
                **upstreams.prices,
            },
            failure_threshold=upstreams.breaker.failure_threshold,
            open_seconds=upstreams.breaker.open_seconds,
        )
        policy = SendPolicy(
            vendors=frozenset(vendors),
            default_price=settings.default_price_per_segment,
            validity=timedelta(seconds=settings.validity_seconds),
        )
        keys = Keyring.from_settings(settings)
        byok = ProjectVendors(db, keys, settings)
        gw = cls(settings, db, carrier, vendors, router, byok, policy, keys)
        carrier.clock = gw.now
        gw._event_store = GroupCommit(db, gw._write_events)
        gw.sends = GroupCommit(db, accept_many)
        gw.keyed_sends = GroupCommit(db, write_keyed_sends)
        gw.reservations = GroupCommit(db, reserve_many)
        gw._announcer = Announcer(db)
        return gw

    def now(self) -> datetime:
        """The gateway's time (``clock`` is replaceable, so read it through here)."""
        return self.clock()

    def start_background(self) -> None:
        """Start the dispatcher loops, the simulator's receipt loop and housekeeping."""
        self._stop.clear()
        for _ in range(self.settings.dispatch_workers):
            dispatcher = Dispatcher(
                self.db, self.router, self.settings, self.keys, self.now, byok=self.byok
            )
            self._dispatchers.append(dispatcher)
            self._tasks.append(asyncio.create_task(dispatcher.run(self._stop)))
        if not self.db.is_sqlite and self._dispatchers:
            # Sends committed by other processes wake this one's dispatchers at once.
            self._tasks.append(
                asyncio.create_task(
                    listen_outbox(
                        self.db.url,
                        self.wake_dispatchers,
                        self._stop,
                        own_token=self._announcer.token,
                    )
                )
            )
        self._tasks.append(asyncio.create_task(self._receipts()))
        self._tasks.append(asyncio.create_task(self._housekeeping()))
        self._tasks.append(asyncio.create_task(self._held_receipts()))
        for vendor in self.vendors.values():
            self._tasks.append(asyncio.create_task(vendor.start(self.store_events)))

    async def store_events(
        self, vendor: str, events: Sequence[VendorEvent | InboundMessage]
    ) -> None:
        """The sink of vendors with their own connections (SMPP): receipts and inbound
        messages, stored before the upstream is acknowledged. Concurrent callers share a
        transaction (group commit), so a burst of receipts costs few commits."""
        await self._event_store.submit((vendor, events))

    async def _write_events(
        self,
        session: AsyncSession,
        batch: Sequence[tuple[str, Sequence[VendorEvent | InboundMessage]]],
    ) -> list[None]:
        now = self.now()
        for vendor, events in batch:
            receipts = [e for e in events if isinstance(e, VendorEvent)]
            if receipts:
                await apply_vendor_events(session, vendor, receipts, now)
            for event in events:
                if isinstance(event, InboundMessage):
                    await inbound.store(session, vendor, event, now)
        return [None] * len(batch)

    async def _held_receipts(self) -> None:
        """Receipts that came before their message's id was recorded: usually matched
        when it is; this sweep catches the rest (a race between two processes)."""
        after: str | None = None
        while not self._stop.is_set():
            await self._sleep(self.settings.held_receipt_sweep_seconds)
            try:
                async with self.db.session() as session:
                    after = await match_held(session, self.now(), after=after)
            except Exception:
                log.exception("matching held receipts failed; retrying")

    def work_queued(self) -> None:
        """Called after a commit that queued messages: this process's dispatchers look at
        once, and on PostgreSQL every other process's too (``db/notify.py``)."""
        self.wake_dispatchers()
        self._announcer.announce()

    def wake_dispatchers(self) -> None:
        """This process's dispatchers look for work now rather than at their next poll."""
        for dispatcher in self._dispatchers:
            dispatcher.wake()

    async def _receipts(self) -> None:
        while not self._stop.is_set():
            try:
                n = await self.carrier.report_receipts("simulator", apply_vendor_events)
            except Exception:
                log.exception("simulator receipts failed; retrying")
                n = 0
            if n < 500:
                await self._sleep(self.settings.dispatch_poll_interval * 2)

    async def _housekeeping(self) -> None:
        while not self._stop.is_set():
            try:
                async with self.db.session() as session:
                    await idempotency_repository.purge_expired(session, self.now())
                    lost = await inbound_repository.purge_parts(session, self.now() - HOLD_PARTS)
                if lost:
                    log.warning("dropped %d inbound parts whose siblings never came", lost)
                await self._purge_message_parts()
            except Exception:
                log.exception("housekeeping failed")
            await self._sleep(300)

    async def _purge_message_parts(self, batch: int = 5000) -> None:
        """In batches, each its own transaction, until none is left."""
        while not self._stop.is_set():
            now = self.now()
            async with self.db.session() as session:
                purged = await purge_message_parts(
                    session, now - PART_IDS_AFTER_FINAL, now - PART_IDS_UNFINISHED, batch
                )
            if purged < batch:
                return

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def stop_background(self) -> None:
        self._stop.set()
        self.wake_dispatchers()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._dispatchers.clear()

    async def aclose(self) -> None:
        await self.stop_background()
        await self._announcer.aclose()
        await self.vendors.aclose()
        await self.byok.aclose()
        await self.db.dispose()
