"""The local SMSC (``smsgate smsc``), driven by an independent client: ``smpp34``'s Rust
ESME, which shares no code with smsgate. What that client will not send (a bad bind,
garbage, enquire_link, a receiver-only bind) goes over a raw socket with ``pdu``."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import smpp34

from smsgate.vendors.smpp import coding, pdu
from smsgate.vendors.smpp.smsc import Smsc, SmscError, reassemble
from tests.e2e.server import Proc, free_port

pytestmark = pytest.mark.anyio

LOGIN = {"alice": "secret"}
RECEIPT_RE = re.compile(
    r"id:(?P<id>\w+) sub:001 dlvrd:(?P<dlvrd>\d{3}) submit date:\d{10} done date:\d{10}"
    r" stat:(?P<stat>[A-Z]{7}) err:(?P<err>\d{3}) text:(?P<text>.*)"
)


Start = Callable[..., Awaitable[Smsc]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start SMSCs (``Smsc(**options)``); all are stopped at the end."""
    servers: list[Smsc] = []

    async def start(**options: Any) -> Smsc:
        server = Smsc(**options)
        servers.append(server)
        await server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()


@pytest.fixture
async def smsc(start: Start) -> Smsc:
    return await start(credentials=dict(LOGIN), receipt_delay=0.01)


Esme = Callable[..., Awaitable[smpp34.Smsc]]


@pytest.fixture
async def esme() -> AsyncIterator[Esme]:
    """Bind ``smpp34`` clients; all are stopped at the end."""
    clients: list[tuple[smpp34.Client, smpp34.Smsc]] = []

    async def bind(
        server: Smsc, bind_type: str = "TRX", system_id: str = "alice", password: str = "secret"
    ) -> smpp34.Smsc:
        client = smpp34.Client("127.0.0.1", server.port, system_id, password, bind_type=bind_type)
        session = await client.connect()
        clients.append((client, session))
        return session

    try:
        yield bind
    finally:
        for client, session in clients:
            with contextlib.suppress(smpp34.SmppError):
                await session.unbind()  # else the SMSC's unbind waits for an answer
            await client.stop()


