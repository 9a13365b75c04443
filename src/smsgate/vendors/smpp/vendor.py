"""The SMPP 3.4 vendor: several binds to one SMSC, submits spread over them.

``send`` turns one message into its ``submit_sm`` parts (``coding.encode_message``) and
submits them in order on one bound session, retrying a part the SMSC throttled once the
session's pause is over. Receipts and inbound messages arrive as ``deliver_sm`` on any
receiving session and go to the gateway's sink; the SMSC gets its ``deliver_sm_resp``
only after the sink has stored them.

Errors, by cause:

* no session bound (within ``bind_wait``), the connection lost before the response, or no
  response in time → ``TransientVendorError`` (retried; counts against the breaker);
* a ``command_status`` → :data:`pdu.STATUS` says transient or permanent; throttling is
  retried inside ``send`` (it is the SMSC asking us to slow down, not a failure).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import zlib
from collections import OrderedDict
from typing import Any, Literal

from pydantic import SecretStr

from smsgate.db.types import utcnow
from smsgate.errors import SmsgateError
from smsgate.phone import parse_phone
from smsgate.vendors.base import (
    EventSink,
    InboundMessage,
    InboundPart,
    OutboundMessage,
    PermanentVendorError,
    Submitted,
    TransientVendorError,
    Vendor,
    VendorError,
    VendorEvent,
)
from smsgate.vendors.smpp import coding, pdu, receipts
from smsgate.vendors.smpp.pdu import Pdu
from smsgate.vendors.smpp.session import BindMode, Session, SessionConfig, SessionLost

log = logging.getLogger("smsgate.smpp")

Binding = Literal["transceiver", "transmitter_receiver", "transmitter"]

_MODES: dict[Binding, tuple[BindMode, ...]] = {
    "transceiver": ("transceiver",),
    "transmitter_receiver": ("transmitter", "receiver"),
    "transmitter": ("transmitter",),
}

_LEARN_AFTER = 5
"""Agreeing receipts it takes to settle how an SMSC writes receipt ids (``auto``)."""

_RECENT_IDS = 200_000
"""How many submitted ids the vendor remembers to tell a receipt's id format."""


def _address(number: str, ton: int | None, npi: int | None) -> tuple[str, int, int]:
    """An address and its TON/NPI: E.164 → international/ISDN, letters → alphanumeric,
    a short all-digit sender → national. Configured values win."""
    if number.startswith("+"):
        guess = (number[1:], 1, 1)
    elif not number.isdigit():
        guess = (number, 5, 0)
    elif len(number) <= 8:
        guess = (number, 3, 0)
    else:
        guess = (number, 1, 1)
    return guess[0], guess[1] if ton is None else ton, guess[2] if npi is None else npi


def concat_reference(sms_id: str) -> int:
    """The 16-bit reference that ties a long message's parts (a UDH carries its low 8
    bits), from its id: a retry sends its parts under the same reference, so a handset
    that got part 1 from the failed attempt sees a repeat of it, not a stray fragment."""
    return zlib.crc32(sms_id.encode()) & 0xFFFF


