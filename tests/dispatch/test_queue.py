"""The outbox queue on the real database: leases, crash recovery, cancel races."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from smsgate.db.models import DispatchAttempt, Message, SandboxMessage
from smsgate.db.types import utcnow
from smsgate.dispatch import queue
from smsgate.dispatch.worker import Dispatcher, backoff
from smsgate.gateway import Gateway
from smsgate.messages.schemas import SmsSendRequest
from smsgate.messages.service import send
from tests.conftest import Tenant, make_tenant, wait_for_state

pytestmark = pytest.mark.anyio


async def _queue_messages(gw: Gateway, project_id: str, n: int) -> list[str]:
    async with gw.db.session() as s:
        return [
            (
                await send(
                    s,
                    project_id,
                    SmsSendRequest(to="+15005550006", body=f"m{i}"),
                    gw.policy,
                    utcnow(),
                )
            ).sms_id
            for i in range(n)
        ]


async def test_expired_lease_is_claimed_again(gateway: Gateway) -> None:
    tenant = await make_tenant(gateway.db)
    [sms_id] = await _queue_messages(gateway, tenant.project_id, 1)
    now = utcnow()
    lease = timedelta(seconds=30)
    async with gateway.db.session() as s:
        first = await queue.claim(s, "worker-a", now, lease, 10)
    assert [m.sms_id for m in first] == [sms_id] and first[0].attempt == 1
    # worker-a "crashes": while its lease holds nobody else gets the message ...
    async with gateway.db.session() as s:
        assert await queue.claim(s, "worker-b", now + timedelta(seconds=29), lease, 10) == []
    # ... and once it has expired, worker-b does, as the same attempt (no outcome was recorded).
    async with gateway.db.session() as s:
        second = await queue.claim(s, "worker-b", now + timedelta(seconds=31), lease, 10)
    assert [m.sms_id for m in second] == [sms_id] and second[0].attempt == 1
    dispatcher = Dispatcher(gateway.db, gateway.router, gateway.settings, gateway.keys)
    dispatcher.worker = "worker-b"
    outcomes = await asyncio.gather(*(dispatcher._send(m) for m in second))
    async with gateway.db.session() as s:
        await dispatcher.record(s, list(outcomes))
    async with gateway.db.reader() as s:
        message = await s.get(Message, sms_id)
        assert message is not None and message.state == "sent"
        # worker-a's late outcome cannot touch an entry it no longer holds.
        assert await s.scalar(select(func.count()).select_from(DispatchAttempt)) == 1


async def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    delays = [backoff(n, 1.0, 300.0) for n in range(1, 8)]
    for n, d in enumerate(delays, start=1):
        assert 2 ** (n - 1) / 2 <= d <= 2 ** (n - 1)
    assert backoff(20, 1.0, 300.0) <= 300.0
    assert backoff(1, 1.0, 300.0, retry_after=42) == 42


async def test_cancel_races_the_dispatcher(
    client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway
) -> None:
    """Cancel while workers claim: canceled and never sent, or sent and the cancel is a 409."""
    ids = await _queue_messages(gateway, tenant.project_id, 150)
    answers = await asyncio.gather(
        *(client.post(f"/v1/sms/cancel/{i}", headers=tenant.headers) for i in ids)
    )
    assert {a.status_code for a in answers} <= {200, 409}
    for sms_id, answer in zip(ids, answers, strict=True):
        final = await wait_for_state(client, tenant, sms_id, {"canceled", "delivered"}, timeout=20)
        async with gateway.db.reader() as s:
            in_inbox = await s.scalar(select(func.count()).where(SandboxMessage.sms_id == sms_id))
            # A transient failure (here: the 0.3 s test timeout under load) puts a message
            # back in the queue, where it may be canceled; it was never handed over.
            attempts = await s.scalar(
                select(func.count()).where(
                    DispatchAttempt.sms_id == sms_id, DispatchAttempt.outcome == "submitted"
                )
            )
        if answer.status_code == 200:
            assert answer.json()["cancelled"] is True
            assert final["state"] == "canceled" and in_inbox == 0 and attempts == 0
        else:
            assert answer.json()["error"]["code"] == "invalid_state"
            assert final["state"] == "delivered" and in_inbox == 1


async def test_message_pinned_to_a_vendor_no_longer_configured_fails(gateway: Gateway) -> None:
    from dataclasses import replace

    tenant = await make_tenant(gateway.db)
    policy = replace(gateway.policy, vendors={"simulator", "retired"})
    async with gateway.db.session() as s:
        rec = await send(
            s,
            tenant.project_id,
            SmsSendRequest(to="+15005550006", body="x", vendor="retired"),
            policy,
            utcnow(),
        )
    dispatcher = Dispatcher(gateway.db, gateway.router, gateway.settings, gateway.keys)
    assert await dispatcher.run_once() == 1
    async with gateway.db.reader() as s:
        message = await s.get(Message, rec.sms_id)
    assert message is not None
    assert (message.state, message.error_code) == ("failed", "unknown_vendor")
