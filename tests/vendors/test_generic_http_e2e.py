"""The templated-HTTP vendor end to end, against a Kannel-style fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import serve_with_config
from tests.vendors.fake_kannel import FakeKannel
from tests.vendors.test_twilio_e2e import wait_state

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakeKannel]:
    fake = FakeKannel().start()
    yield fake
    fake.stop()


def test_send_through_a_kannel_box_and_receive_its_dlr(
    tmp_path: Path, db_url: str, fake: FakeKannel
) -> None:
    token = "kannel-callback-token-0123456789"
    proc, url, key = serve_with_config(
        tmp_path,
        db_url,
        (
            'default_vendor = "kannel"\n[vendors.kannel]\ntype = "http"\n'
            f'url = "{fake.base_url}/cgi-bin/sendsms?username={{username}}&password={{password}}'
            '&to={to_digits}&text={text}&sms_id={sms_id}&dlr-mask=31&dlr-url={callback}"\n'
            f'params = {{ username = "{fake.username}" }}\n'
            'secrets = { password = { env = "T_KANNEL_PASSWORD" } }\n'
            "success_status = [202]\n"
            'success_regex = "^0: Accepted"\n'
            'callback_token = { env = "T_KANNEL_TOKEN" }\n'
            'statuses = { "1" = "delivered", "2" = "undelivered", "8" = "sent", "16" = "failed" }\n'
        ),
        {"T_KANNEL_PASSWORD": fake.password, "T_KANNEL_TOKEN": token},
    )
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            r = c.post("/v1/sms/send", json={"to": "+14155550123", "body": "a & b = c"})
            sms_id = r.json()["sms_id"]
            wait_state(c, sms_id, "sent")
            [request] = fake.received
            assert request["text"] == "a & b = c" and request["to"] == "14155550123"
            assert request["dlr-url"] == f"{url}/hooks/kannel/status?token={token}"
            wrong = httpx.post(f"{url}/hooks/kannel/status?token=nope&id={sms_id}&status=1")
            assert wrong.status_code == 403
            assert fake.dlr(sms_id, "1").status_code == 200
            assert wait_state(c, sms_id, "delivered")["vendor"] == "kannel"
        assert fake.password not in proc.output()
    finally:
        proc.stop()
