"""Long messages sent in parts: per-part receipts, and ids an upstream reuses."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from smsgate.db.models import HeldReceipt, Message, MessagePart
from smsgate.dispatch import queue
from smsgate.dispatch.worker import _split_receipts, apply_vendor_events, match_held
from smsgate.gateway import Gateway
from smsgate.vendors.base import VendorEvent
from tests.conftest import Tenant, wait_for_state

pytestmark = pytest.mark.anyio


async def sent_message(client: httpx.AsyncClient, tenant: Tenant) -> str:
    r = await client.post(
        "/v1/sms/send", json={"to": "+447911123456", "body": "x"}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    sms_id: str = r.json()["sms_id"]
    await wait_for_state(client, tenant, sms_id, {"delivered"})
    return sms_id


async def test_parts_complete_fail_and_survive_a_reused_id(
    client: httpx.AsyncClient, gateway: Gateway, tenant: Tenant
) -> None:
    old, new = [await sent_message(client, tenant) for _ in range(2)]
    async with gateway.db.session() as session:
        await queue.record_parts(session, old, "smsc", ["p1", "p2"])
        # The SMSC's counter was reset: "p2" now names a part of the newer message.
        await queue.record_parts(session, new, "smsc", ["p2", "p3"])
        assert await queue.find_part(session, "smsc", "p2") == new
        assert await queue.find_part(session, "smsc", "p1") == old
        # Part receipts decide only when every part has answered, or one fails.
        assert await queue.part_receipt(session, new, "smsc", "p2", "delivered") is None
        assert await queue.part_receipt(session, new, "smsc", "p3", "delivered") == "delivered"
        assert await queue.part_receipt(session, old, "smsc", "p1", "undelivered") == "undelivered"


async def test_a_receipt_for_an_unknown_id_is_held_then_applied(
    client: httpx.AsyncClient, gateway: Gateway, tenant: Tenant
) -> None:

    sms_id = await sent_message(client, tenant)
    async with gateway.db.session() as session:
        # Make it look sent by an upstream whose receipt overtook the id's record.
        await session.execute(
            update(Message).where(Message.id == sms_id).values(state="sent", vendor="smsc")
        )
        await apply_vendor_events(
            session,
            "smsc",
            [VendorEvent(kind="receipt", state="delivered", vendor_message_id="late-1")],
            gateway.now(),
        )
        assert await session.scalar(select(func.count()).select_from(HeldReceipt)) == 1
        await session.execute(
            update(Message).where(Message.id == sms_id).values(vendor_message_id="late-1")
        )
    async with gateway.db.session() as session:
        assert await match_held(session, gateway.now()) is None
    async with gateway.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(HeldReceipt)) == 0
        assert (
            await session.scalar(select(Message.state).where(Message.id == sms_id)) == "delivered"
        )


async def test_a_mixed_batch_of_receipts_applies_as_one_by_one(
    client: httpx.AsyncClient, gateway: Gateway, tenant: Tenant
) -> None:
    """Receipts for distinct whole messages are applied together; parts, unknown ids and
    several receipts for one message keep their one-by-one meaning, in order."""
    a, b, c, d, e, f = [await sent_message(client, tenant) for _ in range(6)]
    async with gateway.db.session() as session:
        for sms_id, ref in ((a, "A1"), (b, "B1"), (c, "C1"), (d, "d1")):
            await session.execute(
                update(Message)
                .where(Message.id == sms_id)
                .values(state="sent", vendor="smsc", vendor_message_id=ref)
            )
        await session.execute(update(Message).where(Message.id == e).values(state="sent"))
        await queue.record_parts(session, e, "smsc", ["E1", "E2"])

        def receipt(ref: str, state: str = "delivered", *alt: str) -> VendorEvent:
            return VendorEvent(
                kind="receipt",
                state=state,  # type: ignore[arg-type]
                vendor_message_id=ref,
                alternate_ids=alt,
                error_code="absent" if state == "undelivered" else None,
            )

        batch = [
            receipt("A1"),  # plain
            receipt("B1", "undelivered"),  # another outcome, its own statement
            # Two for one message: in their order, the first wins (together, the
            # "delivered" statement would have run first and won).
            receipt("C1", "undelivered"),
            receipt("C1", "delivered"),
            receipt("D1", "delivered", "d1"),  # found by its second reading
            receipt("E1"),  # parts: delivered only when both are
            receipt("E2"),
            receipt("Z9"),  # unknown: held
        ]
        fast, slow = await _split_receipts(session, "smsc", batch, None)
        assert [(sms_id, ev.vendor_message_id) for sms_id, ev in fast] == [
            (a, "A1"),
            (b, "B1"),
            (d, "D1"),
        ]
        assert [ev.vendor_message_id for ev in slow] == ["C1", "C1", "E1", "E2", "Z9"]
        # A receipt that names our id records its vendor on the message; beside slow
        # receipts, which apply later, that could change what they find: all in order.
        by_id = VendorEvent(kind="receipt", state="delivered", vendor_message_id="x", sms_id=f)
        fast, slow = await _split_receipts(session, "smsc", [*batch, by_id], None)
        assert fast == [] and len(slow) == len(batch) + 1
        await apply_vendor_events(session, "smsc", batch, gateway.now())
    async with gateway.db.reader() as session:
        got = dict(
            (i, s)
            for i, s in await session.execute(
                select(Message.id, Message.state).where(Message.id.in_([a, b, c, d, e]))
            )
        )
        held = list(await session.scalars(select(HeldReceipt.vendor_message_id)))
    assert held == ["Z9"]
    expected = {a: "delivered", b: "undelivered", c: "undelivered", d: "delivered", e: "delivered"}
    for sms_id, final in expected.items():
        r = await client.get(f"/v1/sms/events/{sms_id}", headers=tenant.headers)
        ours = [ev["state"] for ev in r.json()["items"] if ev["vendor"] == "smsc"]
        assert ours == [final], (sms_id, ours)  # one event each; C's second receipt is late
    assert got == expected


async def test_part_ids_of_finished_or_abandoned_messages_are_purged(
    client: httpx.AsyncClient, gateway: Gateway, tenant: Tenant
) -> None:
    """Final for 3 days, or unfinished for 30: parts go. A message still waiting for its
    receipts keeps them (a purge would make part 1's receipt read as the whole's)."""
    finished, waiting, abandoned, recent = [await sent_message(client, tenant) for _ in range(4)]
    now = gateway.now()
    async with gateway.db.session() as session:
        for sms_id, prefix in ((finished, "f"), (waiting, "w"), (abandoned, "a"), (recent, "r")):
            await queue.record_parts(session, sms_id, "smsc", [f"{prefix}1", f"{prefix}2"])
        for sms_id, state, age in (
            (finished, "delivered", 4),
            (waiting, "sent", 4),
            (abandoned, "sent", 31),
        ):
            await session.execute(
                update(Message)
                .where(Message.id == sms_id)
                .values(state=state, updated_at=now - timedelta(days=age))
            )
    cutoffs = (now - timedelta(days=3), now - timedelta(days=30))
    async with gateway.db.session() as session:
        assert await queue.purge_parts(session, *cutoffs, limit=1) == 1  # the limit holds
    async with gateway.db.session() as session:
        assert await queue.purge_parts(session, *cutoffs) == 1  # the next batch: the rest
    async with gateway.db.reader() as session:
        left = set(await session.scalars(select(MessagePart.vendor_message_id)))
    assert left == {"w1", "w2", "r1", "r2"}


async def test_a_receipt_id_with_a_nul_is_held_not_an_error(gateway: Gateway) -> None:
    """PostgreSQL cannot compare or store U+0000: such an id is cleaned, matches nothing,
    and is held like any unknown one (on PostgreSQL it was a 500 to the vendor)."""
    async with gateway.db.session() as session:
        await apply_vendor_events(
            session,
            "smsc",
            [VendorEvent(kind="receipt", state="delivered", vendor_message_id="Z\x009")],
            gateway.now(),
        )
    async with gateway.db.reader() as session:
        held = list(await session.scalars(select(HeldReceipt.vendor_message_id)))
    assert held == ["Z\ufffd9"]
