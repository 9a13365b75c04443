"""Twilio end to end: the real server, the fake Twilio, a signed receipt back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import serve_with_config
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
    proc, url, key = serve_with_config(
        tmp_path,
        db_url,
        (
            f'[vendors.twilio-test]\ntype = "twilio"\naccount_sid = "{fake.account_sid}"\n'
            'auth_token = { env = "TEST_TWILIO_TOKEN" }\nfrom = "+15005550000"\n'
            f'base_url = "{fake.base_url}"\n'
        ),
        {"TEST_TWILIO_TOKEN": fake.auth_token},
    )
    try:
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


def test_incoming_message_webhook(tmp_path: Path, db_url: str, fake: FakeTwilio) -> None:
    proc, url, key = serve_with_config(
        tmp_path,
        db_url,
        (
            f'[vendors.twilio-test]\ntype = "twilio"\naccount_sid = "{fake.account_sid}"\n'
            'auth_token = { env = "TEST_TWILIO_TOKEN" }\nfrom = "+15005550000"\n'
            f'base_url = "{fake.base_url}"\n'
        ),
        {"TEST_TWILIO_TOKEN": fake.auth_token},
    )
    hook = f"{url}/hooks/twilio-test/inbound"
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            forged = fake.incoming_message(
                hook, "+14155550123", "+15005550000", "hi", "SM1", forge=True
            )
            assert forged.status_code == 403
            for _ in range(2):  # Twilio repeats a webhook it thinks failed: stored once
                ok = fake.incoming_message(hook, "+14155550123", "+15005550000", "STOP?", "SM1")
                assert ok.status_code == 200, ok.text
            items = c.get("/v1/sms/inbound/list").json()["items"]
            assert [(i["from"], i["to"], i["body"], i["vendor"]) for i in items] == [
                ("+14155550123", "+15005550000", "STOP?", "twilio-test")
            ]
            # A NUL in a signed message (its id and text) is stored cleaned, not a 500.
            ok = fake.incoming_message(hook, "+14155550123", "+15005550000", "a\x00", "SM\x002")
            assert ok.status_code == 200, ok.text
            assert c.get("/v1/sms/inbound/list").json()["items"][0]["body"] == "a\ufffd"
            # Bytes that are not UTF-8 cannot be verified: refused, not a 500.
            garbage = httpx.post(
                hook,
                content=b"Body=\xff\xfe",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert garbage.status_code == 403, garbage.text
    finally:
        proc.stop()


def test_vendors_list_and_check(
    tmp_path: Path, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from smsgate.cli import app

    config = tmp_path / "smsgate.toml"
    body = (
        f'default_vendor = "good"\n[vendors.good]\ntype = "twilio"\n'
        f'account_sid = "{fake.account_sid}"\nauth_token = {{ env = "TOKEN_GOOD" }}\n'
        f'from = "+15005550000"\nbase_url = "{fake.base_url}"\n'
        f'[vendors.bad]\ntype = "twilio"\naccount_sid = "{fake.account_sid}"\n'
        f'auth_token = {{ env = "TOKEN_BAD" }}\nfrom = "+15005550000"\n'
        f'base_url = "{fake.base_url}"\n'
    )
    config.write_text(body)
    monkeypatch.setenv("TOKEN_GOOD", fake.auth_token)
    monkeypatch.setenv("TOKEN_BAD", "wrong-token")
    runner = CliRunner()
    listed = runner.invoke(app, ["vendors", "list", "--config", str(config)])
    assert listed.exit_code == 0 and "good" in listed.output and "twilio" in listed.output
    assert fake.auth_token not in listed.output
    checked = runner.invoke(app, ["vendors", "check", "--config", str(config)])
    assert checked.exit_code == 1, checked.output
    assert "ok   good: account Fake account (active)" in checked.output
    assert "fail bad: vendor_auth_failed" in checked.output
    monkeypatch.delenv("TOKEN_BAD")
    missing = runner.invoke(app, ["vendors", "list", "--config", str(config)])
    assert missing.exit_code == 2 and "TOKEN_BAD is not set" in missing.output
