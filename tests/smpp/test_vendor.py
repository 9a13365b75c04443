"""The SMPP vendor on its own against the independent SMSC (smpp34's server)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from smsgate.vendors.base import (
    InboundMessage,
    OutboundMessage,
    PermanentVendorError,
    TransientVendorError,
    VendorEvent,
)
from smsgate.vendors.smpp import coding
from smsgate.vendors.smpp.smsc import Smsc, SmscFaults
from smsgate.vendors.smpp.vendor import SmppVendor, concat_reference
from tests.e2e.server import free_port
from tests.smpp.harness import smpp_gateway
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


def vendor_for(port: int, password: str = "secret", **options: object) -> SmppVendor:
    """A vendor bound to ``127.0.0.1:port`` as ``smsgate``, reconnecting quickly."""
    kwargs: dict[str, object] = {"reconnect_min": 0.05, "reconnect_max": 0.2, "bind_wait": 5.0}
    kwargs.update(options)
    return SmppVendor(
        "smsc1",
        host="127.0.0.1",
        port=port,
        system_id="smsgate",
        password=SecretStr(password),
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
    vendor = vendor_for(smsc.port)
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
    vendor = vendor_for(smsc.port)
    await vendor.start(sink)
    try:
        submitted = await vendor.send(outbound(1))
        await wait_until(lambda: len(sink.receipts) == 1)
        [receipt] = sink.receipts
        if receipt.vendor_message_id != submitted.vendor_message_id:
            # It overtook its submit_sm_resp (smpp34 does not order the two): the id was
            # not known yet, so the hex reading travels as an alternate, tried next.
            assert submitted.vendor_message_id in receipt.alternate_ids
    finally:
        await vendor.aclose()


async def test_check_binds_and_reports_a_refused_bind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    smsc = Smsc(credentials={"smsgate": "secret"})
    await smsc.start()
    try:
        good = vendor_for(
            smsc.port,
        )
        assert "bound as transceiver" in await good.check()
        bad = vendor_for(
            smsc.port,
            password="wrong",
        )
        with pytest.raises(TransientVendorError) as info:
            await bad.check()
        assert info.value.code == "smpp_bind_failed"
        assert "wrong" not in repr(bad) and "secret" not in repr(good)
        assert "secret" not in caplog.text and "wrong" not in caplog.text
        assert "smpp_bind_failed" in str(info.value) or "refused" in str(info.value)
    finally:
        await smsc.stop()


async def test_split_binds_send_on_transmitters_and_receive_on_receivers(
    smsc: IndependentSmsc,
) -> None:
    sink = Sink()
    vendor = vendor_for(smsc.port, binding="transmitter_receiver", binds=2)
    await vendor.start(sink)
    try:
        assert [s.config.mode for s in vendor.sessions] == ["transmitter", "receiver"] * 2
        await wait_until(lambda: smsc.bound == 4)
        ids = [(await vendor.send(outbound(i))).vendor_message_id for i in range(20)]
        await wait_until(lambda: len(sink.receipts) == 20)
        assert sorted(e.vendor_message_id for e in sink.receipts) == sorted(ids)
    finally:
        await vendor.aclose()


@pytest.mark.parametrize("mode", ["sar", "payload"])
async def test_long_message_as_sar_or_payload(mode: str) -> None:
    smsc = Smsc()
    await smsc.start()
    vendor = vendor_for(
        smsc.port,
        long_messages=mode,  # type: ignore[arg-type]
    )
    await vendor.start(Sink())
    body = "Long text with an escape [x] " * 12
    try:
        submitted = await vendor.send(outbound(1, body))
        if mode == "sar":
            assert len(smsc.submits) == 3 and len(submitted.part_ids) == 3
            assert [s.tlvs["sar_segment_seqnum"] for s in smsc.submits] == [1, 2, 3]
            refs = {s.tlvs["sar_msg_ref_num"] for s in smsc.submits}
            assert refs == {concat_reference("sms_1")}  # all 16 bits
            assert all(s.esm_class & 0x40 == 0 for s in smsc.submits)
        else:
            [one] = smsc.submits
            assert one.short_message == b"" and submitted.part_ids == ()
            assert coding.decode_text(one.tlvs["message_payload"], 0) == body
        assert smsc.texts() == [body]
    finally:
        await vendor.aclose()
        await smsc.stop()


async def test_a_retried_long_message_keeps_its_reference() -> None:
    """The connection drops at part 2; the retry sends every part under the reference of
    the first attempt (derived from the message id), so the phone sees part 1 repeated,
    never a fragment of some other message."""
    smsc = Smsc(faults=SmscFaults(drop_after=2))
    await smsc.start()
    vendor = vendor_for(smsc.port, reconnect_min=0.05)
    await vendor.start(Sink())
    body = "A long message that needs three parts to get there in one piece. " * 5
    try:
        with pytest.raises(TransientVendorError):
            await vendor.send(outbound(7, body))
        await wait_until(lambda: smsc.counters.binds >= 2)
        submitted = await vendor.send(outbound(7, body))
        assert len(submitted.part_ids) == 3
        concat = [s.decoded()[1] for s in smsc.submits]
        assert [(c.number, c.total) for c in concat if c] == [
            (1, 3),
            (2, 3),
            (1, 3),
            (2, 3),
            (3, 3),
        ]
        assert {c.reference for c in concat if c} == {concat_reference("sms_7") & 0xFF}
        assert smsc.texts() == [body]
        assert concat_reference("sms_7") != concat_reference("sms_8")  # not a constant
    finally:
        await vendor.aclose()
        await smsc.stop()


async def test_status_table_permanent_transient_and_response_timeout() -> None:
    smsc = Smsc(faults=SmscFaults(reject_destinations={"0001": 0x0B, "0002": 0x08}))
    await smsc.start()
    vendor = vendor_for(
        smsc.port,
        response_timeout=0.3,
        reconnect_min=0.05,
    )
    await vendor.start(Sink())
    try:
        with pytest.raises(PermanentVendorError) as permanent:
            await vendor.send(outbound(1, to="+447911000001"))
        assert permanent.value.code == "invalid_destination"
        with pytest.raises(TransientVendorError) as transient:
            await vendor.send(outbound(2, to="+447911000002"))
        assert transient.value.code == "system_error"
        smsc.faults.silent = True
        with pytest.raises(TransientVendorError) as timeout:
            await vendor.send(outbound(3))
        assert timeout.value.code == "smpp_timeout"
        smsc.faults.silent = False
        # The silent session was dropped; a fresh one sends again.
        await wait_until(lambda: smsc.counters.binds >= 2)
        assert (await vendor.send(outbound(4))).vendor_message_id
    finally:
        await vendor.aclose()
        await smsc.stop()


async def test_enquire_link_keeps_the_session_checked() -> None:
    smsc = Smsc()
    await smsc.start()
    vendor = vendor_for(
        smsc.port,
        enquire_link_interval=0.1,
    )
    await vendor.start(Sink())
    try:
        await wait_until(lambda: smsc.counters.enquire_links >= 3, timeout=5)
    finally:
        await vendor.aclose()
        await smsc.stop()


async def test_tls(smsc: IndependentSmsc, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", smsc.port)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    sink = Sink()
    vendor = vendor_for(
        port,
        tls=True,
        tls_ca_file=str(cert),
    )
    await vendor.start(sink)
    try:
        await vendor.send(outbound(1))
        await wait_until(lambda: len(sink.receipts) == 1)
    finally:
        await vendor.aclose()
        server.close()


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, made with ``cryptography``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smsc.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_receipt_id_readings_are_learned() -> None:
    vendor = vendor_for(2775)
    for submitted in ("a00001", "a00002", "a00003", "a00004", "a00005", "10"):
        vendor._remember(submitted.upper())
    # One match is not enough to settle the reading; five agreeing ones are.
    assert vendor.receipt_id("10485761") == "a00001"
    assert vendor._learned is None
    for n in (10485762, 10485763, 10485764, 10485765):
        assert vendor.receipt_id(str(n)) == format(n, "x")
    assert vendor._learned == "hex_to_dec"
    # From now on decimal ids read as hex, even for ids this process never submitted.
    assert vendor.receipt_id("16") == "10"
    assert vendor.receipt_id("0010485762") == "a00002"
    assert vendor_for(2775, receipt_ids="same").receipt_id("00A00001") == "a00001"


def test_inbound_addresses_read_as_e164_when_they_are_numbers() -> None:
    from smsgate.vendors.smpp.vendor import _e164

    assert _e164("447911123456", 1) == "+447911123456"
    assert _e164("447911123456", 0) == "+447911123456"  # TON unknown, but a valid number
    assert _e164("12345", 0) == "12345"  # a short code stays as it is
    assert _e164("ACME", 5) == "ACME"
    assert _e164("0791112345", 2) == "0791112345"  # national: no country code to add


async def test_mo_and_receipts_by_data_sm(db_url: str, tmp_path: Path) -> None:
    """Some SMSCs deliver with ``data_sm`` (text in message_payload): receipts turn
    messages delivered, and MOs, single and in two UDH parts, are stored, exactly as
    with deliver_sm; each gets a ``data_sm_resp`` (else the SMSC would resend it)."""
    smsc = Smsc(deliver_with="data_sm")
    await smsc.start()
    try:
        async with smpp_gateway(db_url, tmp_path, smsc) as gw:  # type: ignore[arg-type]
            await gw.send_many([f"m{i}" for i in range(5)])
            await gw.wait_all("delivered", 5, timeout=20)
            assert smsc.counters.receipts_sent == 5
            long = "A reply by data_sm that takes two parts to say. " * 4
            await smsc.send_mo("447911123456", "15550001111", "STOP")
            await smsc.send_mo("447911123456", "15550001111", long)
            r = await gw.client.get("/v1/sms/inbound/list", headers=gw.tenant.headers)
            assert r.status_code == 200, r.text
            assert [(i["body"], i["segments"]) for i in r.json()["items"]] == [
                (long, 2),
                ("STOP", 1),
            ]
    finally:
        await smsc.stop()
