"""Plivo end to end: the real server, the fake Plivo, a V3-signed status callback back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import serve_with_config
from tests.vendors.fake_plivo import FakePlivo
from tests.vendors.test_twilio_e2e import wait_state

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakePlivo]:
    fake = FakePlivo().start()
    yield fake
    fake.stop()


def test_send_through_plivo_and_receive_a_signed_callback(
    tmp_path: Path, db_url: str, fake: FakePlivo
) -> None:
    proc, url, key = serve_with_config(
        tmp_path,
        db_url,
        (
            'default_vendor = "plivo-test"\n[vendors.plivo-test]\ntype = "plivo"\n'
            f'auth_id = "{fake.auth_id}"\nauth_token = {{ env = "T_PLIVO_TOKEN" }}\n'
            f'from = "+15005550000"\nbase_url = "{fake.base_url}"\n'
        ),
        {"T_PLIVO_TOKEN": fake.auth_token},
    )
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            r = c.post("/v1/sms/send", json={"to": "+14155550123", "body": "via Plivo"})
            assert r.status_code == 200, r.text
            sms_id = r.json()["sms_id"]
            sent = wait_state(c, sms_id, "sent")
            [request] = fake.received
            assert request.auth_id == fake.auth_id
            assert request.body == {
                "src": "+15005550000",
                "dst": "+14155550123",
                "text": "via Plivo",
                "url": f"{url}/hooks/plivo-test/status",
                "method": "POST",
            }
            assert request.message_uuid is not None
            assert sent["vendor"] == "plivo-test"
            assert sent["vendor_message_id"] == request.message_uuid
            forged = fake.status_callback(request.message_uuid, "delivered", forge=True)
            assert forged.status_code == 403
            assert forged.json()["error"]["code"] == "invalid_signature"
            assert c.get(f"/v1/sms/status/{sms_id}").json()["state"] == "sent"
            ok = fake.status_callback(request.message_uuid, "delivered")
            assert ok.status_code == 200 and ok.json() == {"received": 1}
            assert wait_state(c, sms_id, "delivered")["vendor"] == "plivo-test"
            # A late "sent" never undoes "delivered".
            assert fake.status_callback(request.message_uuid, "sent").status_code == 200
            assert c.get(f"/v1/sms/status/{sms_id}").json()["state"] == "delivered"

            r = c.post("/v1/sms/send", json={"to": "+14155550124", "body": "will bounce"})
            bounced_id = r.json()["sms_id"]
            wait_state(c, bounced_id, "sent")
            bounced = fake.received[-1].message_uuid
            assert bounced is not None
            assert fake.status_callback(bounced, "undelivered", "50").status_code == 200
            record = wait_state(c, bounced_id, "undelivered")
            assert record["error_code"] == "plivo_50"
        assert fake.auth_token not in proc.output()
    finally:
        proc.stop()
