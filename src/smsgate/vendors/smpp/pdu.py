"""SMPP 3.4 PDUs on an asyncio stream: framing here, field encoding by ``smpplib``.

``smpplib``'s PDU codec is the mature part of that library (its blocking client and its
GSM splitter are not used). This module is the one boundary to it:

* it numbers PDUs itself (smpplib takes sequence numbers from a client object; passing
  ``sequence=`` to its constructor is silently ignored, so it is set afterwards);
* string fields come back from smpplib as ``bytes``; :func:`text` turns them into ``str``;
* its exceptions become :class:`PduError`.

The command-status table (:data:`STATUS`) says what each ``command_status`` means to
the dispatcher: retry later, fail the message, or slow the bind down.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any, Literal

from smpplib import command_codes as _command_codes
from smpplib import consts as _consts
from smpplib import exceptions as _exceptions
from smpplib import pdu as _pdu_module
from smpplib import smpp as _smpp
from smpplib.command import Param as _Param
from smpplib.ptypes import ostr as _ostr

HEADER = struct.Struct(">LLLL")
MAX_PDU_LENGTH = 64 * 1024
"""Longest PDU we read; longer is a broken or hostile peer (SMPP 3.4 sets no limit)."""

# command_status values (SMPP 3.4 §5.1.3) that we act on by name.
ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RINVMSGID = 0x0C
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RINVESMCLASS = 0x43
ESME_RSUBMITFAIL = 0x45
ESME_RINVSRCTON = 0x48
ESME_RINVSRCNPI = 0x49
ESME_RINVDSTTON = 0x50
ESME_RINVDSTNPI = 0x51
ESME_RTHROTTLED = 0x58
ESME_RINVSCHED = 0x61
ESME_RINVEXPIRY = 0x62
ESME_RX_T_APPN = 0x64
ESME_RX_P_APPN = 0x65
ESME_RX_R_APPN = 0x66
ESME_RINVOPTPARSTREAM = 0xC0
ESME_ROPTPARNOTALLWD = 0xC1
ESME_RINVPARLEN = 0xC2
ESME_RMISSINGOPTPARAM = 0xC3
ESME_RINVOPTPARAMVAL = 0xC4
ESME_RDELIVERYFAILURE = 0xFE
ESME_RUNKNOWNERR = 0xFF

Verdict = Literal["transient", "permanent", "throttle"]

STATUS: dict[int, tuple[str, Verdict]] = {
    # Slow the bind down, then retry: the SMSC is fine, we are too fast.
    ESME_RTHROTTLED: ("throttled", "throttle"),
    ESME_RMSGQFUL: ("message_queue_full", "throttle"),
    # Retry later (maybe on another bind or vendor).
    ESME_RSYSERR: ("system_error", "transient"),
    ESME_RSUBMITFAIL: ("submit_failed", "transient"),
    ESME_RX_T_APPN: ("temporary_app_error", "transient"),
    ESME_RINVBNDSTS: ("incorrect_bind_status", "transient"),
    ESME_RALYBND: ("already_bound", "transient"),
    ESME_RDELIVERYFAILURE: ("delivery_failure", "transient"),
    ESME_RUNKNOWNERR: ("unknown_error", "transient"),
    # The message itself is wrong for this upstream: it fails.
    ESME_RINVMSGLEN: ("invalid_message_length", "permanent"),
    ESME_RINVSRCADR: ("invalid_source_address", "permanent"),
    ESME_RINVDSTADR: ("invalid_destination", "permanent"),
    ESME_RINVESMCLASS: ("invalid_esm_class", "permanent"),
    ESME_RINVSRCTON: ("invalid_source_ton", "permanent"),
    ESME_RINVSRCNPI: ("invalid_source_npi", "permanent"),
    ESME_RINVDSTTON: ("invalid_destination_ton", "permanent"),
    ESME_RINVDSTNPI: ("invalid_destination_npi", "permanent"),
    ESME_RINVSCHED: ("invalid_schedule", "permanent"),
    ESME_RINVEXPIRY: ("invalid_expiry", "permanent"),
    ESME_RX_P_APPN: ("permanent_app_error", "permanent"),
    ESME_RX_R_APPN: ("rejected", "permanent"),
    ESME_RINVOPTPARSTREAM: ("invalid_optional_parameters", "permanent"),
    ESME_ROPTPARNOTALLWD: ("optional_parameter_not_allowed", "permanent"),
    ESME_RINVPARLEN: ("invalid_parameter_length", "permanent"),
    ESME_RMISSINGOPTPARAM: ("missing_optional_parameter", "permanent"),
    ESME_RINVOPTPARAMVAL: ("invalid_optional_parameter", "permanent"),
}


def verdict(status: int) -> tuple[str, Verdict]:
    """What a non-zero ``command_status`` means. Anything not in the table (including the
    vendor-specific range 0x400-0x4FF) is retried: failing a message over a code we do not
    know would lose it."""
    return STATUS.get(status, (f"smpp_status_{status:#06x}", "transient"))


class PduError(Exception):
    """A PDU we cannot frame or decode; the connection is no longer trustworthy."""


class _NoClient:
    """smpplib asks a "client" for sequence numbers; ours come from the session."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