class SmppVendor(Vendor):
    kind = "smpp"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        system_id: str,
        password: SecretStr,
        system_type: str = "",
        binding: Binding = "transceiver",
        binds: int = 1,
        window: int = 10,
        throughput: float = 0.0,
        enquire_link_interval: float = 30.0,
        response_timeout: float = 10.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        throttle_pause: float = 1.0,
        bind_wait: float = 5.0,
        tls: bool = False,
        tls_ca_file: str | None = None,
        tls_verify: bool = True,
        tls_server_name: str | None = None,
        source_addr: str | None = None,
        source_ton: int | None = None,
        source_npi: int | None = None,
        dest_ton: int | None = None,
        dest_npi: int | None = None,
        service_type: str = "",
        long_messages: coding.LongMessages = "udh",
        latin1: bool = False,
        delivery_receipts: bool = True,
        receipt_ids: receipts.ReceiptIds = "auto",
        callback_url: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.name = name
        self.source_addr = source_addr
        self.source_ton, self.source_npi = source_ton, source_npi
        self.dest_ton, self.dest_npi = dest_ton, dest_npi
        self.service_type = service_type
        self.long_messages = long_messages
        self.latin1 = latin1
        self.want_receipts = delivery_receipts
        self.receipt_ids = receipt_ids
        self.bind_wait = bind_wait
        self.deadline = (timeout or 10.0) * 0.8
        """A send gives up before the dispatcher's ``vendor_timeout_seconds`` would cancel it."""
        context: ssl.SSLContext | None = None
        if tls:
            context = ssl.create_default_context(cafile=tls_ca_file)
            if not tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        modes = _MODES[binding]
        self.sessions = [
            Session(
                SessionConfig(
                    host=host,
                    port=port,
                    system_id=system_id,
                    password=password.get_secret_value(),
                    mode=mode,
                    system_type=system_type,
                    window=window,
                    throughput=throughput,
                    enquire_link_interval=enquire_link_interval,
                    response_timeout=response_timeout,
                    reconnect_min=reconnect_min,
                    reconnect_max=reconnect_max,
                    throttle_pause=throttle_pause,
                    tls=context,
                    tls_server_name=tls_server_name,
                ),
                f"{name}#{i}{mode[0]}",
                self._on_deliver,
                self._remember,
            )
            for i in range(binds)
            for mode in modes
        ]
        self._transmitters = [s for s in self.sessions if s.transmits]
        self._turn = itertools.count()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._learned: receipts.ReceiptIds | None = None
        self._streak_reading: receipts.ReceiptIds | None = None
        self._streak = 0
        self._sink: EventSink | None = None
        self._started = False
        self._address = f"{host}:{port}"
        self._system_id = system_id

    def __repr__(self) -> str:
        return f"<SmppVendor {self.name} {self._system_id}@{self._address}>"

    # ── lifecycle ────────────────────────────────────────────────────────────────

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        if not self._started:
            self._started = True
            for session in self.sessions:
                session.start()

    async def aclose(self) -> None:
        self._started = False
        await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)

    def connections(self) -> list[dict[str, Any]]:
        return [
            # Tenants' admins see these: the state only, no addresses or error texts.
            {
                "session": s.label,
                "mode": s.config.mode,
                "bound": s.bound.is_set(),
                "paused": s.paused,
            }
            for s in self.sessions
        ]

    async def check(self) -> str:
        """Bind once (as the configured first session) and unbind."""
        probe = Session(self.sessions[0].config, f"{self.name}-check", _refuse)
        probe.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(self.bind_wait, 0.1)
        try:
            while not probe.bound.is_set():
                if probe.last_error is not None or loop.time() > deadline:
                    raise TransientVendorError(
                        "smpp_bind_failed", probe.last_error or "no bind within bind_wait"
                    )
                await asyncio.sleep(0.02)
        finally:
            await probe.close()
        return f"bound as {probe.config.mode} to {self._system_id}@{self._address}"

    # ── sending ──────────────────────────────────────────────────────────────────

    async def _session(self) -> Session:
        """A bound transmitting session: round robin, skipping paused and full ones."""
        if not self._started:
            raise TransientVendorError("smpp_not_started", f"{self.name} has no binds running")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.bind_wait
        while True:
            bound = [s for s in self._transmitters if s.bound.is_set()]
            if bound:
                start = next(self._turn)
                ordered = [bound[(start + i) % len(bound)] for i in range(len(bound))]
                for session in ordered:
                    if not session.paused and session.outstanding < session.config.window:
                        return session
                return ordered[0]
            remaining = deadline - loop.time()
            if remaining <= 0:
                reason = next(
                    (s.last_error for s in self._transmitters if s.last_error), "not bound yet"
                )
                raise TransientVendorError("smpp_not_bound", f"{self.name}: {reason}")
            waits = [asyncio.create_task(s.bound.wait()) for s in self._transmitters]
            try:
                await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    async def send(self, message: OutboundMessage) -> Submitted:
        parts = coding.encode_message(
            message.body,
            concat_reference(message.sms_id),
            long_messages=self.long_messages,
            latin1=self.latin1,
        )
        source = message.from_ or self.source_addr
        if not source:
            raise PermanentVendorError("no_sender", f"{self.name} has no source_addr to send from")
        src, src_ton, src_npi = _address(source, self.source_ton, self.source_npi)
        dst, dst_ton, dst_npi = _address(message.to, self.dest_ton, self.dest_npi)
        try:
            async with asyncio.timeout(self.deadline):
                return await self._send_parts(
                    parts, (src, src_ton, src_npi), (dst, dst_ton, dst_npi)
                )
        except TimeoutError:
            # Our own deadline, inside the dispatcher's: a clean transient error (and a
            # fresh connection, see Session.request) rather than being cancelled from
            # outside with the session none the wiser.
            raise TransientVendorError(
                "smpp_timeout", f"{self.name}: not submitted within {self.deadline:.1f}s"
            ) from None

    async def _send_parts(
        self,
        parts: list[coding.Part],
        source: tuple[str, int, int],
        destination: tuple[str, int, int],
    ) -> Submitted:
        src, src_ton, src_npi = source
        dst, dst_ton, dst_npi = destination
        session = await self._session()
        ids: list[str] = []
        for part in parts:
            fields: dict[str, Any] = {
                "service_type": self.service_type,
                "source_addr": src,
                "source_addr_ton": src_ton,
                "source_addr_npi": src_npi,
                "destination_addr": dst,
                "dest_addr_ton": dst_ton,
                "dest_addr_npi": dst_npi,
                "esm_class": part.esm_class,
                "registered_delivery": 1 if self.want_receipts else 0,
                "data_coding": part.data_coding,
                "short_message": part.short_message,
                **part.tlvs,
            }
            ids.append(await self._submit(session, fields))
        return Submitted(ids[0], tuple(ids) if len(ids) > 1 else ())

    async def _submit(self, session: Session, fields: dict[str, Any]) -> str:
        while True:
            try:
                resp = await session.submit(**fields)
            except SessionLost as exc:
                raise TransientVendorError("smpp_connection_lost", str(exc)) from None
            except TimeoutError:
                raise TransientVendorError(
                    "smpp_timeout", f"no submit_sm_resp within {session.config.response_timeout}s"
                ) from None
            if resp.status == pdu.ESME_ROK:
                message_id = receipts.canonical(resp.text("message_id"))
                if not message_id:
                    raise TransientVendorError("smpp_no_message_id", "submit_sm_resp had no id")
                return message_id
            code, verdict = pdu.verdict(resp.status)
            if verdict == "throttle":
                continue  # the session pauses before the next submit
            error: type[VendorError] = (
                PermanentVendorError if verdict == "permanent" else TransientVendorError
            )
            raise error(code, f"SMSC answered command_status {resp.status:#04x}")

    def _remember(self, message_id: str) -> None:
        """Called by the session as each ``submit_sm_resp`` is read."""
        self._recent[receipts.canonical(message_id)] = None
        if len(self._recent) > _RECENT_IDS:
            self._recent.popitem(last=False)

    # ── receiving ────────────────────────────────────────────────────────────────

    def receipt_id(self, raw_id: str) -> str:
        """Our stored form of a receipt's message id (see ``receipts.candidates``).

        With ``receipt_ids = "auto"`` the first receipt whose id is recognisable in exactly
        one reading settles the reading for the rest (an SMSC does not switch); until then
        an unrecognised id is taken as it is written.
        """
        mode = self._learned or self.receipt_ids
        options = receipts.candidates(raw_id, mode)
        if mode != "auto":
            return options[0]
        known = [c for c in options if c in self._recent]
        if not known:
            return options[0]
        seen = receipts.reading(raw_id, known[0]) if len(known) == 1 else None
        if seen is not None:
            # One coincidence (an old id whose other reading is a recent id) must not
            # settle it: only a run of agreeing, unambiguous receipts does.
            self._streak = self._streak + 1 if seen == self._streak_reading else 1
            self._streak_reading = seen
            if self._streak >= _LEARN_AFTER:
                self._learned = seen
                log.info("%s: receipts carry ids as %s", self.name, seen)
        return known[0]

    async def _on_deliver(self, request: Pdu) -> int:
        if self._sink is None:
            return pdu.ESME_RX_T_APPN
        esm_class = request.get("esm_class") or 0
        message_type = esm_class & coding.ESM_TYPE_MASK
        events: list[VendorEvent | InboundMessage]
        if message_type not in (0, coding.ESM_RECEIPT, coding.ESM_INTERMEDIATE):
            # An SME delivery or user acknowledgement: neither a receipt nor a text.
            log.info("%s: deliver_sm of message type %#x acknowledged", self.name, message_type)
            return pdu.ESME_ROK
        if message_type:
            receipt = receipts.parse(request)
            if receipt is None:
                log.warning(
                    "%s: a receipt without a message id; acknowledged and dropped", self.name
                )
                return pdu.ESME_ROK
            stored = self.receipt_id(receipt.message_id)
            readings = (
                receipts.candidates(receipt.message_id, "auto")
                if self.receipt_ids == "auto" and self._learned is None
                else [stored]
            )
            events = [
                VendorEvent(
                    kind="receipt",
                    state=receipt.state,
                    vendor_message_id=stored,
                    alternate_ids=tuple(r for r in readings if r != stored),
                    error_code=receipt.error,
                    error_message=f"SMSC reported {receipt.stat}" if receipt.error else None,
                    occurred_at=utcnow(),
                )
            ]
        else:
            sar = (
                request.get("sar_msg_ref_num"),
                request.get("sar_total_segments"),
                request.get("sar_segment_seqnum"),
            )
            text, concat = coding.decode_inbound(
                request.get("short_message") or b"",
                request.get("data_coding") or 0,
                esm_class,
                sar,
                request.get("message_payload"),
            )
            source = request.text("source_addr")
            events = [
                InboundMessage(
                    from_=_e164(source, request.get("source_addr_ton")),
                    to=_e164(request.text("destination_addr"), request.get("dest_addr_ton")),
                    body=text,
                    part=InboundPart(concat.reference, concat.total, concat.number)
                    if concat
                    else None,
                    received_at=utcnow(),
                )
            ]
        await self._sink(self.name, events)
        return pdu.ESME_ROK


def _e164(address: str, ton: int | None) -> str:
    """An MO address as E.164 when it is international (TON 1), or when the SMSC left the
    TON unknown (0) but the digits are a valid number with a country code."""
    if not address.isdigit():
        return address
    if ton == 1:
        return "+" + address
    if ton in (0, None) and len(address) >= 8:
        try:
            return parse_phone("+" + address, param="from").e164
        except SmsgateError:
            pass
    return address


async def _refuse(request: Pdu) -> int:
    """A ``vendors check`` bind stores nothing: ask the SMSC to deliver it again later."""
    return pdu.ESME_RX_T_APPN
