from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant, wait_for_state

pytestmark = pytest.mark.anyio


async def test_send_is_delivered(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post(
        "/v1/sms/send", json={"to": "+15005550006", "body": "hello"}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["state"] == "queued"
    done = await wait_for_state(client, tenant, record["sms_id"], {"delivered"})
    assert done["vendor"] == "simulator"
