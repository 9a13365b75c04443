"""GET /v1/sms/inbound/list: shape, filters, paging, tenancy, bad input."""

from __future__ import annotations

import httpx
import pytest

from smsgate.gateway import Gateway
from smsgate.vendors.base import InboundMessage, InboundPart
from tests.conftest import Tenant

pytestmark = pytest.mark.anyio


async def test_inbound_list_filters_pages_and_is_per_project(
    client: httpx.AsyncClient, gateway: Gateway, tenant: Tenant, other_tenant: Tenant
) -> None:
    # The other project wrote to +447911123456 last, so its replies are the other's.
    r = await client.post(
        "/v1/sms/send", json={"to": "+447911123456", "body": "hi"}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/v1/sms/send", json={"to": "+447400123456", "body": "hi"}, headers=other_tenant.headers
    )
    assert r.status_code == 200, r.text
    await gateway.store_events(
        "simulator",
        [
            InboundMessage("+447911123456", "+15550001111", "first"),
            InboundMessage("+447400123456", "+15550001111", "not yours"),
            InboundMessage("+447911123456", "+15550002222", "second, ", part=InboundPart(9, 2, 1)),
        ],
    )
    # A part repeated (an SMSC redelivery) is stored once; the last part completes it.
    await gateway.store_events(
        "simulator",
        [InboundMessage("+447911123456", "+15550002222", "second, ", part=InboundPart(9, 2, 1))],
    )
    await gateway.store_events(
        "simulator",
        [InboundMessage("+447911123456", "+15550002222", "done", part=InboundPart(9, 2, 2))],
    )
    r = await client.get("/v1/sms/inbound/list", headers=tenant.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(i["body"], i["segments"]) for i in items] == [("second, done", 2), ("first", 1)]
    assert set(items[0]) == {"id", "from", "to", "body", "segments", "vendor", "received_at"}
    r = await client.get("/v1/sms/inbound/list", headers=other_tenant.headers)
    assert [i["body"] for i in r.json()["items"]] == ["not yours"]

    r = await client.get(
        "/v1/sms/inbound/list", params={"to": "+15550001111"}, headers=tenant.headers
    )
    assert [i["body"] for i in r.json()["items"]] == ["first"]
    r = await client.get("/v1/sms/inbound/list", params={"limit": 1}, headers=tenant.headers)
    page = r.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    r = await client.get(
        "/v1/sms/inbound/list",
        params={"limit": 1, "cursor": page["next_cursor"]},
        headers=tenant.headers,
    )
    assert [i["body"] for i in r.json()["items"]] == ["first"]
    assert r.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "many"}, "invalid_parameter"),
        ({"cursor": "!!!"}, "invalid_cursor"),
        ({"limit": "0"}, "invalid_parameter"),
    ],
)
async def test_inbound_list_bad_input(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], code: str
) -> None:
    r = await client.get("/v1/sms/inbound/list", params=params, headers=tenant.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code


async def test_inbound_list_needs_a_key(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/sms/inbound/list")
    assert r.status_code == 401


async def test_a_nul_in_a_phones_text_is_stored_as_a_replacement_character(
    client: httpx.AsyncClient, gateway: Gateway, tenant: Tenant
) -> None:
    """A phone's text is not refused (the upstream would only resend it), but PostgreSQL
    cannot store U+0000: it becomes U+FFFD, in whole messages and in parts."""
    await gateway.store_events(
        "simulator",
        [
            InboundMessage("+447911123456", "+15550001111", "a\x00b"),
            InboundMessage("+447911123456", "+15550001111", "c\x00", part=InboundPart(3, 2, 1)),
            InboundMessage("+447911123456", "+15550001111", "d", part=InboundPart(3, 2, 2)),
        ],
    )
    r = await client.get("/v1/sms/inbound/list", headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert sorted(i["body"] for i in r.json()["items"]) == ["a\ufffdb", "c\ufffdd"]
