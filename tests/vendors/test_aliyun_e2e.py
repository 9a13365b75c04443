"""Aliyun end to end: the real server, the fake Aliyun, an SmsReport push back to the
token-protected hook, and a passcode through the OTP template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import serve_with_config
from tests.vendors.fake_aliyun import FakeAliyun
from tests.vendors.test_twilio_e2e import wait_state

pytestmark = pytest.mark.slow

TOKEN = "e2e-aliyun-receipt-token-0123456789abcdef"


@pytest.fixture
def fake() -> Iterator[FakeAliyun]:
    fake = FakeAliyun().start()
    yield fake
    fake.stop()


def config(fake: FakeAliyun, name: str = "aliyun-test") -> str:
    return (
        f'default_vendor = "{name}"\n[vendors.{name}]\ntype = "aliyun"\n'
        f'access_key_id = "{fake.access_key_id}"\n'
        'access_key_secret = { env = "T_ALIYUN_SECRET" }\n'
        f'sign_name = "{fake.sign_name}"\ntemplate_code = "{fake.template_code}"\n'
        f'otp_template_code = "{fake.otp_template_code}"\n'
        'callback_token = { env = "T_ALIYUN_TOKEN" }\n'
        f'base_url = "{fake.base_url}"\n'
    )


def test_send_through_aliyun_and_receive_a_pushed_report(
    tmp_path: Path, db_url: str, fake: FakeAliyun
) -> None:
    proc, url, key = serve_with_config(
        tmp_path,
        db_url,
        config(fake),
        {"T_ALIYUN_SECRET": fake.access_key_secret, "T_ALIYUN_TOKEN": TOKEN},
    )
    hook = f"{url}/hooks/aliyun-test/status"
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            r = c.post("/v1/sms/send", json={"to": "+8613800138000", "body": "您的订单已发货"})
            assert r.status_code == 200, r.text
            sms_id = r.json()["sms_id"]
            sent = wait_state(c, sms_id, "sent")
            [request] = fake.received
            assert request.params == {
                "Action": "SendSms",
                "Version": "2017-05-25",
                "Format": "JSON",
                "AccessKeyId": fake.access_key_id,
                "SignatureMethod": "HMAC-SHA1",
                "SignatureVersion": "1.0",
                "PhoneNumbers": "8613800138000",
                "SignName": fake.sign_name,
                "TemplateCode": fake.template_code,
                "TemplateParam": json.dumps({"content": "您的订单已发货"}, ensure_ascii=False),
                "OutId": sms_id,
            }
            assert request.biz_id is not None
            assert sent["vendor"] == "aliyun-test" and sent["vendor_message_id"] == request.biz_id

            # The push URL an operator sets in the console carries the token; Aliyun
            # signs nothing, so a push without it, or with another, is refused.
            report = fake.report(request.biz_id)
            for wrong in (hook, f"{hook}?token=guess", f"{hook}?token={TOKEN}x"):
                refused = fake.push([report], url=wrong)
                assert refused.status_code == 403
                assert refused.json()["error"]["code"] == "invalid_signature"
            assert c.get(f"/v1/sms/status/{sms_id}").json()["state"] == "sent"
            fake.push_url = f"{hook}?token={TOKEN}"
            ok = fake.push([report])
            assert ok.status_code == 200 and ok.json() == {"code": 0, "msg": "成功"}
            assert wait_state(c, sms_id, "delivered")["vendor"] == "aliyun-test"

            # A passcode goes through the OTP template with only the code in it.
            r = c.post("/v1/sms/otp", json={"to": "+8613800138001", "service_name": "Acme"})
            assert r.status_code == 200, r.text
            wait_state(c, r.json()["sms_id"], "sent")
            otp = fake.received[-1]
            assert otp.params["TemplateCode"] == fake.otp_template_code
            code = json.loads(otp.params["TemplateParam"])["code"]
            assert len(code) == 6 and code.isdigit()
            verified = c.post("/v1/sms/verify", json={"to": "+8613800138001", "code": code})
            assert verified.json()["valid"] is True

            # A batch: one failure and one report about a message we never sent.
            r = c.post("/v1/sms/send", json={"to": "+8613800138002", "body": "第二条"})
            second_id = r.json()["sms_id"]
            wait_state(c, second_id, "sent")
            second = fake.received[-1].biz_id
            assert second is not None
            failed = fake.report(second, success=False, err_code="MK:0001", err_msg="运营商拦截")
            unknown = {**failed, "biz_id": "111111111111111111^0"}
            assert fake.push([failed, unknown]).status_code == 200
            record = wait_state(c, second_id, "undelivered")
            assert (record["error_code"], record["error_message"]) == (
                "aliyun_MK:0001",
                "运营商拦截",
            )
        output = proc.output()
        assert fake.access_key_secret not in output and TOKEN not in output
    finally:
        proc.stop()


def test_vendors_check_reports_the_sign_names_review(
    tmp_path: Path, fake: FakeAliyun, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from smsgate.cli import app

    path = tmp_path / "smsgate.toml"
    path.write_text(config(fake, "aliyun-cn"))
    monkeypatch.setenv("T_ALIYUN_SECRET", fake.access_key_secret)
    monkeypatch.setenv("T_ALIYUN_TOKEN", TOKEN)
    runner = CliRunner()
    checked = runner.invoke(app, ["vendors", "check", "--config", str(path)])
    assert checked.exit_code == 0, checked.output
    assert f"ok   aliyun-cn: sign {fake.sign_name}: approved" in checked.output
    fake.review_sign(fake.sign_name, 2, "签名与资质不符")
    checked = runner.invoke(app, ["vendors", "check", "--config", str(path)])
    assert checked.exit_code == 1
    assert "fail aliyun-cn: aliyun_sign_rejected" in checked.output
    assert fake.access_key_secret not in checked.output and TOKEN not in checked.output
