"""Telnyx end to end: the real server, the fake Telnyx, Ed25519-signed webhooks back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import serve_with_config
from tests.vendors.fake_telnyx import FakeTelnyx
from tests.vendors.test_twilio_e2e import wait_state

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakeTelnyx]:
    fake = FakeTelnyx().start()
    yield fake
    fake.stop()


def test_send_through_telnyx_and_receive_signed_webhooks(
    tmp_path: Path, db_url: str, fake: FakeTelnyx
) -> None:
    proc, url, key = serve_with_config(
        tmp_path,
        db_url,
        (
            'default_vendor = "telnyx-test"\n[vendors.telnyx-test]\ntype = "telnyx"\n'
            'api_key = { env = "T_TELNYX_KEY" }\n'
            f'public_key = "{fake.public_key}"\nfrom = "+15005550000"\n'
            f'base_url = "{fake.base_url}"\n'
        ),
        {"T_TELNYX_KEY": fake.api_key},
    )
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            r = c.post("/v1/sms/send", json={"to": "+14155550123", "body": "via Telnyx"})
            sms_id = r.json()["sms_id"]
            wait_state(c, sms_id, "sent")
            [request] = fake.received
            assert {k: v for k, v in request.items() if k != "id"} == {
                "to": "+14155550123",
                "text": "via Telnyx",
                "from": "+15005550000",
                "webhook_url": f"{url}/hooks/telnyx-test/status",
            }
            mid = request["id"]
            assert (
                fake.webhook(mid, "message.finalized", "delivered", forge=True).status_code == 403
            )
            assert (
                fake.webhook(
                    mid, "message.finalized", "delivered", timestamp=int(time.time()) - 3600
                ).status_code
                == 403
            )
            assert fake.webhook(mid, "message.sent", "sent").status_code == 200
            assert fake.webhook(mid, "message.finalized", "delivered").status_code == 200
            assert wait_state(c, sms_id, "delivered")["vendor"] == "telnyx-test"
        assert fake.api_key not in proc.output()
    finally:
        proc.stop()
