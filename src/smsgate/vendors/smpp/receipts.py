"""Delivery receipts in ``deliver_sm``: which message, which state, which error.

A receipt is a ``deliver_sm`` whose ``esm_class`` says "SMSC delivery receipt". Its facts
come from the ``receipted_message_id`` and ``message_state`` TLVs when present (SMPP 3.4
§5.3.2.12, §5.3.2.35), else from the de-facto text format of SMPP 3.4 Appendix B::

    id:0A1B2C sub:001 dlvrd:001 submit date:2411251034 done date:2411251035
    stat:DELIVRD err:000 text:Hello

Message ids are compared in a canonical form (lower case, no leading zeros). Many SMSCs
answer ``submit_sm`` with a hexadecimal id and put the same number in decimal into the
receipt, or the other way round: :func:`candidates` gives every reading of an id, and the
vendor picks the one it has recently submitted (or the configured reading).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from smsgate.vendors.smpp.pdu import Pdu

ReceiptIds = Literal["auto", "same", "hex_to_dec", "dec_to_hex"]
"""How a receipt's id relates to the ``submit_sm_resp`` id: ``hex_to_dec`` means the
SMSC answered in hex and reports in decimal (Kannel's ``msg-id-type`` 1)."""

State = Literal["sent", "delivered", "undelivered", "failed"]

STAT: dict[str, State] = {
    "DELIVRD": "delivered",
    "UNDELIV": "undelivered",
    "EXPIRED": "undelivered",
    "DELETED": "failed",
    "REJECTD": "failed",
    "UNKNOWN": "undelivered",
    "ACCEPTD": "sent",
    "ENROUTE": "sent",
}
"""The receipt text's ``stat:`` value → our state."""

MESSAGE_STATE: dict[int, str] = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
"""The ``message_state`` TLV (SMPP 3.4 §5.2.28) → the text's ``stat:`` word."""

_FIELD = re.compile(r"\b(id|stat|err):\s*([^\s]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str
    """As the SMSC wrote it; see :func:`candidates`."""
    stat: str
    state: State
    error: str | None


def canonical(message_id: str) -> str:
    cleaned = message_id.strip().strip("\x00").lower()
    return cleaned.lstrip("0") or ("0" if cleaned else "")


def candidates(message_id: str, mode: ReceiptIds = "auto") -> list[str]:
    """The canonical ids a receipt's id may stand for, most likely first."""
    same = canonical(message_id)
    as_dec = str(int(same, 16)) if same and _is_hex(same) else None
    as_hex = format(int(same), "x") if same.isdigit() else None
    if mode == "same":
        return [same]
    if mode == "hex_to_dec":  # the receipt says decimal; we stored hex
        return [as_hex] if as_hex is not None else [same]
    if mode == "dec_to_hex":  # the receipt says hex; we stored decimal
        return [as_dec] if as_dec is not None else [same]
    return [same, *(c for c in (as_hex, as_dec) if c is not None and c != same)]


def reading(raw_id: str, stored: str) -> ReceiptIds | None:
    """Which reading turns a receipt's ``raw_id`` into the ``stored`` id, if only one does."""
    same = canonical(raw_id)
    readings: dict[ReceiptIds, str | None] = {
        "same": same,
        "hex_to_dec": format(int(same), "x") if same.isdigit() else None,
        "dec_to_hex": str(int(same, 16)) if same and _is_hex(same) else None,
    }
    fits = [mode for mode, value in readings.items() if value == stored]
    return fits[0] if len(fits) == 1 else None


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdef" for c in value)


def parse(pdu: Pdu) -> Receipt | None:
    """The receipt in a ``deliver_sm``, or None when it has no message id."""
    text = (pdu.get("short_message") or pdu.get("message_payload") or b"").decode(
        "latin-1", errors="replace"
    )
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(text):
        fields.setdefault(key.lower(), value)
    message_id = pdu.text("receipted_message_id") or fields.get("id", "")
    state_tlv = pdu.get("message_state")
    if isinstance(state_tlv, int) and state_tlv in MESSAGE_STATE:
        stat = MESSAGE_STATE[state_tlv]
    else:
        stat = fields.get("stat", "UNKNOWN").upper()
    if not message_id:
        return None
    err = fields.get("err")
    error = err if err and err.strip("0") else None
    if error is None and STAT.get(stat, "sent") not in ("delivered", "sent"):
        error = stat.lower()
    # A word we do not know is not a verdict: it changes nothing (a later DELIVRD still can).
    return Receipt(message_id, stat, STAT.get(stat, "sent"), error)
