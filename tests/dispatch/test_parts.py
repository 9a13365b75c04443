"""Long messages sent in parts: per-part receipts, and ids an upstream reuses."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, update

from smsgate.db.models import HeldReceipt, Message
from smsgate.dispatch import queue
from smsgate.dispatch.worker import apply_vendor_events, match_held
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
