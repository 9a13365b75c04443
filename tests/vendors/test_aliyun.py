"""Aliyun beyond the conformance table: sign-name and template reviews, the error table,
the OTP template, and SmsReport receipt batches, against the local fake."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from smsgate.vendors.aliyun import AliyunVendor, Review
from smsgate.vendors.base import (
    CallbackRequest,
    InvalidCallback,
    OutboundMessage,
    PermanentVendorError,
    TransientVendorError,
    VendorError,
)
from smsgate.vendors.config import AliyunConfig
from tests.vendors.fake_aliyun import FakeAliyun

pytestmark = pytest.mark.anyio

TOKEN = "aliyun-receipt-token-abcdefghijklmnop"
HOOK = "https://gw.example/hooks/aliyun-cn/status"
MESSAGE = OutboundMessage(
    sms_id="sms_01ALIYUN",
    project_id="prj_1",
    to="+8613800138000",
    from_=None,
    body="您的订单已发货",
    segments=1,
    encoding="UCS-2",
    kind="transactional",
    attempt=1,
)
OTP = OutboundMessage(
    sms_id="sms_01OTP",
    project_id="prj_1",
    to="+8613800138000",
    from_=None,
    body="Your Acme verification code is 482913. It expires in 10 minutes.",
    segments=1,
    encoding="GSM-7",
    kind="otp",
    attempt=1,
)


@pytest.fixture
def fake() -> Iterator[FakeAliyun]:
    fake = FakeAliyun().start()
    yield fake
    fake.stop()


def make(fake: FakeAliyun, **overrides: Any) -> AliyunVendor:
    kwargs: dict[str, Any] = {
        "access_key_id": fake.access_key_id,
        "access_key_secret": SecretStr(fake.access_key_secret),
        "sign_name": fake.sign_name,
        "template_code": fake.template_code,
        "otp_template_code": fake.otp_template_code,
        "callback_token": SecretStr(TOKEN),
        "callback_url": HOOK,
        "base_url": fake.base_url,
        "timeout": 2.0,
    }
    return AliyunVendor("aliyun-cn", **{**kwargs, **overrides})


@pytest.fixture
async def vendor(fake: FakeAliyun) -> AsyncIterator[AliyunVendor]:
    vendor = make(fake)
    yield vendor
    await vendor.aclose()


async def test_sends_the_body_in_the_template_variable(
    fake: FakeAliyun, vendor: AliyunVendor
) -> None:
    submitted = await vendor.send(MESSAGE)
    [sent] = fake.received
    assert sent.biz_id == submitted.vendor_message_id
    assert sent.params["PhoneNumbers"] == "8613800138000"
    assert json.loads(sent.params["TemplateParam"]) == {"content": "您的订单已发货"}
    assert sent.params["OutId"] == "sms_01ALIYUN"


async def test_an_otp_goes_through_the_otp_template_with_only_its_code(
    fake: FakeAliyun, vendor: AliyunVendor
) -> None:
    await vendor.send(OTP)
    [sent] = fake.received
    assert sent.params["TemplateCode"] == fake.otp_template_code
    assert json.loads(sent.params["TemplateParam"]) == {"code": "482913"}
    without_code = dataclasses.replace(OTP, body="Your Acme code is in the app.")
    with pytest.raises(PermanentVendorError) as info:
        await vendor.send(without_code)
    assert info.value.code == "aliyun_otp_code_missing"
    assert len(fake.received) == 1  # nothing went out


async def test_without_an_otp_template_an_otp_is_sent_like_any_text(fake: FakeAliyun) -> None:
    vendor = make(fake, otp_template_code=None)
    try:
        await vendor.send(OTP)
    finally:
        await vendor.aclose()
    [sent] = fake.received
    assert sent.params["TemplateCode"] == fake.template_code
    assert json.loads(sent.params["TemplateParam"]) == {"content": OTP.body}


@pytest.mark.parametrize(
    ("code", "error", "ours"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", TransientVendorError, "vendor_throttled"),
        ("isv.DAY_LIMIT_CONTROL", TransientVendorError, "vendor_throttled"),
        ("isp.SYSTEM_ERROR", TransientVendorError, "vendor_unavailable"),
        ("isv.AMOUNT_NOT_ENOUGH", TransientVendorError, "vendor_account"),
        ("isv.MOBILE_NUMBER_ILLEGAL", PermanentVendorError, "aliyun_isv.MOBILE_NUMBER_ILLEGAL"),
        ("isv.SMS_SIGNATURE_ILLEGAL", PermanentVendorError, "aliyun_isv.SMS_SIGNATURE_ILLEGAL"),
        ("isv.SMS_TEMPLATE_ILLEGAL", PermanentVendorError, "aliyun_isv.SMS_TEMPLATE_ILLEGAL"),
        ("isv.SOMETHING_NEW", PermanentVendorError, "aliyun_isv.SOMETHING_NEW"),
    ],
)
async def test_answer_codes_follow_the_error_table(
    fake: FakeAliyun,
    vendor: AliyunVendor,
    code: str,
    error: type[VendorError],
    ours: str,
) -> None:
    fake.reject_next(code, "说明")
    with pytest.raises(error) as info:
        await vendor.send(MESSAGE)
    assert info.value.code == ours


async def test_the_fake_checks_the_signature_and_the_keys(fake: FakeAliyun) -> None:
    wrong_secret = make(fake, access_key_secret=SecretStr("not-the-secret"))
    wrong_key = make(fake, access_key_id="LTAI5tSomebodyElse")
    try:
        with pytest.raises(TransientVendorError) as info:
            await wrong_secret.send(MESSAGE)
        assert info.value.code == "vendor_auth_failed"
        # Aliyun echoes the string it signed, text included; none of it is kept.
        assert "string to sign" not in info.value.message
        assert "TemplateParam" not in info.value.message
        with pytest.raises(TransientVendorError) as info:
            await wrong_key.send(MESSAGE)
        assert info.value.code == "vendor_auth_failed"
    finally:
        await wrong_secret.aclose()
        await wrong_key.aclose()
    assert not [s for s in fake.received if s.biz_id]


async def test_an_unapproved_sign_name_fails_the_message(
    fake: FakeAliyun, vendor: AliyunVendor
) -> None:
    fake.review_sign(fake.sign_name, 0)
    with pytest.raises(PermanentVendorError) as info:
        await vendor.send(MESSAGE)
    assert info.value.code == "aliyun_isv.SMS_SIGNATURE_ILLEGAL"


async def test_sign_name_review(fake: FakeAliyun, vendor: AliyunVendor) -> None:
    proof = b"\x89PNG\r\n\x1a\n fake licence scan"
    applied = await vendor.add_sign("示例商城", source=0, remark="订单通知", files=[("png", proof)])
    assert applied == Review("示例商城", "pending")
    assert fake.signs["示例商城"].files == [("png", proof)]
    assert fake.signs["示例商城"].source == 0
    assert await vendor.query_sign("示例商城") == Review("示例商城", "pending")
    fake.review_sign("示例商城", 2, "文件不能证明信息真实性，请重新上传。")  # noqa: RUF001
    rejected = await vendor.query_sign("示例商城")
    assert rejected.status == "rejected"
    assert rejected.reason == "文件不能证明信息真实性，请重新上传。"  # noqa: RUF001
    fake.review_sign("示例商城", 1)
    assert await vendor.query_sign("示例商城") == Review("示例商城", "approved")
    with pytest.raises(PermanentVendorError) as info:
        await vendor.add_sign("坏来源", source=9, remark="x")
    assert info.value.code == "aliyun_isv.INVALID_PARAMETERS"


async def test_template_review(fake: FakeAliyun, vendor: AliyunVendor) -> None:
    applied = await vendor.add_template(
        name="发货通知", content="您的订单${order}已发货", remark="电商通知", template_type=1
    )
    assert applied.status == "pending" and applied.name.startswith("SMS_")
    assert fake.templates[applied.name].content == "您的订单${order}已发货"
    assert await vendor.query_template(applied.name) == Review(applied.name, "pending")
    fake.review_template(applied.name, 1)
    assert (await vendor.query_template(applied.name)).status == "approved"
    fake.review_template(applied.name, 10, "用户撤回")
    assert await vendor.query_template(applied.name) == Review(applied.name, "canceled", "用户撤回")
    # The configured template by default.
    assert await vendor.query_template() == Review(fake.template_code, "approved")


async def test_check_reports_the_sign_names_review(fake: FakeAliyun, vendor: AliyunVendor) -> None:
    assert await vendor.check() == f"sign {fake.sign_name}: approved"
    fake.review_sign(fake.sign_name, 0)
    assert await vendor.check() == f"sign {fake.sign_name}: pending"
    fake.review_sign(fake.sign_name, 2, "签名与资质不符")
    with pytest.raises(PermanentVendorError) as info:
        await vendor.check()
    assert info.value.code == "aliyun_sign_rejected" and "签名与资质不符" in info.value.message
    without_token = make(fake, callback_token=None)
    fake.review_sign(fake.sign_name, 1)
    try:
        assert (await without_token.check()).endswith("receipts refused (no callback_token)")
    finally:
        await without_token.aclose()


def receipts(url: str, reports: list[dict[str, Any]]) -> CallbackRequest:
    body = json.dumps(reports, ensure_ascii=False).encode()
    return CallbackRequest("POST", url, {"content-type": "application/json"}, body)


async def test_a_batch_of_receipts(vendor: AliyunVendor) -> None:
    reports = [
        {
            "phone_number": "13800138000",
            "send_time": "2026-11-25 18:00:00",
            "report_time": "2026-11-25 18:00:03",
            "success": True,
            "err_code": "DELIVERED",
            "err_msg": "用户接收成功",
            "sms_size": "1",
            "biz_id": "900619746936498440^0",
            "out_id": "sms_01A",
        },
        {
            "phone_number": "13800138001",
            "report_time": "2026-11-25 18:01:00",
            "success": False,
            "err_code": "MK:0001",
            "err_msg": "运营商拦截",
            "biz_id": "900619746936498441^0",
            "out_id": "sms_01B",
        },
        {"success": True, "err_code": "DELIVERED"},  # no biz_id: nothing to match
    ]
    delivered, undelivered = vendor.parse_callback(receipts(f"{HOOK}?token={TOKEN}", reports))
    assert (delivered.state, delivered.vendor_message_id) == ("delivered", "900619746936498440^0")
    assert delivered.error_code is None and delivered.sms_id is None
    assert delivered.occurred_at == datetime(2026, 11, 25, 10, 0, 3, tzinfo=UTC)  # Beijing time
    assert undelivered.state == "undelivered"
    assert (undelivered.error_code, undelivered.error_message) == ("aliyun_MK:0001", "运营商拦截")
    assert vendor.callback_answer(2) == {"code": 0, "msg": "成功"}


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (HOOK, b"[]"),
        (f"{HOOK}?token=wrong", b"[]"),
        (f"{HOOK}?token={TOKEN[:-1]}", b"[]"),
        (f"{HOOK}?token={TOKEN}", b"not json"),
        (f"{HOOK}?token={TOKEN}", b'"a string"'),
    ],
)
async def test_receipts_without_the_token_or_unreadable_are_refused(
    vendor: AliyunVendor, url: str, body: bytes
) -> None:
    with pytest.raises(InvalidCallback):
        vendor.parse_callback(CallbackRequest("POST", url, {}, body))


async def test_without_a_callback_token_every_receipt_is_refused(fake: FakeAliyun) -> None:
    vendor = make(fake, callback_token=None)
    try:
        with pytest.raises(InvalidCallback):
            vendor.parse_callback(receipts(f"{HOOK}?token=", []))
    finally:
        await vendor.aclose()


async def test_secrets_stay_out_of_repr_and_logs(
    fake: FakeAliyun, vendor: AliyunVendor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await vendor.send(MESSAGE)
    await vendor.query_sign()
    for secret in (fake.access_key_secret, TOKEN):
        assert secret not in repr(vendor) and secret not in str(vars(vendor))
        assert secret not in caplog.text


def test_the_callback_token_must_be_long_and_url_safe() -> None:
    base = {
        "type": "aliyun",
        "access_key_id": "LTAI5t",
        "access_key_secret": "s3cret",
        "sign_name": "阿里云",
        "template_code": "SMS_1",
    }
    assert AliyunConfig.model_validate({**base, "callback_token": TOKEN}).callback_token
    for weak in ("short-token", "has spaces in it but is long enough", "a&b=c" * 6):
        with pytest.raises(ValidationError) as info:
            AliyunConfig.model_validate({**base, "callback_token": weak})
        assert weak not in str(info.value)
