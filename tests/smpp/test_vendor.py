"""The SMPP vendor on its own against the independent SMSC (smpp34's server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from pydantic import SecretStr

from smsgate.vendors.base import InboundMessage, OutboundMessage, VendorEvent
from smsgate.vendors.smpp.vendor import SmppVendor
from tests.e2e.server import free_port
from tests.smpp.independent import IndependentSmsc

pytestmark = pytest.mark.anyio


class Sink:
    def __init__(self) -> None:
        self.events: list[VendorEvent | InboundMessage] = []

    async def __call__(self, vendor: str, events: Sequence[VendorEvent | InboundMessage]) -> None:
        self.events.extend(events)

    @property
    def receipts(self) -> list[VendorEvent]:
        return [e for e in self.events if isinstance(e, VendorEvent)]


def outbound(n: int, body: str = "hello", to: str = "+447700900123") -> OutboundMessage:
    return OutboundMessage(
        f"sms_{n}", "prj_1", to, "+15550001111", body, 1, "GSM-7", "transactional", 1
    )


@pytest.fixture
async def smsc() -> AsyncIterator[IndependentSmsc]:
    server = IndependentSmsc(free_port())
    await server.start()
    yield server
    await server.stop()


def vendor_for(smsc: IndependentSmsc, **options: object) -> SmppVendor:
    kwargs: dict[str, object] = {"reconnect_min": 0.05, "reconnect_max": 0.2, "bind_wait": 5.0}
    kwargs.update(options)
    return SmppVendor(
        "smsc1",
        host="127.0.0.1",
        port=smsc.port,
        system_id="smsgate",
        password=SecretStr("secret"),
        **kwargs,  # type: ignore[arg-type]
    )


async def wait_until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_send_gets_id_and_receipt(smsc: IndependentSmsc) -> None:
    sink = Sink()
    vendor = vendor_for(smsc)
    await vendor.start(sink)
    try:
        submitted = await vendor.send(outbound(1))
        assert submitted.vendor_message_id == smsc.received[0].message_id.lower()
        await wait_until(lambda: len(sink.receipts) == 1)
        assert sink.receipts[0].vendor_message_id == submitted.vendor_message_id
        assert sink.receipts[0].state == "delivered"
        r = smsc.received[0]
        assert (r.destination, r.source, r.data_coding) == ("447700900123", "15550001111", 0)
        assert r.short_message == b"hello"
    finally:
        await vendor.aclose()


async def test_receipt_id_in_decimal_is_matched(smsc: IndependentSmsc) -> None:
    smsc.receipt_format = "dec"
    sink = Sink()
    vendor = vendor_for(smsc)
    await vendor.start(sink)
    try:
        submitted = await vendor.send(outbound(1))
        await wait_until(lambda: len(sink.receipts) == 1)
        assert sink.receipts[0].vendor_message_id == submitted.vendor_message_id
    finally:
        await vendor.aclose()
