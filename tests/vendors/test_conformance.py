"""Every HTTP vendor passes one table, against a local fake of its documented API.

(2xx, 4xx, 429 with Retry-After, 5xx, timeout, connection refused, signatures,
secrets kept out of repr and logs.) Each vendor adds one ``Case``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from smsgate.vendors.aliyun import AliyunVendor, rpc_signature
from smsgate.vendors.base import (
    CallbackRequest,
    InvalidCallback,
    OutboundMessage,
    PermanentVendorError,
    TransientVendorError,
    Vendor,
)
from smsgate.vendors.generic_http import GenericHttpVendor
from smsgate.vendors.plivo import PlivoVendor, signature_v3
from smsgate.vendors.telnyx import TelnyxVendor
from smsgate.vendors.twilio import TwilioVendor, signature
from smsgate.vendors.vonage import VonageVendor
from smsgate.vendors.vonage import signature as vonage_signature
from tests.e2e.server import free_port
from tests.vendors.fake_aliyun import FakeAliyun
from tests.vendors.fake_kannel import FakeKannel
from tests.vendors.fake_plivo import FakePlivo
from tests.vendors.fake_telnyx import FakeTelnyx
from tests.vendors.fake_twilio import FakeTwilio
from tests.vendors.fake_vonage import FakeVonage

pytestmark = pytest.mark.anyio

MESSAGE = OutboundMessage(
    sms_id="sms_01TEST",
    project_id="prj_1",
    to="+15005550006",
    from_=None,
    body="hello",
    segments=1,
    encoding="GSM-7",
    kind="transactional",
    attempt=1,
)


@dataclass
class Case:
    name: str
    fake: Any
    make: Callable[[str], Vendor]
    """Build the vendor against a base URL."""
    secret: str
    last_request: Callable[[], dict[str, str]]
    invalid_number: Callable[[], None]
    fail: Callable[[int, dict[str, str]], None]
    hang: Callable[[float], None]
    signed_callback: Callable[[str, str, bool], CallbackRequest]
    expected_request: dict[str, str]
    """The form the fake must receive for ``MESSAGE`` (the vendor's documented request)."""


def twilio_case() -> Iterator[Case]:
    fake = FakeTwilio().start()

    def make(base_url: str) -> Vendor:
        return TwilioVendor(
            "twilio-test",
            account_sid=fake.account_sid,
            auth_token=SecretStr(fake.auth_token),
            from_="+15005550000",
            callback_url="https://gw.example/hooks/twilio-test/status",
            base_url=base_url,
            timeout=0.5,
        )

    def callback(sid: str, status: str, forged: bool) -> CallbackRequest:
        url = "https://gw.example/hooks/twilio-test/status"
        form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": fake.account_sid}
        token = "wrong" if forged else fake.auth_token
        body = httpx.QueryParams(form).__str__().encode()
        return CallbackRequest(
            "POST", url, {"x-twilio-signature": signature(token, url, list(form.items()))}, body
        )

    yield Case(
        name="twilio",
        fake=fake,
        make=make,
        secret=fake.auth_token,
        last_request=lambda: fake.received[-1].form,
        invalid_number=lambda: fake.fail_next(400, 21211, "The 'To' number is not valid."),
        fail=lambda status, headers: fake.fail_next(
            status, 20429 if status == 429 else 20500, "failure", headers
        ),
        hang=fake.hang_next,
        signed_callback=callback,
        expected_request={
            "To": "+15005550006",
            "Body": "hello",
            "From": "+15005550000",
            "StatusCallback": "https://gw.example/hooks/twilio-test/status",
        },
    )
    fake.stop()


def vonage_case() -> Iterator[Case]:
    fake = FakeVonage().start()
    hook = "https://gw.example/hooks/vonage-test/status"

    def make(base_url: str) -> Vendor:
        return VonageVendor(
            "vonage-test",
            api_key=fake.api_key,
            api_secret=SecretStr(fake.api_secret),
            signature_secret=SecretStr(fake.signature_secret),
            from_="ACME",
            callback_url=hook,
            base_url=base_url,
            timeout=0.5,
        )

    def callback(message_id: str, status: str, forged: bool) -> CallbackRequest:
        params = {
            "messageId": message_id,
            "status": status,
            "err-code": "0",
            "msisdn": "15005550006",
            "timestamp": str(int(time.time())),
            "nonce": "n1",
        }
        params["sig"] = vonage_signature(
            params, "forged" if forged else fake.signature_secret, "md5hash"
        )
        body = str(httpx.QueryParams(params)).encode()
        return CallbackRequest(
            "POST", hook, {"content-type": "application/x-www-form-urlencoded"}, body
        )

    yield Case(
        name="vonage",
        fake=fake,
        make=make,
        secret=fake.api_secret,
        last_request=lambda: {k: v for k, v in fake.received[-1].items() if k != "message-id"},
        invalid_number=lambda: fake.reject_next("3", "Invalid to number"),
        fail=lambda status, headers: fake.fail_next(status, headers),
        hang=fake.hang_next,
        signed_callback=callback,
        expected_request={
            "api_key": fake.api_key,
            "api_secret": fake.api_secret,
            "from": "ACME",
            "to": "15005550006",
            "text": "hello",
            "type": "text",
            "client-ref": "sms_01TEST",
            "callback": hook,
        },
    )
    fake.stop()


def generic_http_case() -> Iterator[Case]:
    fake = FakeKannel().start()
    hook = "https://gw.example/hooks/kannel-test/status"
    token = "fake-kannel-callback-token-0123456789"

    def make(base_url: str) -> Vendor:
        return GenericHttpVendor(
            "kannel-test",
            url=base_url + "/cgi-bin/sendsms?username={username}&password={password}"
            "&to={to_digits}&text={text}&sms_id={sms_id}&dlr-mask=31&dlr-url={callback}",
            params={"username": fake.username},
            secrets={"password": SecretStr(fake.password)},
            success_status=(202,),
            success_regex=r"^0: Accepted",
            callback_token=SecretStr(token),
            callback_url=hook,
            statuses={"1": "delivered", "2": "undelivered", "8": "sent", "16": "failed"},
            timeout=0.5,
        )

    def callback(ident: str, status: str, forged: bool) -> CallbackRequest:
        code = {"delivered": "1", "sent": "8"}[status]
        url = f"{hook}?token={'forged' if forged else token}&id={ident}&status={code}"
        return CallbackRequest("POST", url, {}, b"")

    yield Case(
        name="http",
        fake=fake,
        make=make,
        secret=fake.password,
        last_request=lambda: fake.received[-1],
        invalid_number=lambda: fake.fail_next(400, "Invalid receiver"),
        fail=lambda status, headers: fake.fail_next(status, "busy", headers),
        hang=fake.hang_next,
        signed_callback=callback,
        expected_request={
            "username": fake.username,
            "password": fake.password,
            "to": "15005550006",
            "text": "hello",
            "sms_id": "sms_01TEST",
            "dlr-mask": "31",
            "dlr-url": f"{hook}?token={token}",
        },
    )
    fake.stop()


def telnyx_case() -> Iterator[Case]:
    fake = FakeTelnyx().start()
    hook = "https://gw.example/hooks/telnyx-test/status"

    def make(base_url: str) -> Vendor:
        return TelnyxVendor(
            "telnyx-test",
            api_key=SecretStr(fake.api_key),
            public_key=fake.public_key,
            from_="+15005550000",
            callback_url=hook,
            base_url=base_url,
            timeout=0.5,
        )

    def callback(message_id: str, status: str, forged: bool) -> CallbackRequest:
        event = "message.finalized" if status == "delivered" else "message.sent"
        body = fake.event_body(message_id, event, status)
        return CallbackRequest("POST", hook, fake.signed(body, forge=forged), body)

    yield Case(
        name="telnyx",
        fake=fake,
        make=make,
        secret=fake.api_key,
        last_request=lambda: {k: v for k, v in fake.received[-1].items() if k != "id"},
        invalid_number=lambda: fake.fail_next(422, "40310"),
        fail=lambda status, headers: fake.fail_next(status, "10011", headers),
        hang=fake.hang_next,
        signed_callback=callback,
        expected_request={
            "to": "+15005550006",
            "text": "hello",
            "from": "+15005550000",
            "webhook_url": hook,
        },
    )
    fake.stop()


def plivo_case() -> Iterator[Case]:
    fake = FakePlivo().start()
    hook = "https://gw.example/hooks/plivo-test/status"

    def make(base_url: str) -> Vendor:
        return PlivoVendor(
            "plivo-test",
            auth_id=fake.auth_id,
            auth_token=SecretStr(fake.auth_token),
            from_="+15005550000",
            callback_url=hook,
            base_url=base_url,
            timeout=0.5,
        )

    def callback(message_uuid: str, status: str, forged: bool) -> CallbackRequest:
        form = {"MessageUUID": message_uuid, "Status": status, "ErrorCode": "", "Units": "1"}
        headers = {k.lower(): v for k, v in fake.signed_headers(hook, form, forge=forged).items()}
        return CallbackRequest("POST", hook, headers, str(httpx.QueryParams(form)).encode())

    yield Case(
        name="plivo",
        fake=fake,
        make=make,
        secret=fake.auth_token,
        last_request=lambda: fake.received[-1].body,
        invalid_number=lambda: fake.fail_next(400, "invalid destination number"),
        fail=lambda status, headers: fake.fail_next(status, "failure", headers),
        hang=fake.hang_next,
        signed_callback=callback,
        expected_request={
            "src": "+15005550000",
            "dst": "+15005550006",
            "text": "hello",
            "url": hook,
            "method": "POST",
        },
    )
    fake.stop()


def aliyun_case() -> Iterator[Case]:
    fake = FakeAliyun().start()
    hook = "https://gw.example/hooks/aliyun-test/status"
    token = "fake-aliyun-receipt-token-0123456789"

    def make(base_url: str) -> Vendor:
        return AliyunVendor(
            "aliyun-test",
            access_key_id=fake.access_key_id,
            access_key_secret=SecretStr(fake.access_key_secret),
            sign_name=fake.sign_name,
            template_code=fake.template_code,
            callback_token=SecretStr(token),
            callback_url=hook,
            base_url=base_url,
            timeout=0.5,
        )

    def callback(biz_id: str, status: str, forged: bool) -> CallbackRequest:
        report = {"biz_id": biz_id, "out_id": "sms_01TEST", "success": status == "delivered"}
        body = json.dumps(
            [{**report, "err_code": "DELIVERED", "report_time": "2026-11-25 18:00:03"}]
        )
        url = f"{hook}?token={'forged' if forged else token}"
        return CallbackRequest("POST", url, {"content-type": "application/json"}, body.encode())

    yield Case(
        name="aliyun",
        fake=fake,
        make=make,
        secret=fake.access_key_secret,
        last_request=lambda: fake.received[-1].params,
        invalid_number=lambda: fake.reject_next("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"),
        fail=lambda status, headers: fake.fail_next(
            status, "Throttling.User" if status == 429 else "ServiceUnavailable", headers
        ),
        hang=fake.hang_next,
        signed_callback=callback,
        expected_request={
            "Action": "SendSms",
            "Version": "2017-05-25",
            "Format": "JSON",
            "AccessKeyId": fake.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "PhoneNumbers": "15005550006",
            "SignName": fake.sign_name,
            "TemplateCode": fake.template_code,
            "TemplateParam": '{"content": "hello"}',
            "OutId": "sms_01TEST",
        },
    )
    fake.stop()


@pytest.fixture(
    params=[twilio_case, vonage_case, telnyx_case, generic_http_case, plivo_case, aliyun_case],
    ids=["twilio", "vonage", "telnyx", "http", "plivo", "aliyun"],
)
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    yield from request.param()


async def test_2xx_submits_the_documented_request(case: Case) -> None:
    vendor = case.make(case.fake.base_url)
    try:
        submitted = await vendor.send(MESSAGE)
        assert submitted.vendor_message_id
        assert case.last_request() == case.expected_request
    finally:
        await vendor.aclose()


async def test_4xx_is_permanent(case: Case) -> None:
    vendor = case.make(case.fake.base_url)
    case.invalid_number()
    try:
        with pytest.raises(PermanentVendorError):
            await vendor.send(MESSAGE)
    finally:
        await vendor.aclose()


async def test_429_is_transient_with_retry_after(case: Case) -> None:
    vendor = case.make(case.fake.base_url)
    case.fail(429, {"Retry-After": "7"})
    try:
        with pytest.raises(TransientVendorError) as info:
            await vendor.send(MESSAGE)
        assert info.value.retry_after == 7.0
    finally:
        await vendor.aclose()


async def test_5xx_is_transient(case: Case) -> None:
    vendor = case.make(case.fake.base_url)
    case.fail(503, {})
    try:
        with pytest.raises(TransientVendorError) as info:
            await vendor.send(MESSAGE)
        assert info.value.code == "vendor_unavailable"
    finally:
        await vendor.aclose()


async def test_timeout_is_transient(case: Case) -> None:
    vendor = case.make(case.fake.base_url)
    case.hang(2.0)
    try:
        with pytest.raises(TransientVendorError) as info:
            await vendor.send(MESSAGE)
        assert info.value.code == "vendor_timeout"
    finally:
        await vendor.aclose()


async def test_connection_refused_is_transient(case: Case) -> None:
    vendor = case.make(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TransientVendorError) as info:
            await vendor.send(MESSAGE)
        assert info.value.code == "vendor_unreachable"
    finally:
        await vendor.aclose()


async def test_callbacks_are_verified(case: Case) -> None:
    vendor = case.make(case.fake.base_url)
    try:
        [event] = vendor.parse_callback(case.signed_callback("SM123", "delivered", False))
        assert (event.vendor_message_id, event.state) == ("SM123", "delivered")
        with pytest.raises(InvalidCallback):
            vendor.parse_callback(case.signed_callback("SM123", "delivered", True))
    finally:
        await vendor.aclose()


async def test_secrets_stay_out_of_repr_and_logs(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor = case.make(case.fake.base_url)
    try:
        await vendor.send(MESSAGE)
        case.fail(503, {})
        with pytest.raises(TransientVendorError) as info:
            await vendor.send(MESSAGE)
        assert case.secret not in repr(vendor) and case.secret not in str(vars(vendor))
        assert case.secret not in str(info.value)
        assert case.secret not in caplog.text
    finally:
        await vendor.aclose()


def test_twilio_signature_matches_the_documented_example() -> None:
    # The example in Twilio's security documentation.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert (
        signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", list(params.items()))
        == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )


# Plivo's own test vectors for V3 (plivo-go's utils tests): one voice callback, signed
# for POST and for GET, to a URL with and without a query.
PLIVO_TOKEN = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4"
PLIVO_PARAMS = {
    "Direction": "outbound",
    "From": "19792014278",
    "ALegUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallStatus": "in-progress",
    "BillRate": "0.002",
    "ParentAuthID": "MANWVLYTK4ZWU1YTY4QA",
    "To": "sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com",
    "ALegRequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "RequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "SIP-H-To": "<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1",
    "SessionStart": "2020-04-08 11:34:33.238707",
    "Event": "StartApp",
}


@pytest.mark.parametrize(
    ("query", "method", "expected"),
    [
        ("/?a=b&c=d", "POST", "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c="),
        ("/?a=b&c=d", "GET", "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ="),
        ("", "POST", "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="),
        ("", "GET", "i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc="),
    ],
)
def test_plivo_v3_signature_matches_plivos_vectors(query: str, method: str, expected: str) -> None:
    url = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml" + query
    nonce = "31627761595286130198"
    assert signature_v3(PLIVO_TOKEN, method, url, list(PLIVO_PARAMS.items()), nonce) == expected


def test_aliyun_signature_matches_the_documented_examples() -> None:
    # The RPC signing example of Alibaba Cloud's documentation (an ECS call)...
    ecs = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert rpc_signature("testsecret", "GET", ecs) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    # ...and the SMS documentation's SendSms example, with a Chinese sign name.
    send = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert rpc_signature("testSecret", "GET", send) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
