"""Text ⇄ ``short_message``: data_coding, long messages, and reading concatenated parts.

Outbound, a body goes out as

* ``data_coding`` 0 (the SMSC default alphabet, taken as GSM-7, one septet per octet) when
  every character is GSM-7, or 3 (Latin-1) when the bind is configured for it and the text
  fits Latin-1, else
* ``data_coding`` 8 (UCS-2, big-endian UTF-16).

A body longer than one SMS is sent as parts, in one of three ways (``long_messages``):

* ``udh`` (default): each part starts with a user-data header holding the concatenation
  element (IEI 0x00: reference, total, number) and ``esm_class`` has the UDHI bit 0x40;
* ``sar``: the same parts without a header, numbered by the ``sar_*`` TLVs;
* ``payload``: one ``submit_sm`` whose ``message_payload`` TLV holds the whole text, and the
  SMSC splits it.

Parts are cut by :func:`smsgate.text.gsm7.split`, so an escape pair, a surrogate pair or a
grapheme cluster is never cut in two, and the part count is what the API priced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from smsgate.text import gsm7

LongMessages = Literal["udh", "sar", "payload"]

DC_DEFAULT = 0
DC_LATIN1 = 3
DC_UCS2 = 8

ESM_UDHI = 0x40
ESM_RECEIPT = 0x04
"""esm_class message type "SMSC delivery receipt" (bits 2-5 = 0001)."""
ESM_TYPE_MASK = 0x3C
ESM_INTERMEDIATE = 0x20
"""esm_class message type "intermediate delivery notification" (bits 2-5 = 1000)."""

_LATIN1_SINGLE = 140
_LATIN1_MULTI = 134


@dataclass(frozen=True, slots=True)
class Part:
    """One ``submit_sm``: its payload and the fields that depend on the split."""

    data_coding: int
    short_message: bytes
    esm_class: int = 0
    tlvs: dict[str, Any] = field(default_factory=dict)


def _latin1_split(text: str) -> list[str]:
    if len(text) <= _LATIN1_SINGLE:
        return [text]
    return [text[i : i + _LATIN1_MULTI] for i in range(0, len(text), _LATIN1_MULTI)]


def choose(text: str, latin1: bool = False) -> tuple[int, list[str]]:
    """The ``data_coding`` for ``text`` and the texts of its parts."""
    if gsm7.is_gsm7(text):
        return DC_DEFAULT, gsm7.split(text)
    if latin1:
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:
            pass
        else:
            return DC_LATIN1, _latin1_split(text)
    return DC_UCS2, gsm7.split(text)


def encode_text(text: str, data_coding: int) -> bytes:
    if data_coding == DC_DEFAULT:
        return gsm7.encode(text)
    if data_coding == DC_LATIN1:
        return text.encode("latin-1")
    return text.encode("utf-16-be")


def decode_text(data: bytes, data_coding: int) -> str:
    """Inbound text. Unknown codings are read as Latin-1 rather than refused: an MO that
    reads oddly beats an MO that is lost."""
    if data_coding == DC_DEFAULT:
        return gsm7.decode(data)
    if data_coding == DC_UCS2:
        return data.decode("utf-16-be", errors="replace")
    if data_coding == 1:  # IA5 / ASCII
        return data.decode("ascii", errors="replace")
    return data.decode("latin-1")


def encode_message(
    text: str, reference: int, *, long_messages: LongMessages = "udh", latin1: bool = False
) -> list[Part]:
    """The ``submit_sm`` payloads for ``text``; ``reference`` ties the parts: all 16 bits
    of it in ``sar_msg_ref_num``, the low 8 in a UDH (the 8-bit element keeps each part's
    room at 153 GSM-7 characters, the count our pricing uses)."""
    data_coding, texts = choose(text, latin1)
    if len(texts) == 1:
        return [Part(data_coding, encode_text(text, data_coding))]
    if long_messages == "payload":
        return [Part(data_coding, b"", tlvs={"message_payload": encode_text(text, data_coding)})]
    total = len(texts)
    parts = []
    for number, chunk in enumerate(texts, start=1):
        payload = encode_text(chunk, data_coding)
        if long_messages == "sar":
            tlvs = {
                "sar_msg_ref_num": reference & 0xFFFF,
                "sar_total_segments": total,
                "sar_segment_seqnum": number,
            }
            parts.append(Part(data_coding, payload, tlvs=tlvs))
        else:
            udh = bytes([5, 0x00, 3, reference & 0xFF, total, number])
            parts.append(Part(data_coding, udh + payload, esm_class=ESM_UDHI))
    return parts


@dataclass(frozen=True, slots=True)
class Concat:
    """Where an inbound part belongs: ``reference`` ties it to its siblings."""

    reference: int
    total: int
    number: int


def split_udh(short_message: bytes) -> tuple[Concat | None, bytes]:
    """The concatenation element of a user-data header (8- or 16-bit reference), and the
    text after the header. A malformed header yields no element and the raw bytes."""
    if not short_message:
        return None, short_message
    length = short_message[0]
    if length + 1 > len(short_message):
        return None, short_message
    header, rest = short_message[1 : length + 1], short_message[length + 1 :]
    concat = None
    i = 0
    while i + 2 <= len(header):
        iei, iel = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + iel]
        if len(value) != iel:
            break
        if iei == 0x00 and iel == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and iel == 4:
            concat = Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
        i += 2 + iel
    return concat, rest


def decode_inbound(
    short_message: bytes,
    data_coding: int,
    esm_class: int,
    sar: tuple[int | None, int | None, int | None] = (None, None, None),
    message_payload: bytes | None = None,
) -> tuple[str, Concat | None]:
    """An MO ``deliver_sm``'s text and, for a part of a long message, where it belongs."""
    data = message_payload if message_payload else short_message
    concat: Concat | None = None
    if esm_class & ESM_UDHI:
        concat, data = split_udh(data)
    ref, total, number = sar
    if concat is None and ref is not None and total and number:
        concat = Concat(ref, total, number)
    if concat is not None and concat.total <= 1:
        concat = None
    return decode_text(data, data_coding), concat
