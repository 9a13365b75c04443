"""Vonage end to end: the real server, the fake Vonage, a signed delivery receipt back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import serve_with_config
from tests.vendors.fake_vonage import FakeVonage
from tests.vendors.test_twilio_e2e import wait_state

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakeVonage]:
    fake = FakeVonage().start()
    yield fake
    fake.stop()


def test_send_through_vonage_and_receive_a_signed_receipt(
    tmp_path: Path, db_url: str, fake: FakeVonage
) -> None:
    proc, url, key = serve_with_config(
        tmp_path,
        db_url,
        (
            'default_vendor = "vonage-test"\n[vendors.vonage-test]\ntype = "vonage"\n'
            f'api_key = "{fake.api_key}"\napi_secret = {{ env = "T_VONAGE_SECRET" }}\n'
            'signature_secret = { env = "T_VONAGE_SIG" }\nfrom = "ACME"\n'
            f'base_url = "{fake.base_url}"\n'
        ),
        {"T_VONAGE_SECRET": fake.api_secret, "T_VONAGE_SIG": fake.signature_secret},
    )
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            r = c.post("/v1/sms/send", json={"to": "+14155550123", "body": "Grüße €"})
            assert r.status_code == 200, r.text
            sms_id = r.json()["sms_id"]
            sent = wait_state(c, sms_id, "sent")
            [request] = fake.received
            assert {k: v for k, v in request.items() if k != "message-id"} == {
                "api_key": fake.api_key,
                "api_secret": fake.api_secret,
                "from": "ACME",
                "to": "14155550123",
                "text": "Grüße €",
                "type": "text",
                "client-ref": sms_id,
                "callback": f"{url}/hooks/vonage-test/status",
            }
            message_id = request["message-id"]
            assert sent["vendor_message_id"] == message_id
            forged = fake.delivery_receipt(message_id, "delivered", forge=True)
            assert forged.status_code == 403
            stale = fake.delivery_receipt(
                message_id, "delivered", timestamp=int(time.time()) - 3600
            )
            assert stale.status_code == 403
            assert fake.delivery_receipt(message_id, "delivered").status_code == 200
            assert wait_state(c, sms_id, "delivered")["vendor"] == "vonage-test"
            # A repeated receipt is harmless.
            assert fake.delivery_receipt(message_id, "delivered").status_code == 200
        assert fake.api_secret not in proc.output()
        assert fake.signature_secret not in proc.output()
    finally:
        proc.stop()