_CLIENT = _NoClient()


def encode(command: str, sequence: int, status: int = ESME_ROK, **fields: Any) -> bytes:
    """One PDU as bytes. String fields are ``str``; ``short_message`` and octet-string
    TLVs (``message_payload``) are ``bytes``."""
    try:
        pdu = _smpp.make_pdu(command, client=_CLIENT, **fields)
        pdu.sequence = sequence
        pdu.status = status
        raw: bytes = pdu.generate()
    except (_exceptions.UnknownCommandError, struct.error, ValueError, TypeError) as exc:
        raise PduError(f"cannot encode {command}: {exc}") from exc
    return raw


class Pdu:
    """A decoded PDU: the header, and its fields through attribute access."""

    __slots__ = ("_pdu", "command", "sequence", "status")

    def __init__(self, pdu: Any) -> None:
        self._pdu = pdu
        self.command: str = pdu.command
        self.sequence: int = pdu.sequence
        self.status: int = pdu.status

    def get(self, field: str) -> Any:
        return getattr(self._pdu, field, None)

    def text(self, field: str) -> str:
        """A C-octet-string field as ``str`` ('' when absent)."""
        value = getattr(self._pdu, field, None)
        if value is None:
            return ""
        if isinstance(value, bytes):
            return value.rstrip(b"\x00").decode("latin-1")
        return str(value)

    def tlvs(self) -> dict[str, Any]:
        """The optional parameters (TLVs) present, by smpplib's names (``sar_msg_ref_num``,
        ``message_payload``, ...); unknown tags are not kept."""
        present = ((name, getattr(self._pdu, name, None)) for name in _consts.OPTIONAL_PARAMS)
        return {name: value for name, value in present if value is not None}

    def __repr__(self) -> str:
        return f"<Pdu {self.command} seq={self.sequence} status={self.status:#x}>"


def header(raw: bytes) -> tuple[int, int, int, int]:
    """``(length, command_id, status, sequence)``."""
    length, command_id, status, sequence = HEADER.unpack_from(raw)
    return length, command_id, status, sequence


_RAW_TLV = _Param(type=_ostr)


def decode(raw: bytes) -> Pdu:
    """Decode one PDU. A standard TLV that smpplib does not expect on this command (an
    SMSC may add ``network_error_code`` to a ``submit_sm_resp``, or ``delivery_failure_reason``
    to a receipt) is kept as raw bytes instead of failing the whole PDU."""
    try:
        pdu = _smpp.make_pdu(_pdu_module.extract_command(raw), client=_CLIENT)
        missing = {name: _RAW_TLV for name in _consts.OPTIONAL_PARAMS if name not in pdu.params}
        if missing:
            pdu.params = {**pdu.params, **missing}
        pdu.allow_unknown_opt_params = True
        pdu.parse(raw)
    except Exception as exc:  # the codec's errors are not one family: KeyError, struct.error, …
        raise PduError(f"cannot decode PDU: {type(exc).__name__}: {exc}") from exc
    return Pdu(pdu)


def is_known(command_id: int) -> bool:
    """Whether the codec can decode this command (else answer ``generic_nack``)."""
    try:
        _command_codes.get_command_name(command_id)
    except _exceptions.UnknownCommandError:
        return False
    return True


async def read(reader: asyncio.StreamReader) -> bytes:
    """One whole PDU from the stream. ``asyncio.IncompleteReadError`` at end of stream."""
    head = await reader.readexactly(4)
    (length,) = struct.unpack(">L", head)
    if length < HEADER.size or length > MAX_PDU_LENGTH:
        raise PduError(f"PDU length {length} is out of bounds")
    return head + await reader.readexactly(length - 4)
