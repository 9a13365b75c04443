"""Twilio end to end: the real server, the fake Twilio, a signed receipt back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import free_port, printed_key, serve
from tests.vendors.fake_twilio import FakeTwilio

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


def wait_state(c: httpx.Client, sms_id: str, state: str, timeout: float = 10) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        rec: dict[str, str] = c.get(f"/v1/sms/status/{sms_id}").json()
        if rec["state"] == state:
            return rec
        assert time.monotonic() < deadline, rec
        time.sleep(0.05)


def test_send_through_twilio_and_receive_a_signed_receipt(
    tmp_path: Path, db_url: str, fake: FakeTwilio
) -> None:
    config = tmp_path / "smsgate.toml"
    config.write_text(
        f'[vendors.twilio-test]\ntype = "twilio"\naccount_sid = "{fake.account_sid}"\n'
        'auth_token = { env = "TEST_TWILIO_TOKEN" }\nfrom = "+15005550000"\n'
        f'base_url = "{fake.base_url}"\n'
    )
    port = free_port()
    proc, url = serve(
        tmp_path,
        db_url,
        port=port,
        env={
            "SMSGATE_CONFIG_FILE": str(config),
            "TEST_TWILIO_TOKEN": fake.auth_token,
            "SMSGATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
    )
    try:
        key = printed_key(proc)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            r = c.post(
                "/v1/sms/send",
                json={"to": "+14155550123", "body": "via Twilio", "vendor": "twilio-test"},
            )
            assert r.status_code == 200, r.text
            sms_id = r.json()["sms_id"]
            sent = wait_state(c, sms_id, "sent")
            [request] = fake.received
            assert request.form == {
                "To": "+14155550123",
                "Body": "via Twilio",
                "From": "+15005550000",
                "StatusCallback": f"{url}/hooks/twilio-test/status",
            }
            assert sent["vendor"] == "twilio-test" and sent["vendor_message_id"] == request.sid
            assert request.sid is not None
            forged = fake.status_callback(request.sid, "delivered", forge=True)
            assert forged.status_code == 403
            assert forged.json()["error"]["code"] == "invalid_signature"
            assert c.get(f"/v1/sms/status/{sms_id}").json()["state"] == "sent"
            ok = fake.status_callback(request.sid, "delivered")
            assert ok.status_code == 200
            assert wait_state(c, sms_id, "delivered")["vendor"] == "twilio-test"
            # A late "sent" repeat never undoes "delivered".
            assert fake.status_callback(request.sid, "sent").status_code == 200
            assert c.get(f"/v1/sms/status/{sms_id}").json()["state"] == "delivered"
            # An unknown vendor pin is refused; a secret never shows in any answer.
            r = c.post("/v1/sms/send", json={"to": "+14155550123", "body": "x", "vendor": "nope"})
            assert r.status_code == 422
        assert fake.auth_token not in proc.output()
    finally:
        proc.stop()