class Raw:
    """A bare SMPP peer on a socket: writes what we tell it, reads PDUs one by one."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sequence = 0

    async def send(self, command: str, **fields: Any) -> int:
        self.sequence += 1
        await self.send_raw(pdu.encode(command, self.sequence, **fields))
        return self.sequence

    async def send_raw(self, raw: bytes) -> None:
        self.writer.write(raw)
        await self.writer.drain()

    async def read(self, timeout: float = 2.0) -> pdu.Pdu:
        async with asyncio.timeout(timeout):
            return pdu.decode(await pdu.read(self.reader))

    async def answer(self, request: pdu.Pdu) -> None:
        await self.send_raw(pdu.encode(f"{request.command}_resp", request.sequence))

    async def bind(
        self, mode: str = "transceiver", system_id: str = "alice", password: str = "secret"
    ) -> pdu.Pdu:
        sequence = await self.send(f"bind_{mode}", system_id=system_id, password=password)
        resp = await self.read()
        assert (resp.command, resp.sequence) == (f"bind_{mode}_resp", sequence)
        return resp

    async def at_eof(self, timeout: float = 2.0) -> bool:
        async with asyncio.timeout(timeout):
            return await self.reader.read(1) == b""


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[Smsc | int], Awaitable[Raw]]]:
    peers: list[Raw] = []

    async def connect(server: Smsc | int) -> Raw:
        port = server if isinstance(server, int) else server.port
        peer = Raw(*await asyncio.open_connection("127.0.0.1", port))
        peers.append(peer)
        return peer

    try:
        yield connect
    finally:
        for peer in peers:
            peer.writer.close()
            with contextlib.suppress(ConnectionError):
                await peer.writer.wait_closed()


def tlv(event: smpp34.DeliverSmEvent, tag: int) -> smpp34.Tlv:
    [found] = [t for t in event.tlvs if t.tag == tag]
    return found


async def next_deliver(session: smpp34.Smsc) -> smpp34.DeliverSmEvent:
    event = await asyncio.wait_for(session.next(), 2)
    assert isinstance(event, smpp34.DeliverSmEvent), event
    return event


# -- binds and the session


async def test_bind_with_good_credentials(smsc: Smsc, esme: Esme, raw: Any) -> None:
    await esme(smsc, "TRX")
    peer = await raw(smsc)
    resp = await peer.bind("transmitter")
    assert resp.status == pdu.ESME_ROK
    assert resp.text("system_id") == "smsgate-smsc"
    assert smsc.counters.binds == 2


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [("alice", "wrong", pdu.ESME_RINVPASWD), ("mallory", "secret", pdu.ESME_RINVSYSID)],
)
async def test_bind_with_bad_credentials(
    smsc: Smsc, raw: Any, system_id: str, password: str, status: int
) -> None:
    peer = await raw(smsc)
    resp = await peer.bind("transceiver", system_id, password)
    assert resp.status == status
    assert smsc.counters.binds == 0
    await peer.send("submit_sm", source_addr="1", destination_addr="2", short_message=b"x")
    assert (await peer.read()).status == pdu.ESME_RINVBNDSTS


async def test_any_login_without_credentials(start: Start, raw: Any) -> None:
    peer = await raw(await start())
    assert (await peer.bind("transceiver", "anyone", "anything")).status == pdu.ESME_ROK


async def test_enquire_link_unknown_command_garbage_and_unbind(smsc: Smsc, raw: Any) -> None:
    peer = await raw(smsc)
    sequence = await peer.send("enquire_link")  # answered before a bind too
    resp = await peer.read()
    assert (resp.command, resp.sequence, resp.status) == ("enquire_link_resp", sequence, 0)
    await peer.bind()
    await peer.send_raw(struct.pack(">LLLL", 16, 0x00000099, 0, 41))
    nack = await peer.read()
    assert (nack.command, nack.sequence, nack.status) == ("generic_nack", 41, pdu.ESME_RINVCMDID)
    # a submit_sm whose last TLV stops after its tag
    good = pdu.encode("submit_sm", 42, source_addr="1", destination_addr="2", short_message=b"x")
    await peer.send_raw(struct.pack(">L", len(good) + 2) + good[4:] + b"\x02\x04")
    nack = await peer.read()
    assert (nack.command, nack.sequence, nack.status) == ("generic_nack", 42, pdu.ESME_RINVCMDID)
    sequence = await peer.send("unbind")
    resp = await peer.read()
    assert (resp.command, resp.sequence) == ("unbind_resp", sequence)
    assert await peer.at_eof()


async def test_submit_before_bind_and_on_a_receiver_bind(smsc: Smsc, raw: Any) -> None:
    peer = await raw(smsc)
    await peer.send("submit_sm", source_addr="1", destination_addr="2", short_message=b"x")
    assert (await peer.read()).status == pdu.ESME_RINVBNDSTS
    await peer.bind("receiver")
    await peer.send("submit_sm", source_addr="1", destination_addr="2", short_message=b"x")
    resp = await peer.read()
    assert (resp.command, resp.status) == ("submit_sm_resp", pdu.ESME_RINVBNDSTS)
    assert smsc.submits == []


async def test_server_sends_enquire_link_and_drops_a_silent_peer(start: Start, raw: Any) -> None:
    peer = await raw(await start(enquire_link_interval=0.05, response_timeout=0.2))
    await peer.bind()
    request = await peer.read()
    assert request.command == "enquire_link"
    await peer.answer(request)
    assert (await peer.read()).command == "enquire_link"  # the next one: not answered
    assert await peer.at_eof()


# -- submits and receipts


async def test_submit_gets_an_id_and_a_receipt(smsc: Smsc, esme: Esme) -> None:
    smsc.receipt_states = {"0002": "UNDELIV"}
    session = await esme(smsc)
    body = b"Hello from smsgate, a longer text"
    ok = await session.submit_sm("447700900001", body, source_addr="SMSGATE", registered_delivery=1)
    failed = await session.submit_sm(
        "447700900002", b"second", source_addr="SMSGATE", registered_delivery=1
    )
    assert ok.is_success and failed.is_success
    assert ok.message_id and re.fullmatch(r"[0-9a-f]+", ok.message_id)
    assert ok.message_id != failed.message_id
    assert [s.message_id for s in smsc.submits] == [ok.message_id, failed.message_id]
    receipts = {}
    for _ in range(2):
        event = await next_deliver(session)
        assert event.esm_class == coding.ESM_RECEIPT
        assert event.source_addr.startswith("4477009000")
        assert event.destination_addr == "SMSGATE"
        receipts[tlv(event, smpp34.TLV_RECEIPTED_MESSAGE_ID).as_string()] = event
    delivered = receipts[ok.message_id]
    assert tlv(delivered, smpp34.TLV_MESSAGE_STATE).as_int() == 2
    match = RECEIPT_RE.fullmatch(delivered.short_message.decode("ascii"))
    assert match, delivered.short_message
    assert match["id"] == ok.message_id
    assert (match["dlvrd"], match["stat"], match["err"]) == ("001", "DELIVRD", "000")
    assert match["text"] == "Hello from smsgate, "
    undelivered = receipts[failed.message_id]
    assert tlv(undelivered, smpp34.TLV_MESSAGE_STATE).as_int() == 5
    match = RECEIPT_RE.fullmatch(undelivered.short_message.decode("ascii"))
    assert match, undelivered.short_message
    assert (match["dlvrd"], match["stat"]) == ("000", "UNDELIV")
    assert match["err"] != "000"
    assert smsc.counters.accepted == 2
    assert smsc.counters.receipts_sent == 2


async def test_no_receipt_unless_asked(smsc: Smsc, esme: Esme) -> None:
    session = await esme(smsc)
    await session.submit_sm("447700900001", b"quiet", source_addr="S", registered_delivery=0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(session.next(), 0.2)
    assert smsc.counters.receipts_sent == 0


@pytest.mark.parametrize(
    ("id_format", "receipt_id_format"), [("hex", "dec"), ("dec", "dec"), ("dec", "hex")]
)
async def test_receipt_id_formats(
    start: Start, esme: Esme, id_format: Any, receipt_id_format: Any
) -> None:
    server = await start(receipt_delay=0, id_format=id_format, receipt_id_format=receipt_id_format)
    session = await esme(server)
    resp = await session.submit_sm("4477", b"hi", source_addr="S", registered_delivery=1)
    event = await next_deliver(session)
    assert resp.message_id is not None
    number = int(resp.message_id, 16 if id_format == "hex" else 10)
    expected = format(number, "x") if receipt_id_format == "hex" else str(number)
    assert tlv(event, smpp34.TLV_RECEIPTED_MESSAGE_ID).as_string() == expected
    assert event.short_message.startswith(f"id:{expected} ".encode())
    if id_format == "dec":
        assert resp.message_id.isdigit()


async def test_receipt_goes_to_the_receiver_bind_and_waits_for_one(smsc: Smsc, esme: Esme) -> None:
    transmitter = await esme(smsc, "TX")
    resp = await transmitter.submit_sm("4477", b"hi", source_addr="S", registered_delivery=1)
    await asyncio.sleep(0.05)  # past receipt_delay: no receiver yet, the receipt waits
    assert smsc.counters.receipts_sent == 0
    receiver = await esme(smsc, "RX")
    event = await next_deliver(receiver)
    assert tlv(event, smpp34.TLV_RECEIPTED_MESSAGE_ID).as_string() == resp.message_id


# -- faults


async def test_throttle_and_queue_full_every_nth(smsc: Smsc, esme: Esme) -> None:
    session = await esme(smsc)

    async def statuses(n: int) -> list[int]:
        return [
            (await session.submit_sm("4477", b"x", source_addr="S")).command_status
            for _ in range(n)
        ]

    smsc.faults.throttle_every = 2
    assert await statuses(4) == [0, pdu.ESME_RTHROTTLED, 0, pdu.ESME_RTHROTTLED]
    smsc.faults.throttle_every = 0
    smsc.faults.queue_full_every = 3
    assert await statuses(3) == [0, 0, pdu.ESME_RMSGQFUL]
    assert smsc.counters.throttled == 3
    assert smsc.counters.accepted == 4
    assert [s.status for s in smsc.submits].count(pdu.ESME_ROK) == 4
    assert all(s.message_id == "" for s in smsc.submits if s.status)


async def test_reject_destinations(smsc: Smsc, esme: Esme) -> None:
    smsc.faults.reject_destinations = {"0001": pdu.ESME_RINVDSTADR, "20001": pdu.ESME_RX_P_APPN}
    session = await esme(smsc)
    bad = await session.submit_sm("447700900001", b"x", source_addr="S", registered_delivery=1)
    worse = await session.submit_sm("447700920001", b"x", source_addr="S")
    good = await session.submit_sm("447700900002", b"x", source_addr="S")
    assert bad.command_status == pdu.ESME_RINVDSTADR and not bad.message_id
    assert worse.command_status == pdu.ESME_RX_P_APPN  # the longest suffix wins
    assert good.is_success
    assert smsc.counters.rejected == 2
    await asyncio.sleep(0.05)
    assert smsc.counters.receipts_sent == 0  # a rejected submit gets no receipt


async def test_drop_after_closes_the_connection_once(smsc: Smsc, esme: Esme) -> None:
    smsc.faults.drop_after = 2
    session = await esme(smsc, "TX")
    assert (await session.submit_sm("4477", b"one", source_addr="S")).is_success
    with pytest.raises(smpp34.SmppError):
        await asyncio.wait_for(session.submit_sm("4477", b"two", source_addr="S"), 2)
    assert isinstance(await asyncio.wait_for(session.next(), 2), smpp34.Disconnected)
    assert smsc.counters.drops == 1
    assert smsc.faults.drop_after == 0
    assert [s.status for s in smsc.submits] == [0, None]
    again = await esme(smsc, "TX")
    for _ in range(3):
        assert (await again.submit_sm("4477", b"more", source_addr="S")).is_success


async def test_drop_all(smsc: Smsc, esme: Esme) -> None:
    sessions = [await esme(smsc, "TX"), await esme(smsc, "RX")]
    await smsc.drop_all()
    for session in sessions:
        assert isinstance(await asyncio.wait_for(session.next(), 2), smpp34.Disconnected)
    assert smsc.counters.drops == 2


async def test_silent_then_answering_again(smsc: Smsc, raw: Any) -> None:
    smsc.faults.silent = True
    peer = await raw(smsc)
    await peer.bind()
    await peer.send("submit_sm", source_addr="S", destination_addr="4477", short_message=b"a")
    with pytest.raises(TimeoutError):
        await peer.read(timeout=0.2)
    smsc.faults.silent = False
    sequence = await peer.send(
        "submit_sm", source_addr="S", destination_addr="4477", short_message=b"b"
    )
    resp = await peer.read()
    assert (resp.command, resp.sequence, resp.status) == ("submit_sm_resp", sequence, 0)
    assert [s.status for s in smsc.submits] == [None, 0]


async def test_response_delay(smsc: Smsc, esme: Esme) -> None:
    smsc.faults.response_delay = 0.2
    session = await esme(smsc)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await session.submit_sm("4477", b"slow", source_addr="S")).is_success
    assert loop.time() - started >= 0.19


@pytest.mark.parametrize("early", [False, True])
async def test_receipt_order_on_the_wire(smsc: Smsc, raw: Any, early: bool) -> None:
    smsc.faults.early_receipts = early
    smsc.faults.response_delay = 0.05
    peer = await raw(smsc)
    await peer.bind()
    sequence = await peer.send(
        "submit_sm",
        source_addr="S",
        destination_addr="4477",
        short_message=b"race",
        registered_delivery=1,
    )
    first, second = await peer.read(), await peer.read()
    if early:
        receipt, resp = first, second
    else:
        resp, receipt = first, second
    assert (resp.command, resp.sequence) == ("submit_sm_resp", sequence)
    assert receipt.command == "deliver_sm"
    assert receipt.text("receipted_message_id") == resp.text("message_id")
    assert receipt.get("message_state") == 2
    await peer.answer(receipt)


# -- texts the SMSC received, and MOs


async def test_texts_reassembles_udh_sar_and_payload(smsc: Smsc, esme: Esme) -> None:
    session = await esme(smsc)
    long_text = "A long message that needs more than one part. " * 5
    unicode_text = "Привет! " * 12
    sent = [("udh", long_text), ("sar", unicode_text), ("payload", long_text[::-1])]
    for reference, (mode, text) in enumerate(sent, start=7):
        parts = coding.encode_message(text, reference, long_messages=mode)
        for part in reversed(parts):  # out of order on purpose
            tlvs = [smpp34.Tlv(_TAGS[name], _tlv_value(name, v)) for name, v in part.tlvs.items()]
            resp = await session.submit_sm(
                "4477",
                part.short_message,
                source_addr="S",
                esm_class=part.esm_class,
                data_coding=part.data_coding,
                tlvs=tlvs,
            )
            assert resp.is_success
    await session.submit_sm("4477", b"short", source_addr="S")
    assert smsc.texts() == [long_text, unicode_text, long_text[::-1], "short"]
    assert len(smsc.submits) == 2 + 2 + 1 + 1
    # an incomplete message is left out; a retried part counts once
    assert reassemble(smsc.submits[:1]) == []
    assert reassemble([*smsc.submits[:2], smsc.submits[0]]) == [long_text]


_TAGS = {
    "sar_msg_ref_num": smpp34.TLV_SAR_MSG_REF_NUM,
    "sar_total_segments": smpp34.TLV_SAR_TOTAL_SEGMENTS,
    "sar_segment_seqnum": smpp34.TLV_SAR_SEGMENT_SEQNUM,
    "message_payload": smpp34.TLV_MESSAGE_PAYLOAD,
}


def _tlv_value(name: str, value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    return value.to_bytes(2 if name == "sar_msg_ref_num" else 1, "big")


def client_texts(events: list[smpp34.DeliverSmEvent]) -> list[str]:
    """What a handset would show: parts joined by their concatenation reference."""
    texts: list[str] = []
    parts: dict[int, dict[int, str]] = {}
    for event in events:
        tags = {t.tag: t for t in event.tlvs}

        def num(tag: int, tags: dict[int, smpp34.Tlv] = tags) -> int | None:
            return tags[tag].as_int() if tag in tags else None

        sar = (
            num(smpp34.TLV_SAR_MSG_REF_NUM),
            num(smpp34.TLV_SAR_TOTAL_SEGMENTS),
            num(smpp34.TLV_SAR_SEGMENT_SEQNUM),
        )
        text, concat = coding.decode_inbound(
            event.short_message, event.data_coding, event.esm_class, sar
        )
        if concat is None:
            texts.append(text)
            continue
        got = parts.setdefault(concat.reference, {})
        got[concat.number] = text
        if len(got) == concat.total:
            texts.append("".join(got[n] for n in sorted(got)))
    return texts


@pytest.mark.parametrize("parts_mode", ["udh", "sar"])
async def test_send_mo(smsc: Smsc, esme: Esme, parts_mode: Any) -> None:
    session = await esme(smsc, "RX")
    await smsc.send_mo("447700900123", "SMSGATE", "STOP", parts_mode=parts_mode)
    long_text = "Reply from the phone, " * 10  # 220 GSM-7 characters: two parts
    await smsc.send_mo("447700900123", "SMSGATE", long_text, parts_mode=parts_mode)
    events = [await next_deliver(session) for _ in range(3)]
    assert all(e.source_addr == "447700900123" for e in events)
    assert all(e.destination_addr == "SMSGATE" for e in events)
    assert all(e.esm_class & coding.ESM_TYPE_MASK == 0 for e in events)  # not receipts
    assert [bool(e.esm_class & coding.ESM_UDHI) for e in events[1:]] == [parts_mode == "udh"] * 2
    assert client_texts(events) == ["STOP", long_text]
    assert smsc.counters.mo_sent == 3


async def test_send_mo_needs_a_receiver(smsc: Smsc, esme: Esme) -> None:
    await esme(smsc, "TX")
    with pytest.raises(SmscError, match="no receiver"):
        await smsc.send_mo("4477", "S", "hello")


async def test_auto_reply_after_a_delivered_message(start: Start, esme: Esme) -> None:
    session = await esme(await start(receipt_delay=0.01, auto_reply="Thanks!"))
    await session.submit_sm("447700900001", b"Hi", source_addr="SMSGATE", registered_delivery=1)
    receipt, reply = await next_deliver(session), await next_deliver(session)
    assert receipt.esm_class == coding.ESM_RECEIPT
    assert (reply.esm_class, reply.short_message) == (0, b"Thanks!")
    assert (reply.source_addr, reply.destination_addr) == ("447700900001", "SMSGATE")


# -- the command


@pytest.mark.slow
async def test_smsgate_smsc_command(tmp_path: Path, raw: Any) -> None:
    port = free_port()
    options = {
        "--port": str(port),
        "--system-id": "bob",
        "--password": "pw",
        "--reject": "0001=0x0b",
    }
    proc = Proc(
        ["smsc", *(part for pair in options.items() for part in pair)], {}, tmp_path / "smsc.log"
    )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while f"SMSC listening on 127.0.0.1:{port}" not in proc.output():
            assert proc.popen.poll() is None, proc.output()
            assert loop.time() < deadline, proc.output()
            await asyncio.sleep(0.05)
        peer = await raw(port)
        assert (await peer.bind("transceiver", "bob", "wrong")).status == pdu.ESME_RINVPASWD
        assert (await peer.bind("transceiver", "bob", "pw")).status == pdu.ESME_ROK
        await peer.send(
            "submit_sm", source_addr="S", destination_addr="4470001", short_message=b"x"
        )
        assert (await peer.read()).status == pdu.ESME_RINVDSTADR
        proc.popen.send_signal(signal.SIGTERM)
        request = await peer.read()  # a clean stop unbinds the client first
        assert request.command == "unbind"
        await peer.answer(request)
        assert await peer.at_eof()
        assert await asyncio.to_thread(proc.popen.wait, 10) == 0
        output = proc.output()
        assert "bind transceiver bob@127.0.0.1" in output
        assert "SMSC stopped" in output
    finally:
        proc.stop()
