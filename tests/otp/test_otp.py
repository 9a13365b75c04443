"""One-time passcodes through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from smsgate.db.models import Message, OtpRequest
from smsgate.db.types import utcnow
from smsgate.gateway import Gateway
from tests.conftest import Tenant, wait_for_state

pytestmark = pytest.mark.anyio

NUMBER = "+15005550006"


async def request_otp(
    client: httpx.AsyncClient, tenant: Tenant, to: str = NUMBER, **extra: object
) -> httpx.Response:
    return await client.post("/v1/sms/otp", json={"to": to, **extra}, headers=tenant.headers)


async def read_code(
    client: httpx.AsyncClient, tenant: Tenant, sms_id: str, to: str = NUMBER
) -> str:
    """Read the code the way a phone would: from the simulator's inbox."""
    await wait_for_state(client, tenant, sms_id, {"delivered"})
    r = await client.get("/v1/sandbox/messages", params={"to": to}, headers=tenant.headers)
    [text] = [m["body"] for m in r.json()["items"] if m["sms_id"] == sms_id]
    match = re.search(r"\b(\d{4,10})\b", text)
    assert match, text
    return match.group(1)


async def verify(
    client: httpx.AsyncClient, tenant: Tenant, code: str, to: str = NUMBER, **extra: object
) -> httpx.Response:
    return await client.post(
        "/v1/sms/verify", json={"to": to, "code": code, **extra}, headers=tenant.headers
    )


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


@pytest.fixture
def clock(gateway: Gateway) -> Clock:
    clock = Clock()
    gateway.clock = clock
    return clock


