"""Bring your own key: a project's own Twilio account, sealed at rest, never echoed."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from smsgate.db.models import ProjectVendor
from smsgate.gateway import Gateway
from smsgate.vendors.twilio import signature
from tests.conftest import Tenant, wait_for_state
from tests.vendors.fake_twilio import FakeTwilio

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


def twilio_config(fake: FakeTwilio, **overrides: object) -> dict[str, object]:
    return {
        "account_sid": fake.account_sid,
        "auth_token": fake.auth_token,
        "from": "+15005550000",
        "base_url": fake.base_url,
        **overrides,
    }


async def test_own_twilio_account(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    gateway: Gateway,
    fake: FakeTwilio,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    h = tenant.headers
    r = await client.post(
        "/v1/vendors",
        headers=h,
        json={"name": "my-twilio", "type": "twilio", "config": twilio_config(fake)},
    )
    assert r.status_code == 200, r.text
    created = r.json()
    assert fake.auth_token not in r.text
    assert created["secret_fields"] == ["auth_token"] and created["scope"] == "project"
    hook = f"/hooks/p/{tenant.project_id}/my-twilio/status"
    assert created["callback_url"].endswith(hook)
    listing = await client.get("/v1/vendors", headers=h)
    assert {v["name"] for v in listing.json()["items"]} == {"simulator", "my-twilio"}
    assert fake.auth_token not in listing.text
    async with gateway.db.reader() as s:
        row = await s.scalar(select(ProjectVendor))
    assert row is not None and fake.auth_token not in row.sealed_secrets
    assert fake.auth_token not in str(row.settings)

    r = await client.post(
        "/v1/sms/send",
        headers=h,
        json={"to": "+14155550123", "body": "mine", "vendor": "my-twilio"},
    )
    assert r.status_code == 200, r.text
    sms_id = r.json()["sms_id"]
    sent = await wait_for_state(client, tenant, sms_id, {"sent"})
    [request] = fake.received
    assert request.form["StatusCallback"] == created["callback_url"]
    assert sent["vendor"] == "my-twilio" and sent["vendor_message_id"] == request.sid

    form = {"MessageSid": request.sid, "MessageStatus": "delivered"}
    url = created["callback_url"]
    forged = await client.post(
        hook, data=form, headers={"X-Twilio-Signature": signature("wrong", url, list(form.items()))}
    )
    assert forged.status_code == 403
    ok = await client.post(
        hook,
        data=form,
        headers={"X-Twilio-Signature": signature(fake.auth_token, url, list(form.items()))},
    )
    assert ok.status_code == 200, ok.text
    await wait_for_state(client, tenant, sms_id, {"delivered"})

    # Another project neither sees nor uses it; its hook path answers 404.
    o = other_tenant.headers
    r = await client.post(
        "/v1/sms/send", headers=o, json={"to": "+14155550123", "body": "x", "vendor": "my-twilio"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_vendor"
    assert "my-twilio" not in (await client.get("/v1/vendors", headers=o)).text
    assert (await client.delete("/v1/vendors/my-twilio", headers=o)).status_code == 404
    r = await client.post(f"/hooks/p/{other_tenant.project_id}/my-twilio/status", data=form)
    assert r.status_code == 404

    assert (await client.delete("/v1/vendors/my-twilio", headers=h)).json() == {"deleted": True}
    r = await client.post(
        "/v1/sms/send", headers=h, json={"to": "+14155550123", "body": "x", "vendor": "my-twilio"}
    )
    assert r.status_code == 422
    assert fake.auth_token not in caplog.text


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"name": "x1", "type": "twilio", "config": {"auth_token": {"env": "PATH"}}},
            "config.auth_token",
        ),
        ({"name": "x2", "type": "carrier-pigeon", "config": {}}, "type"),
        (
            {"name": "x3", "type": "twilio", "config": {"account_sid": "AC1", "auth_token": "t"}},
            None,
        ),
        ({"name": "Bad Name", "type": "twilio", "config": {}}, "name"),
        ({"name": "simulator", "type": "twilio", "config": {}}, "name"),
    ],
)
async def test_bad_vendor_configs(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, object], param: str | None
) -> None:
    r = await client.post("/v1/vendors", headers=tenant.headers, json=body)
    assert r.status_code == 422, r.text
    if param:
        assert r.json()["error"]["param"] == param


async def test_vendor_admin_needs_admin(client: httpx.AsyncClient, gateway: Gateway) -> None:
    from tests.conftest import make_tenant

    sender = await make_tenant(gateway.db, permissions=("sms:send", "sms:read"))
    r = await client.get("/v1/vendors", headers=sender.headers)
    assert r.status_code == 403


async def test_a_projects_vendor_cannot_touch_another_projects_messages(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, fake: FakeTwilio
) -> None:
    """Two projects name their own accounts alike; one's signed callback names the other's
    message: nothing happens to it."""
    for t in (tenant, other_tenant):
        r = await client.post(
            "/v1/vendors",
            headers=t.headers,
            json={"name": "mine", "type": "twilio", "config": twilio_config(fake)},
        )
        assert r.status_code == 200
    r = await client.post(
        "/v1/sms/send",
        headers=tenant.headers,
        json={"to": "+14155550123", "body": "a", "vendor": "mine"},
    )
    sms_id = r.json()["sms_id"]
    sent = await wait_for_state(client, tenant, sms_id, {"sent"})
    form = {"MessageSid": sent["vendor_message_id"], "MessageStatus": "failed"}
    hook = f"/hooks/p/{other_tenant.project_id}/mine/status"
    url = f"http://127.0.0.1:8000{hook}"
    r = await client.post(
        hook,
        data=form,
        headers={"X-Twilio-Signature": signature(fake.auth_token, url, list(form.items()))},
    )
    assert r.status_code == 200  # a valid callback of the other project, about nothing of its
    status = await client.get(f"/v1/sms/status/{sms_id}", headers=tenant.headers)
    assert status.json()["state"] == "sent"


async def test_own_aliyun_account_takes_its_pushed_reports(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    from tests.vendors.fake_aliyun import FakeAliyun

    aliyun = FakeAliyun().start()
    token = "project-aliyun-receipt-token-0123456789"
    try:
        h = tenant.headers
        config = {
            "access_key_id": aliyun.access_key_id,
            "access_key_secret": aliyun.access_key_secret,
            "sign_name": aliyun.sign_name,
            "template_code": aliyun.template_code,
            "callback_token": token,
            "base_url": aliyun.base_url,
        }
        r = await client.post(
            "/v1/vendors", headers=h, json={"name": "my-aliyun", "type": "aliyun", "config": config}
        )
        assert r.status_code == 200, r.text
        created = r.json()
        assert created["secret_fields"] == ["access_key_secret", "callback_token"]
        assert aliyun.access_key_secret not in r.text and token not in r.text
        r = await client.post(
            "/v1/sms/send",
            headers=h,
            json={"to": "+8613800138000", "body": "自己的账号", "vendor": "my-aliyun"},
        )
        sms_id = r.json()["sms_id"]
        await wait_for_state(client, tenant, sms_id, {"sent"})
        [sent] = aliyun.received
        assert sent.biz_id is not None
        hook = f"/hooks/p/{tenant.project_id}/my-aliyun/status"
        report = aliyun.report(sent.biz_id)
        refused = await client.post(f"{hook}?token=guess", json=[report])
        assert refused.status_code == 403
        ok = await client.post(f"{hook}?token={token}", json=[report])
        assert ok.status_code == 200 and ok.json() == {"code": 0, "msg": "成功"}
        await wait_for_state(client, tenant, sms_id, {"delivered"})
    finally:
        aliyun.stop()
