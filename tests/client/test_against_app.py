"""The AsyncClient against the real app (in process, over its ASGI transport)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest

from smsgate.client import AsyncClient, InvalidRequestError, NotFoundError
from tests.conftest import Tenant


@pytest.mark.anyio
async def test_async_client_against_the_real_app(client: httpx.AsyncClient, tenant: Tenant) -> None:
    transport = client._transport  # the ASGI transport of the app under test
    http = httpx.AsyncClient(transport=transport, base_url="http://smsgate.test")
    async with http, AsyncClient("http://smsgate.test", tenant.key, http_client=http) as sdk:
        sent = await sdk.sms.send("+15005550006", "from the async SDK")
        assert sent.state == "queued"
        assert (await sdk.sms.status(sent.sms_id)).sms_id == sent.sms_id
        assert [r.sms_id async for r in sdk.sms.list_all(limit=1)] == [sent.sms_id]
        with pytest.raises(InvalidRequestError) as info:
            await sdk.sms.send("+1234", "x")
        assert info.value.code == "invalid_phone_number" and info.value.param == "to"
        otp = await sdk.sms.otp("+15005550006", service_name="Acme")
        assert (await sdk.sms.otp.status(otp.request_id)).state == "pending"
        wrong = await sdk.sms.verify("+15005550006", "0000000")  # 7 digits: never the code
        assert (wrong.valid, wrong.state, wrong.attempts_remaining) == (False, "pending", 4)
        me = await sdk.account.me()
        assert me.project_id == tenant.project_id


@pytest.mark.anyio
async def test_every_endpoint_parses_against_the_real_app(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    http = httpx.AsyncClient(transport=client._transport, base_url="http://smsgate.test")
    async with http, AsyncClient("http://smsgate.test", tenant.key, http_client=http) as sdk:
        first = await sdk.sms.send("+15005550006", "hello", idempotency_key="app-test-1")
        again = await sdk.sms.send("+15005550006", "hello", idempotency_key="app-test-1")
        assert again.sms_id == first.sms_id  # replayed, not sent twice

        deadline = anyio.current_time() + 10
        while not (await sdk.sms.status(first.sms_id)).is_final:
            assert anyio.current_time() < deadline
            await anyio.sleep(0.02)
        final = await sdk.sms.status(first.sms_id)
        assert final.state == "delivered" and final.price_usd > 0
        assert final.created_at.tzinfo is not None and final.encoding == "GSM-7"

        events = [e async for e in sdk.sms.events_all(first.sms_id, limit=1)]
        assert {e.sms_id for e in events} == {first.sms_id} and len(events) >= 2
        inbox = await sdk.sandbox.messages(to="+15005550006")
        assert [m.body for m in inbox.items if m.sms_id == first.sms_id] == ["hello"]

        later = datetime.now(UTC) + timedelta(hours=1)
        scheduled = await sdk.sms.send("+15005550006", "later", send_at=later)
        assert scheduled.state == "scheduled" and scheduled.send_at is not None
        assert abs((scheduled.send_at - later).total_seconds()) < 1
        cancelled = await sdk.sms.cancel(scheduled.sms_id)
        assert (cancelled.message_id, cancelled.cancelled) == (scheduled.sms_id, True)
        listed = await sdk.sms.list(state="canceled")
        assert [r.sms_id for r in listed.items] == [scheduled.sms_id]

        batch = await sdk.sms.batch.send(
            [{"to": "+15005550006", "body": "one"}, {"to": "+1234", "body": "two"}]
        )
        good, bad = batch.results
        assert good.ok and good.sms is not None and good.sms.batch_id == batch.batch_id
        assert not bad.ok and bad.error is not None and bad.error.param
        resent = await sdk.sms.resend(first.sms_id)
        assert all(isinstance(item.ok, bool) for item in resent.results)

        with pytest.raises(NotFoundError):
            await sdk.sms.status("sms_does_not_exist")
        assert "sms:send" in (await sdk.account.me()).permissions