async def test_full_flow(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await request_otp(client, tenant, service_name="Acme")
    assert r.status_code == 200, r.text
    otp = r.json()
    assert {"request_id", "to", "state", "expires_at", "sms_id"} <= set(otp)
    assert otp["state"] == "pending" and otp["request_id"].startswith("otp_")
    code = await read_code(client, tenant, otp["sms_id"])
    assert len(code) == 6
    inbox = await client.get("/v1/sandbox/messages", params={"to": NUMBER}, headers=tenant.headers)
    assert inbox.json()["items"][0]["body"].startswith("Your Acme verification code is ")
    # The API never shows the code: not in the message record, its list, or the OTP record.
    for path in (
        f"/v1/sms/status/{otp['sms_id']}",
        "/v1/sms/list",
        f"/v1/sms/otp/{otp['request_id']}",
    ):
        assert code not in (await client.get(path, headers=tenant.headers)).text
    ok = await verify(client, tenant, code)
    assert ok.json() == {"valid": True, "state": "verified", "attempts_remaining": 5}
    again = await verify(client, tenant, code)
    assert again.json()["valid"] is False and again.json()["state"] == "verified"
    status = await client.get(f"/v1/sms/otp/{otp['request_id']}", headers=tenant.headers)
    assert status.json()["state"] == "verified" and status.json()["verified_at"]


async def test_five_wrong_codes_end_the_request(client: httpx.AsyncClient, tenant: Tenant) -> None:
    otp = (await request_otp(client, tenant)).json()
    code = await read_code(client, tenant, otp["sms_id"])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    remaining = [(await verify(client, tenant, wrong)).json() for _ in range(5)]
    assert [r["attempts_remaining"] for r in remaining] == [4, 3, 2, 1, 0]
    assert remaining[-1]["state"] == "max_attempts_reached"
    right = await verify(client, tenant, code)
    assert right.json() == {
        "valid": False,
        "state": "max_attempts_reached",
        "attempts_remaining": 0,
    }


async def test_expiry_follows_the_clock(
    client: httpx.AsyncClient, tenant: Tenant, clock: Clock
) -> None:
    otp = (await request_otp(client, tenant, ttl_seconds=60)).json()
    code = await read_code(client, tenant, otp["sms_id"])
    clock.offset = timedelta(seconds=61)
    status = await client.get(f"/v1/sms/otp/{otp['request_id']}", headers=tenant.headers)
    assert status.json()["state"] == "expired"
    r = await verify(client, tenant, code)
    assert r.json() == {"valid": False, "state": "expired", "attempts_remaining": 0}


async def test_cancel(client: httpx.AsyncClient, tenant: Tenant) -> None:
    otp = (await request_otp(client, tenant)).json()
    code = await read_code(client, tenant, otp["sms_id"])
    r = await client.post(f"/v1/sms/otp/{otp['request_id']}/cancel", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["state"] == "canceled"
    assert (await verify(client, tenant, code)).json()["valid"] is False
    again = await client.post(f"/v1/sms/otp/{otp['request_id']}/cancel", headers=tenant.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
    missing = await client.post("/v1/sms/otp/otp_nope/cancel", headers=tenant.headers)
    assert missing.status_code == 404


async def test_resend_cooldown_and_number_limit(
    client: httpx.AsyncClient, tenant: Tenant, clock: Clock
) -> None:
    first = (await request_otp(client, tenant)).json()
    old_code = await read_code(client, tenant, first["sms_id"])
    soon = await request_otp(client, tenant)
    assert soon.status_code == 429
    assert soon.json()["error"]["code"] == "otp_resend_too_soon"
    assert 1 <= int(soon.headers["retry-after"]) <= 30
    clock.offset = timedelta(seconds=31)
    resent = (await request_otp(client, tenant)).json()
    assert resent["request_id"] == first["request_id"] and resent["send_count"] == 2
    assert resent["sms_id"] != first["sms_id"]
    new_code = await read_code(client, tenant, resent["sms_id"])
    if new_code != old_code:  # the old code stops working when a new one is sent
        assert (await verify(client, tenant, old_code)).json()["valid"] is False
    for n in range(3, 6):
        clock.offset += timedelta(seconds=31)
        assert (await request_otp(client, tenant)).json()["send_count"] == n
    clock.offset += timedelta(seconds=31)
    limited = await request_otp(client, tenant)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "otp_send_limit"
    assert int(limited.headers["retry-after"]) > 0
    clock.offset += timedelta(minutes=10)
    assert (await request_otp(client, tenant)).status_code == 200


async def test_parallel_verifies_give_one_valid(client: httpx.AsyncClient, tenant: Tenant) -> None:
    otp = (await request_otp(client, tenant)).json()
    code = await read_code(client, tenant, otp["sms_id"])
    answers = await asyncio.gather(*(verify(client, tenant, code) for _ in range(20)))
    assert all(a.status_code == 200 for a in answers)
    assert sum(a.json()["valid"] for a in answers) == 1


async def test_code_never_in_answers_or_logs(
    client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    otp_r = await request_otp(client, tenant, service_name="Acme")
    bodies.append(otp_r.text)
    otp = otp_r.json()
    code = await read_code(client, tenant, otp["sms_id"])
    for r in [
        await verify(client, tenant, "000000" if code != "000000" else "111111"),
        await client.get(f"/v1/sms/otp/{otp['request_id']}", headers=tenant.headers),
        await client.get(f"/v1/sms/events/{otp['sms_id']}", headers=tenant.headers),
        await client.get(f"/v1/sms/{otp['sms_id']}", headers=tenant.headers),
        await client.post(f"/v1/sms/resend/{otp['sms_id']}", headers=tenant.headers),
        await verify(client, tenant, code),
    ]:
        bodies.append(r.text)
    assert all(code not in b for b in bodies)
    assert code not in caplog.text
    async with gateway.db.reader() as s:
        stored = await s.scalar(select(OtpRequest).where(OtpRequest.id == otp["request_id"]))
        message = await s.get(Message, otp["sms_id"])
    assert stored is not None and message is not None
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    assert code not in message.body and "••••••" in message.body


async def test_otp_resend_through_sms_resend_is_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    otp = (await request_otp(client, tenant)).json()
    await wait_for_state(client, tenant, otp["sms_id"], {"delivered"})
    r = await client.post(f"/v1/sms/resend/{otp['sms_id']}", headers=tenant.headers)
    assert r.status_code == 409


async def test_country_allow_list(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.put(
        "/v1/sms/otp/settings", json={"allowed_countries": ["US"]}, headers=tenant.headers
    )
    assert r.status_code == 200 and r.json()["allowed_countries"] == ["US"]
    de = await request_otp(client, tenant, to="+4915112345678")
    assert de.status_code == 403 and de.json()["error"]["code"] == "country_not_allowed"
    assert (await request_otp(client, tenant)).status_code == 200
    bad = await client.put("/v1/sms/otp/settings", json={"max_attempts": 0}, headers=tenant.headers)
    assert bad.status_code == 422


async def test_pumping_burst_blocks_one_prefix(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await client.put("/v1/sms/otp/settings", json={"prefix_limit": 5}, headers=tenant.headers)
    # Five different numbers in +1 202 555 01xx: all sent; the sixth trips the block.
    answers = [await request_otp(client, tenant, to=f"+1202555010{i}") for i in range(7)]
    codes = [a.status_code for a in answers]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    assert answers[5].json()["error"]["code"] == "otp_prefix_blocked"
    assert int(answers[5].headers["retry-after"]) > 3000
    # Another prefix keeps working.
    assert (await request_otp(client, tenant, to="+14155550123")).status_code == 200


async def test_stats_conversion(client: httpx.AsyncClient, tenant: Tenant) -> None:
    a = (await request_otp(client, tenant)).json()
    await request_otp(client, tenant, to="+14155550123")
    await request_otp(client, tenant, to="+4915112345678")
    code = await read_code(client, tenant, a["sms_id"])
    assert (await verify(client, tenant, code)).json()["valid"]
    r = await client.get("/v1/sms/otp/stats", headers=tenant.headers)
    data = r.json()
    by_country = {i["country"]: i for i in data["items"]}
    assert by_country["US"] == {
        "country": "US",
        "requests": 2,
        "verified": 1,
        "conversion_rate": 0.5,
    }
    assert by_country["DE"]["conversion_rate"] == 0.0
    assert data["total"]["requests"] == 3 and data["total"]["verified"] == 1


async def test_bad_input(client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant) -> None:
    cases = [
        ({"to": "nope"}, 422, "invalid_phone_number"),
        ({"to": NUMBER, "code_length": 3}, 422, "invalid_parameter"),
        ({"to": NUMBER, "ttl_seconds": 90_000}, 422, "invalid_parameter"),
        ({"to": NUMBER, "template_id": "tpl_x"}, 422, "unknown_template"),
    ]
    for body, status, code in cases:
        r = await client.post("/v1/sms/otp", json=body, headers=tenant.headers)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
    r = await verify(client, tenant, "123456", to="+14155550100")
    assert r.status_code == 404
    otp = (await request_otp(client, tenant)).json()
    r = await client.get(f"/v1/sms/otp/{otp['request_id']}", headers=other_tenant.headers)
    assert r.status_code == 404
    r = await verify(client, other_tenant, "123456", request_id=otp["request_id"])
    assert r.status_code == 404
    r = await client.post(
        "/v1/sms/verify", json={"to": NUMBER, "code": 123456}, headers=tenant.headers
    )
    assert r.status_code == 422 and "123456" not in r.text
