"""The codec boundary and receipt reading, on PDUs built byte by byte."""

from __future__ import annotations

import struct

import pytest

from smsgate.vendors.smpp import pdu, receipts


def with_tlv(raw: bytes, tag: int, value: bytes) -> bytes:
    body = raw[4:] + struct.pack(">HH", tag, len(value)) + value
    return struct.pack(">L", len(body) + 4) + body


def test_a_standard_tlv_the_codec_does_not_expect_is_kept_not_fatal() -> None:
    resp = with_tlv(pdu.encode("submit_sm_resp", 7, message_id="abc"), 0x001D, b"hello\x00")
    decoded = pdu.decode(resp)
    assert (decoded.command, decoded.sequence, decoded.text("message_id")) == (
        "submit_sm_resp",
        7,
        "abc",
    )
    receipt = pdu.encode(
        "deliver_sm",
        9,
        source_addr="447911123456",
        destination_addr="ACME",
        esm_class=0x04,
        short_message=b"id:1F stat:UNDELIV err:034",
    )
    receipt = with_tlv(receipt, 0x0425, b"\x02")  # delivery_failure_reason
    receipt = with_tlv(receipt, 0x001E, b"1F\x00")  # receipted_message_id after it
    parsed = receipts.parse(pdu.decode(receipt))
    assert parsed is not None
    assert (parsed.message_id, parsed.state, parsed.error) == ("1F", "undelivered", "034")


def test_an_unknown_command_is_a_pdu_error() -> None:
    assert not pdu.is_known(0x12345678)
    with pytest.raises(pdu.PduError):
        pdu.decode(struct.pack(">LLLL", 16, 0x12345678, 0, 1))


@pytest.mark.parametrize(
    ("text", "state", "error"),
    [
        ("id:a stat:DELIVRD err:000", "delivered", None),
        ("id:a stat:EXPIRED err:000", "undelivered", "expired"),
        ("id:a stat:REJECTD err:011", "failed", "011"),
        ("id:a stat:ENROUTE err:000", "sent", None),
        ("id:a stat:BUFFRED err:000", "sent", None),  # unknown word: no verdict
    ],
)
def test_receipt_text(text: str, state: str, error: str | None) -> None:
    raw = pdu.encode(
        "deliver_sm",
        1,
        source_addr="1",
        destination_addr="2",
        esm_class=4,
        short_message=text.encode(),
    )
    parsed = receipts.parse(pdu.decode(raw))
    assert parsed is not None and (parsed.state, parsed.error) == (state, error)


def test_receipt_ids_canonical_and_readings() -> None:
    assert receipts.canonical(" 000A1b\x00") == "a1b"
    assert receipts.candidates("16", "same") == ["16"]
    assert receipts.candidates("16", "hex_to_dec") == ["10"]
    assert receipts.candidates("10", "dec_to_hex") == ["16"]
    assert receipts.candidates("16") == ["16", "10", "22"]
