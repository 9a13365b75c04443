"""The send loop: claim a batch, hand each message to its vendor, record every outcome.

Outcomes, per message:

* ``Submitted``             → ``sent`` (receipts move it on later); the outbox entry goes.
* ``PermanentVendorError``  → ``failed`` at once.
* ``TransientVendorError``  → back to ``queued`` with the entry due after an exponential
  backoff with jitter; after ``max_attempts`` it is ``failed``, and if the next try
  would fall past the validity period it is ``expired``.

Every hand-over is a ``dispatch_attempts`` row. This module never imports FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.api.nul import without_nul
from smsgate.config import Settings
from smsgate.db.engine import Database
from smsgate.db.group_commit import GroupCommit
from smsgate.db.models import HeldReceipt
from smsgate.db.types import utcnow
from smsgate.dispatch import queue
from smsgate.dispatch.queue import ClaimedMessage
from smsgate.ids import new_id, ulid
from smsgate.keyring import Keyring
from smsgate.messages import states
from smsgate.messages.repository import add_events, event_row
from smsgate.vendors.base import (
    NoVendorAvailable,
    OutboundMessage,
    PermanentVendorError,
    Submitted,
    TransientVendorError,
    Vendor,
    VendorError,
    VendorEvent,
)
from smsgate.vendors.byok import ProjectVendors
from smsgate.vendors.routing import Router

log = logging.getLogger("smsgate.dispatch")


def worker_name() -> str:
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{ulid()[-6:]}"


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with equal jitter: between half and all of ``base * 2**(n-1)``."""
    delay: float = min(cap, base * 2.0 ** (attempt - 1))
    delay = delay / 2 + random.uniform(0, delay / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


@dataclass(frozen=True, slots=True)
class Outcome:
    message: ClaimedMessage
    vendor: str
    started_at: datetime
    finished_at: datetime
    result: Submitted | VendorError


class Dispatcher:
    def __init__(
        self,
        db: Database,
        router: Router,
        settings: Settings,
        keys: Keyring,
        clock: Callable[[], datetime] = utcnow,
        *,
        byok: ProjectVendors | None = None,
    ) -> None:
        self.clock = clock
        self.byok = byok
        self.db = db
        self.keys = keys
        self.router = router
        self.settings = settings
        self.worker = worker_name()
        self._limit = asyncio.Semaphore(settings.dispatch_concurrency)
        self._recorder: GroupCommit[Outcome, None] = GroupCommit(db, self._record_many)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New work was committed in this process: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("dispatch loop failed; retrying")
                handled = 0
            if handled >= self.settings.dispatch_batch_size:
                continue  # a full batch: there is probably more
            wait = (
                self.settings.dispatch_poll_interval
                if handled
                else self.settings.dispatch_idle_interval
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def run_once(self) -> int:
        now = self.clock()
        async with self.db.session() as session:
            claimed = await queue.claim(
                session,
                self.worker,
                now,
                timedelta(seconds=self.settings.lease_seconds),
                self.settings.dispatch_batch_size,
            )
        if not claimed:
            return 0
        await asyncio.gather(*(self._send_and_record(m) for m in claimed))
        return len(claimed)

    async def _send_and_record(self, message: ClaimedMessage) -> None:
        """Record each outcome as soon as it is known, not when the whole claimed batch is
        done: a slow send does not hold the others' results (and their receipts) back.
        Outcomes that finish together share a transaction."""
        await self._recorder.submit(await self._send(message))

    async def _record_many(self, session: AsyncSession, outcomes: Sequence[Outcome]) -> list[None]:
        await self.record(session, list(outcomes))
        return [None] * len(outcomes)

    async def _send(self, message: ClaimedMessage) -> Outcome:
        try:
            vendor = await self._vendor_for(message)
        except VendorError as exc:
            now = self.clock()
            return Outcome(message, message.requested_vendor or "-", now, now, exc)
        outbound = OutboundMessage(
            sms_id=message.sms_id,
            project_id=message.project_id,
            to=message.to,
            from_=message.from_,
            body=self.keys.unseal(message.sealed_body, message.sms_id)
            if message.sealed_body
            else message.body,
            segments=message.segments,
            encoding=message.encoding,
            kind=message.kind,
            attempt=message.attempt,
        )
        async with self._limit:
            started = self.clock()
            result: Submitted | VendorError
            try:
                async with asyncio.timeout(self.settings.vendor_timeout_seconds):
                    result = await vendor.send(outbound)
            except VendorError as exc:
                result = exc
            except TimeoutError:
                result = TransientVendorError(
                    "vendor_timeout",
                    f"{vendor.name} did not answer within {self.settings.vendor_timeout_seconds}s.",
                )
            except Exception as exc:
                log.exception("vendor %s raised unexpectedly", vendor.name)
                result = TransientVendorError("vendor_error", type(exc).__name__)
        self.router.report(vendor.name, result if isinstance(result, VendorError) else None)
        return Outcome(message, vendor.name, started, self.clock(), result)

    async def _vendor_for(self, message: ClaimedMessage) -> Vendor:
        """The gateway's routing, or the project's own account when it pins one."""
        pinned = message.requested_vendor
        if pinned is not None and pinned not in self.router.vendors and self.byok is not None:
            own = await self.byok.get(message.project_id, pinned)
            if own is not None:
                return own
        return self.router.choose(message.to, message.kind, pinned)

    async def _wait_for_a_vendor(
        self, session: AsyncSession, m: ClaimedMessage, now: datetime, error: NoVendorAvailable
    ) -> None:
        """Back to the queue without spending an attempt (or expire, if time is up).

        It comes back when the route's first breaker will let a probe through, so a long
        outage costs a waiting message one claim per ``open_seconds``, not one per poll.
        """
        wait = error.retry_after
        if wait is None:
            wait = self.settings.retry_base_seconds
        due = now + timedelta(seconds=wait)
        if due >= m.expires_at:
            text = "The validity period ran out while no vendor was available."
            if await queue.finish(
                session,
                m.sms_id,
                states.EXPIRED,
                now,
                error_code="validity_expired",
                error_message=text,
            ):
                await add_events(
                    session,
                    [
                        event_row(
                            m.sms_id,
                            states.EXPIRED,
                            now,
                            error_code="validity_expired",
                            error_message=text,
                        )
                    ],
                )
            await queue.release_entry(session, m.sms_id, self.worker)
            return
        await queue.requeue(session, m.sms_id, now)
        await queue.reschedule_entry(session, m.sms_id, self.worker, due, m.attempt - 1)

    async def record(self, session: AsyncSession, outcomes: list[Outcome]) -> None:
        now = self.clock()
        attempts = []
        events = []
        submitted: dict[str, list[str]] = {}
        sent: list[tuple[str, str, str]] = []
        for o in outcomes:
            m, result = o.message, o.result
            if isinstance(result, NoVendorAvailable):
                await self._wait_for_a_vendor(session, m, now, result)
                continue
            error = result if isinstance(result, VendorError) else None
            attempts.append(
                {
                    "id": new_id("att"),
                    "sms_id": m.sms_id,
                    "attempt": m.attempt,
                    "vendor": o.vendor,
                    "worker": self.worker,
                    "outcome": "submitted"
                    if error is None
                    else (
                        "permanent_error"
                        if isinstance(error, PermanentVendorError)
                        else "transient_error"
                    ),
                    "vendor_message_id": None if error else result.vendor_message_id,  # type: ignore[union-attr]
                    "error_code": error.code if error else None,
                    "error_message": error.message if error else None,
                    "started_at": o.started_at,
                    "finished_at": o.finished_at,
                }
            )
            if isinstance(result, Submitted):
                sent.append((m.sms_id, o.vendor, result.vendor_message_id))
                await queue.record_parts(session, m.sms_id, o.vendor, result.part_ids)
                submitted.setdefault(o.vendor, []).extend(
                    result.part_ids or (result.vendor_message_id,)
                )
                continue
            assert error is not None
            final: str | None = None
            if isinstance(error, PermanentVendorError):
                final, code, text = states.FAILED, error.code, error.message
            elif m.attempt >= self.settings.max_attempts:
                final, code = states.FAILED, error.code
                text = f"Gave up after {m.attempt} attempts: {error.message}"
            else:
                delay = backoff(
                    m.attempt,
                    self.settings.retry_base_seconds,
                    self.settings.retry_max_seconds,
                    error.retry_after,
                )
                due = now + timedelta(seconds=delay)
                if due >= m.expires_at:
                    final, code = states.EXPIRED, "validity_expired"
                    text = f"The validity period ran out while retrying: {error.message}"
            if final is not None:
                if await queue.finish(
                    session,
                    m.sms_id,
                    final,
                    now,
                    vendor=o.vendor,
                    error_code=code,
                    error_message=text,
                ):
                    events.append(
                        event_row(
                            m.sms_id,
                            final,
                            now,
                            vendor=o.vendor,
                            error_code=code,
                            error_message=text,
                        )
                    )
                await queue.release_entry(session, m.sms_id, self.worker)
            else:
                if await queue.requeue(session, m.sms_id, now):
                    events.append(
                        event_row(
                            m.sms_id,
                            states.QUEUED,
                            now,
                            type="sms.retry_scheduled",
                            vendor=o.vendor,
                            error_code=error.code,
                            error_message=error.message,
                        )
                    )
                await queue.reschedule_entry(session, m.sms_id, self.worker, due, m.attempt)
        # The common case, accepted by the vendor, costs a few statements per batch.
        became_sent = await queue.mark_sent(session, sent, now)
        events += [
            event_row(sms_id, states.SENT, now, vendor=vendor)
            for sms_id, vendor, _ in sent
            if sms_id in became_sent
        ]
        await queue.release_entries(session, [sms_id for sms_id, _, _ in sent], self.worker)
        await queue.add_attempts(session, attempts)
        await add_events(session, events)
        for vendor, ids in submitted.items():
            held = await queue.held_for(session, vendor, ids)
            if held:
                await match_held(session, now, held)


HOLD_RECEIPTS_FOR = timedelta(days=1)
"""How long a receipt for an unknown vendor id waits for its message before it is dropped."""


async def apply_vendor_events(
    session: AsyncSession,
    vendor: str,
    events: list[VendorEvent],
    now: datetime,
    project_id: str | None = None,
) -> None:
    """Turn receipts into state changes and events, with state precedence (never backwards).

    ``project_id``: the receipts come from a project's own vendor and may only touch
    that project's messages. A receipt for an id no message carries yet (it overtook the
    submit response, or the commit recording it) is held and matched when the id lands.
    """
    rows: list[dict[str, Any]] = []
    events = [_without_nul(ev) for ev in events]
    fast, slow = await _split_receipts(session, vendor, events, project_id)
    rows += await _apply_direct(session, vendor, fast, now)
    for ev in slow:
        outcome = await _apply_receipt(session, vendor, ev, now, project_id)
        for reading in ev.alternate_ids:
            if outcome != "unknown":
                break
            outcome = await _apply_receipt(
                session, vendor, replace(ev, vendor_message_id=reading), now, project_id
            )
        if outcome == "unknown":
            log.debug("holding a receipt from %s for unknown id %s", vendor, ev.vendor_message_id)
            # One row per reading of the id (SMPP: hex or decimal), tied by a group: the
            # first reading that a recorded message carries wins, the rest go with it.
            group = new_id("hld")
            await queue.hold_receipt(
                session,
                [
                    {
                        "id": group if n == 0 else new_id("hld"),
                        "group_id": group,
                        "vendor": vendor,
                        "vendor_message_id": reading,
                        "project_id": project_id,
                        "state": ev.state,
                        "error_code": ev.error_code,
                        "error_message": ev.error_message,
                        "occurred_at": ev.occurred_at,
                        "received_at": now,
                    }
                    for n, reading in enumerate((ev.vendor_message_id, *ev.alternate_ids))
                ],
            )
        elif outcome is not None:
            rows.append(outcome)
    await add_events(session, rows)


def _without_nul(ev: VendorEvent) -> VendorEvent:
    """An upstream's receipt as text PostgreSQL can compare and store (a NUL cannot be;
    such an id matches nothing and is held, then dropped, like any unknown one)."""
    texts = (ev.vendor_message_id, *ev.alternate_ids, ev.error_code or "", ev.error_message or "")
    if not any("\x00" in t for t in texts):
        return ev
    return replace(
        ev,
        vendor_message_id=without_nul(ev.vendor_message_id),
        alternate_ids=tuple(without_nul(r) for r in ev.alternate_ids),
        error_code=without_nul(ev.error_code) if ev.error_code else ev.error_code,
        error_message=without_nul(ev.error_message) if ev.error_message else ev.error_message,
    )


async def _split_receipts(
    session: AsyncSession, vendor: str, events: list[VendorEvent], project_id: str | None
) -> tuple[list[tuple[str, VendorEvent]], list[VendorEvent]]:
    """Sort receipts into ``fast``: ``(sms_id, event)`` for a whole message (not a part)
    that no other receipt in the batch is about, applied together in a few statements;
    and ``slow``: the rest (parts, unknown ids, several receipts for one message), which
    go one by one in their order. The ids are looked up with one query per table."""
    readings = [
        r
        for ev in events
        if ev.sms_id is None or project_id is not None
        for r in (ev.vendor_message_id, *ev.alternate_ids)
    ]
    parts = await queue.parts_by_ref(session, vendor, readings, project_id)
    direct = await queue.messages_by_ref(session, vendor, readings, project_id)
    resolved: list[str | None] = []  # the whole message a receipt moves directly
    touched: Counter[str] = Counter()  # every message a receipt reaches, parts included
    for ev in events:
        sms_id = ev.sms_id if project_id is None else None
        for reading in () if sms_id else (ev.vendor_message_id, *ev.alternate_ids):
            if reading in parts and not direct.get(reading, "") > parts[reading]:
                touched[parts[reading]] += 1  # a part: its own path (the whole message
                break  # waits for every part)
            if reading in direct:
                sms_id = direct[reading]
                break
        resolved.append(sms_id)
        if sms_id is not None:
            touched[sms_id] += 1
    fast: list[tuple[str, VendorEvent]] = []
    slow: list[VendorEvent] = []
    for ev, sms_id in zip(events, resolved, strict=True):
        if sms_id is not None and touched[sms_id] == 1:
            fast.append((sms_id, ev))
        else:
            slow.append(ev)
    if slow and any(ev.sms_id is not None for _, ev in fast):
        # A receipt found by our id also records its vendor on the message, which could
        # let an earlier receipt in the batch (slow, so applied later) find a message it
        # would not have found in arrival order: keep the whole batch in order.
        return [], list(events)
    return fast, slow


async def _apply_direct(
    session: AsyncSession, vendor: str, receipts: list[tuple[str, VendorEvent]], now: datetime
) -> list[dict[str, Any]]:
    """Apply receipts for distinct whole messages: one conditional UPDATE per outcome
    (state and error), so state precedence holds as it does one by one."""
    groups: dict[tuple[str, str | None, str | None], list[tuple[str, VendorEvent]]] = {}
    for sms_id, ev in receipts:
        groups.setdefault((ev.state, ev.error_code, ev.error_message), []).append((sms_id, ev))
    rows = []
    for (state, error_code, error_message), members in groups.items():
        won = await queue.apply_receipts(
            session,
            [sms_id for sms_id, _ in members],
            state,
            now,
            vendor=vendor,
            error_code=error_code,
            error_message=error_message,
        )
        rows += [
            event_row(
                sms_id,
                state,
                ev.occurred_at or now,
                vendor=vendor,
                error_code=error_code,
                error_message=error_message,
            )
            for sms_id, ev in members
            if sms_id in won
        ]
    return rows


async def _apply_receipt(
    session: AsyncSession,
    vendor: str,
    ev: VendorEvent,
    now: datetime,
    project_id: str | None,
) -> dict[str, Any] | Literal["unknown"] | None:
    """The event row a receipt makes, None when it changes nothing, or "unknown"."""
    sms_id = ev.sms_id if project_id is None else None
    part_of = None
    if sms_id is None:
        part_of = await queue.find_part(session, vendor, ev.vendor_message_id, project_id)
        direct = await queue.find_by_vendor_ref(session, vendor, ev.vendor_message_id, project_id)
        if direct is not None and part_of is not None and direct > part_of:
            part_of = None  # the upstream reused the id: the newer message has it now
        sms_id = part_of or direct
    if sms_id is None:
        return "unknown"
    state: str = ev.state
    if part_of is not None:
        whole = await queue.part_receipt(session, sms_id, vendor, ev.vendor_message_id, ev.state)
        if whole is None:
            return None  # the other parts have not all answered yet
        state = whole
    if await queue.apply_receipt(
        session,
        sms_id,
        state,
        now,
        vendor=vendor,
        error_code=ev.error_code,
        error_message=ev.error_message,
    ):
        return event_row(
            sms_id,
            state,
            ev.occurred_at or now,
            vendor=vendor,
            error_code=ev.error_code,
            error_message=ev.error_message,
        )
    return None


async def match_held(
    session: AsyncSession,
    now: datetime,
    held: list[HeldReceipt] | None = None,
    *,
    after: str | None = None,
) -> str | None:
    """Apply the held receipts whose message is now known (``held``, else the next few
    hundred after ``after``); drop the ones that waited longer than
    :data:`HOLD_RECEIPTS_FOR`. Returns where the next sweep goes on from (None: from the
    start), so a pile of receipts that never match cannot hide the newer ones."""
    if held is None:
        held = await queue.held_after(session, after, 500)
        cursor = held[-1].id if len(held) == 500 else None
    else:
        cursor = None
    done: list[str] = []
    rows = []
    for h in held:
        if h.group_id in done:
            continue  # another reading of the same receipt was matched already
        ev = VendorEvent(
            kind="receipt",
            state=h.state,  # type: ignore[arg-type]
            vendor_message_id=h.vendor_message_id,
            error_code=h.error_code,
            error_message=h.error_message,
            occurred_at=h.occurred_at,
        )
        outcome = await _apply_receipt(session, h.vendor, ev, now, h.project_id)
        if outcome != "unknown":
            done.append(h.group_id)
            if outcome is not None:
                rows.append(outcome)
        elif now - h.received_at > HOLD_RECEIPTS_FOR:
            log.warning(
                "dropping a receipt from %s for %s: no message has that id after %s",
                h.vendor,
                h.vendor_message_id,
                HOLD_RECEIPTS_FOR,
            )
            done.append(h.group_id)
    await add_events(session, rows)
    await queue.release_held(session, done)
    return cursor
