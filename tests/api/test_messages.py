"""The messages API through the real app, on the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from smsgate.db.models import DispatchAttempt, Message, SandboxMessage
from smsgate.gateway import Gateway
from tests.conftest import Tenant, fast_settings, serving, wait_for_state

pytestmark = pytest.mark.anyio

SMS_FIELDS = {
    "sms_id",
    "to",
    "from",
    "body",
    "state",
    "vendor",
    "vendor_message_id",
    "segments",
    "encoding",
    "price_usd",
    "error_code",
    "error_message",
    "batch_id",
    "template_id",
    "send_at",
    "created_at",
    "updated_at",
}
EVENT_FIELDS = {
    "event_id",
    "sms_id",
    "type",
    "state",
    "vendor",
    "error_code",
    "error_message",
    "occurred_at",
}


async def send(client: httpx.AsyncClient, tenant: Tenant, **body: object) -> httpx.Response:
    body.setdefault("body", "hello")
    return await client.post("/v1/sms/send", json=body, headers=tenant.headers)


async def test_send_record_has_contract_fields(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await send(client, tenant, to="+1 500 555 0006", body="Hi €", **{"from": "ACME"})
    assert r.status_code == 200, r.text
    rec = r.json()
    assert set(rec) == SMS_FIELDS
    assert rec["sms_id"].startswith("sms_")
    assert rec["to"] == "+15005550006"
    assert rec["from"] == "ACME"
    assert rec["encoding"] == "GSM-7" and rec["segments"] == 1
    assert rec["price_usd"] == "0.007900"
    assert rec["created_at"].endswith("Z")
    done = await wait_for_state(client, tenant, rec["sms_id"], {"delivered"})
    alias = await client.get(f"/v1/sms/{rec['sms_id']}", headers=tenant.headers)
    assert alias.status_code == 200 and alias.json() == done
    assert done["vendor"] == "simulator" and done["vendor_message_id"]


async def test_events_timeline(client: httpx.AsyncClient, tenant: Tenant) -> None:
    sms_id = (await send(client, tenant, to="+15005550006")).json()["sms_id"]
    await wait_for_state(client, tenant, sms_id, {"delivered"})
    r = await client.get(f"/v1/sms/events/{sms_id}", headers=tenant.headers)
    assert r.status_code == 200
    items = r.json()["items"]
    assert all(set(e) == EVENT_FIELDS for e in items)
    # Newest first.
    assert [e["state"] for e in items] == ["delivered", "sent", "sending", "queued"]
    assert items[0]["type"] == "sms.delivered"
    page = await client.get(f"/v1/sms/events/{sms_id}?limit=3", headers=tenant.headers)
    assert len(page.json()["items"]) == 3 and page.json()["next_cursor"]
    rest = await client.get(
        f"/v1/sms/events/{sms_id}?cursor={page.json()['next_cursor']}", headers=tenant.headers
    )
    assert [e["state"] for e in rest.json()["items"]] == ["queued"]
    assert rest.json()["next_cursor"] is None


async def test_ucs2_and_long_messages_are_counted(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await send(client, tenant, to="+15005550006", body="Привет " * 12)
    assert r.json()["encoding"] == "UCS-2" and r.json()["segments"] == 2
    r = await send(client, tenant, to="+15005550006", body="a" * 161)
    assert r.json()["encoding"] == "GSM-7" and r.json()["segments"] == 2
    assert r.json()["price_usd"] == "0.015800"


async def test_list_pagination_and_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ids = [(await send(client, tenant, to="+15005550006")).json()["sms_id"] for _ in range(5)]
    other = (await send(client, tenant, to="+15005550001")).json()["sms_id"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/v1/sms/list", params=params, headers=tenant.headers)
        assert r.status_code == 200
        seen += [i["sms_id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed([*ids, other]))
    r = await client.get("/v1/sms/list", params={"to": "+15005550001"}, headers=tenant.headers)
    assert [i["sms_id"] for i in r.json()["items"]] == [other]
    await wait_for_state(client, tenant, other, {"failed"})
    r = await client.get("/v1/sms/list", params={"state": "failed"}, headers=tenant.headers)
    assert [i["sms_id"] for i in r.json()["items"]] == [other]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = await client.get("/v1/sms/list", params={"since": future}, headers=tenant.headers)
    assert r.json()["items"] == []
    r = await client.get("/v1/sms/list", params={"until": future}, headers=tenant.headers)
    assert len(r.json()["items"]) == 6
    r = await client.get("/v1/sms/list", params={"state": "nope"}, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["param"] == "state"
    r = await client.get("/v1/sms/list", params={"limit": 501}, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["param"] == "limit"
    r = await client.get("/v1/sms/list", params={"cursor": "%%%"}, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"


async def test_batch_partial_failure(
    client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway
) -> None:
    r = await client.post(
        "/v1/sms/batch/send",
        json={
            "messages": [
                {"to": "+15005550006", "body": "one"},
                {"to": "not a number", "body": "two"},
                {"to": "+15005550006", "body": "x" * 2000},
                {"to": 5, "body": "four"},
                {"to": "+15005550006", "body": "five"},
            ]
        },
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["batch_id"].startswith("bat_")
    oks = [x["ok"] for x in data["results"]]
    assert oks == [True, False, False, False, True]
    assert data["results"][1]["error"]["code"] == "invalid_phone_number"
    assert data["results"][2]["error"]["code"] == "body_too_long"
    assert data["results"][3]["error"]["param"] == "messages.3.to"
    assert all(x["sms"]["batch_id"] == data["batch_id"] for x in data["results"] if x["ok"])
    async with gateway.db.reader() as s:
        count = await s.scalar(select(func.count()).where(Message.batch_id == data["batch_id"]))
    assert count == 2
    too_many = [{"to": "+15005550006", "body": "x"}] * 101
    r = await client.post("/v1/sms/batch/send", json={"messages": too_many}, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["param"] == "messages"


async def test_cancel(client: httpx.AsyncClient, tenant: Tenant) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    rec = (await send(client, tenant, to="+15005550006", send_at=later)).json()
    assert rec["state"] == "scheduled" and rec["send_at"]
    r = await client.post(f"/v1/sms/cancel/{rec['sms_id']}", headers=tenant.headers)
    assert r.status_code == 200
    assert r.json() == {"message_id": rec["sms_id"], "cancelled": True, "state": "canceled"}
    r = await client.post(f"/v1/sms/cancel/{rec['sms_id']}", headers=tenant.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
    done = (await send(client, tenant, to="+15005550006")).json()["sms_id"]
    await wait_for_state(client, tenant, done, {"delivered"})
    r = await client.post(f"/v1/sms/cancel/{done}", headers=tenant.headers)
    assert r.status_code == 409
    r = await client.post("/v1/sms/cancel/sms_nope", headers=tenant.headers)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"


async def test_scheduled_message_is_sent_at_its_time(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    rec = (await send(client, tenant, to="+15005550006", send_at=soon)).json()
    assert rec["state"] == "scheduled"
    await asyncio.sleep(0.5)
    r = await client.get(f"/v1/sms/status/{rec['sms_id']}", headers=tenant.headers)
    assert r.json()["state"] == "scheduled"
    await wait_for_state(client, tenant, rec["sms_id"], {"delivered"})
    events = await client.get(f"/v1/sms/events/{rec['sms_id']}", headers=tenant.headers)
    states = [e["state"] for e in reversed(events.json()["items"])]
    assert states == ["scheduled", "queued", "sending", "sent", "delivered"]


async def test_resend_message_and_batch(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post(
        "/v1/sms/batch/send",
        json={
            "messages": [{"to": "+15005550006", "body": "a"}, {"to": "+15005550001", "body": "b"}]
        },
        headers=tenant.headers,
    )
    batch = r.json()
    ids = [x["sms"]["sms_id"] for x in batch["results"]]
    await wait_for_state(client, tenant, ids[0], {"delivered"})
    await wait_for_state(client, tenant, ids[1], {"failed"})
    r = await client.post(
        f"/v1/sms/resend/{batch['batch_id']}", json={"only_failed": True}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 1 and results[0]["sms"]["to"] == "+15005550001"
    assert results[0]["sms"]["sms_id"] not in ids
    r = await client.post(f"/v1/sms/resend/{ids[0]}", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["results"][0]["sms"]["body"] == "a"
    r = await client.post(
        f"/v1/sms/resend/{ids[0]}", json={"only_failed": True}, headers=tenant.headers
    )
    assert r.status_code == 409
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    pending = (await send(client, tenant, to="+15005550006", send_at=later)).json()["sms_id"]
    r = await client.post(f"/v1/sms/resend/{pending}", headers=tenant.headers)
    assert r.status_code == 409
    r = await client.post("/v1/sms/resend/bat_01JDXXXXXXXXXXXXXXXXXXXXXX", headers=tenant.headers)
    assert r.status_code == 404


async def test_magic_numbers(client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway) -> None:
    ids = {
        n: (await send(client, tenant, to=n)).json()["sms_id"]
        for n in ("+15005550001", "+15005550002", "+15005550012", "+15005550009")
    }
    failed = await wait_for_state(client, tenant, ids["+15005550001"], {"failed"})
    assert failed["error_code"] == "invalid_destination"
    und = await wait_for_state(client, tenant, ids["+15005550002"], {"undelivered"})
    assert und["error_code"] == "unreachable"
    await wait_for_state(client, tenant, ids["+15005550012"], {"delivered"})
    timed_out = await wait_for_state(client, tenant, ids["+15005550009"], {"failed"}, timeout=20)
    assert timed_out["error_code"] == "vendor_timeout"
    async with gateway.db.reader() as s:
        flaky = list(
            await s.scalars(
                select(DispatchAttempt.outcome)
                .where(DispatchAttempt.sms_id == ids["+15005550012"])
                .order_by(DispatchAttempt.attempt)
            )
        )
        timeouts = await s.scalar(
            select(func.count()).where(DispatchAttempt.sms_id == ids["+15005550009"])
        )
    assert flaky == ["transient_error", "transient_error", "submitted"]
    assert timeouts == gateway.settings.max_attempts
    events = await client.get(f"/v1/sms/events/{ids['+15005550012']}", headers=tenant.headers)
    assert "sms.retry_scheduled" in [e["type"] for e in events.json()["items"]]


async def test_sandbox_inbox(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    sms_id = (await send(client, tenant, to="+15005550006", body="Your code")).json()["sms_id"]
    await send(client, tenant, to="+15005550002", body="never arrives")
    await wait_for_state(client, tenant, sms_id, {"delivered"})
    r = await client.get(
        "/v1/sandbox/messages", params={"to": "+15005550006"}, headers=tenant.headers
    )
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert item["sms_id"] == sms_id and item["body"] == "Your code" and item["to"] == "+15005550006"
    r = await client.get("/v1/sandbox/messages", headers=other_tenant.headers)
    assert r.json()["items"] == []


async def test_tenants_do_not_see_each_other(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    sms_id = (await send(client, tenant, to="+15005550006")).json()["sms_id"]
    for path in (f"/v1/sms/status/{sms_id}", f"/v1/sms/{sms_id}", f"/v1/sms/events/{sms_id}"):
        r = await client.get(path, headers=other_tenant.headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await client.post(f"/v1/sms/cancel/{sms_id}", headers=other_tenant.headers)
    assert r.status_code == 404
    r = await client.post(f"/v1/sms/resend/{sms_id}", headers=other_tenant.headers)
    assert r.status_code == 404
    r = await client.get("/v1/sms/list", headers=other_tenant.headers)
    assert r.json()["items"] == []


async def test_expired_before_dispatch(db_url: str, tmp_path: Path) -> None:
    gw = Gateway.build(fast_settings(db_url, tmp_path / "d", validity_seconds=0))
    async with serving(gw) as (c, t):
        sms_id = (await send(c, t, to="+15005550006")).json()["sms_id"]
        rec = await wait_for_state(c, t, sms_id, {"expired"})
        assert rec["error_code"] == "validity_expired"
        async with gw.db.reader() as s:
            assert await s.scalar(select(func.count()).select_from(SandboxMessage)) == 0
