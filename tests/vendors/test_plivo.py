"""Plivo beyond the conformance table: receipts and their error codes, the signature
headers' variants, Powerpack senders and the account check, against the local fake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from smsgate.vendors.base import (
    CallbackRequest,
    InvalidCallback,
    OutboundMessage,
    TransientVendorError,
)
from smsgate.vendors.plivo import PlivoVendor
from tests.vendors.fake_plivo import FakePlivo, v3_signature

pytestmark = pytest.mark.anyio

HOOK = "https://gw.example/hooks/plivo-us/status"
MESSAGE = OutboundMessage(
    sms_id="sms_01PLIVO",
    project_id="prj_1",
    to="+14155550123",
    from_=None,
    body="hello",
    segments=1,
    encoding="GSM-7",
    kind="transactional",
    attempt=1,
)


@pytest.fixture
def fake() -> Iterator[FakePlivo]:
    fake = FakePlivo().start()
    yield fake
    fake.stop()


def make(fake: FakePlivo, **overrides: Any) -> PlivoVendor:
    kwargs: dict[str, Any] = {
        "auth_id": fake.auth_id,
        "auth_token": SecretStr(fake.auth_token),
        "from_": "+15005550000",
        "callback_url": HOOK,
        "base_url": fake.base_url,
        "timeout": 2.0,
    }
    return PlivoVendor("plivo-us", **{**kwargs, **overrides})


@pytest.fixture
async def vendor(fake: FakePlivo) -> AsyncIterator[PlivoVendor]:
    vendor = make(fake)
    yield vendor
    await vendor.aclose()


def callback(fake: FakePlivo, form: dict[str, str], url: str = HOOK) -> CallbackRequest:
    headers = {k.lower(): v for k, v in fake.signed_headers(url, form).items()}
    return CallbackRequest("POST", url, headers, str(httpx.QueryParams(form)).encode())


async def test_receipts_map_status_and_error_code(fake: FakePlivo, vendor: PlivoVendor) -> None:
    submitted = await vendor.send(MESSAGE)
    uuid = submitted.vendor_message_id
    assert vendor.parse_callback(callback(fake, fake.callback_form(uuid, "queued"))) == []
    [sent] = vendor.parse_callback(callback(fake, fake.callback_form(uuid, "sent")))
    assert (sent.state, sent.vendor_message_id, sent.error_code) == ("sent", uuid, None)
    [failed] = vendor.parse_callback(callback(fake, fake.callback_form(uuid, "undelivered", "50")))
    assert failed.state == "undelivered"
    assert (failed.error_code, failed.error_message) == ("plivo_50", "Invalid destination number")
    [rejected] = vendor.parse_callback(callback(fake, fake.callback_form(uuid, "rejected", "999")))
    assert (rejected.state, rejected.error_message) == ("failed", "Plivo error 999")
    [delivered] = vendor.parse_callback(
        callback(fake, fake.callback_form(uuid, "delivered", "000"))
    )
    assert delivered.state == "delivered" and delivered.error_code is None


async def test_signature_header_variants(fake: FakePlivo, vendor: PlivoVendor) -> None:
    form = {"MessageUUID": "u-1", "Status": "delivered"}
    nonce = "05429567804466091622"
    good = v3_signature(fake.auth_token, HOOK, form, nonce)
    other = v3_signature("a-rotated-out-token", HOOK, form, nonce)
    body = str(httpx.QueryParams(form)).encode()

    def request(headers: dict[str, str], url: str = HOOK) -> CallbackRequest:
        return CallbackRequest("POST", url, headers, body)

    # One signature per active token, comma-separated: one match is enough.
    nonce_header = {"x-plivo-signature-v3-nonce": nonce}
    both = {"x-plivo-signature-v3": f"{other}, {good}", **nonce_header}
    assert len(vendor.parse_callback(request(both))) == 1
    # The main account's header alone verifies too.
    main = {"x-plivo-signature-ma-v3": good, **nonce_header}
    assert len(vendor.parse_callback(request(main))) == 1
    for bad in (
        {"x-plivo-signature-v3": other, **nonce_header},
        {"x-plivo-signature-v3": good, "x-plivo-signature-v3-nonce": "1"},
        {"x-plivo-signature-v3": good},
        {"x-plivo-signature-v3": ",", **nonce_header},
        {},
    ):
        with pytest.raises(InvalidCallback):
            vendor.parse_callback(request(bad))
    # The signature covers the URL it was sent to, query included.
    with pytest.raises(InvalidCallback):
        vendor.parse_callback(
            request({"x-plivo-signature-v3": good, **nonce_header}, HOOK + "?a=1")
        )
    with_query = callback(fake, form, url=HOOK + "?a=1&b=2")
    assert len(vendor.parse_callback(with_query)) == 1


async def test_a_powerpack_sends_without_src(fake: FakePlivo) -> None:
    vendor = make(fake, from_=None, powerpack_uuid="d35f2e82-d387-427f-8594-6fa07703b5e4")
    try:
        await vendor.send(MESSAGE)
    finally:
        await vendor.aclose()
    [request] = fake.received
    assert request.body["powerpack_uuid"] == "d35f2e82-d387-427f-8594-6fa07703b5e4"
    assert "src" not in request.body
    with pytest.raises(ValueError, match="'from' or 'powerpack_uuid'"):
        make(fake, from_=None)


async def test_check_and_refused_credentials(fake: FakePlivo, vendor: PlivoVendor) -> None:
    assert await vendor.check() == "account Fake account (credits 12.34560)"
    wrong = make(fake, auth_token=SecretStr("not-the-token"))
    try:
        with pytest.raises(TransientVendorError) as info:
            await wrong.send(MESSAGE)
        assert info.value.code == "vendor_auth_failed"
        with pytest.raises(TransientVendorError):
            await wrong.check()
    finally:
        await wrong.aclose()
