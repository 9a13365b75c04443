"""A local SMSC for development and tests: ``smsgate smsc``.

:class:`Smsc` is the server side of SMPP 3.4 on asyncio. PDUs are framed and encoded by
:mod:`.pdu`, texts by :mod:`.coding`. It

* answers binds (any login, or only the ``credentials`` given), ``enquire_link``,
  ``unbind``, and ``generic_nack`` for what it does not know;
* keeps every ``submit_sm`` it receives (:attr:`Smsc.submits`; :meth:`Smsc.texts` joins
  the parts of long messages) and answers it with a message id;
* sends a delivery receipt when one is asked for, with the ``receipted_message_id`` and
  ``message_state`` TLVs and the usual ``id:... stat:...`` text;
* sends mobile-originated messages on demand (:meth:`Smsc.send_mo`), or as an automatic
  reply to every delivered message (``auto_reply``);
* injects the faults a real carrier produces now and then (:class:`SmscFaults`, which a
  test may change while the server runs).

It is not a store-and-forward SMSC: nothing survives a restart. Receipts and automatic
replies owed to a ``system_id`` with no receiver bound wait in memory (at most
:data:`MAX_HELD`) and go out when one binds; one whose connection closes before its
``deliver_sm_resp`` is sent again then (at least once, as a real SMSC does).

A slow client cannot make it buffer without bound: each connection reads one PDU at a
time, every write awaits ``drain()``, and at most ``window`` submits per connection wait
for their answer, so a client that stops reading stops being read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import time
from collections import deque
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from smsgate.vendors.smpp import coding, pdu

log = logging.getLogger("smsgate.smsc")

IdFormat = Literal["hex", "dec"]
BindMode = Literal["transmitter", "receiver", "transceiver"]

RECEIPT_STATES: dict[str, tuple[int, str]] = {
    # stat in the receipt text: (message_state TLV, err in the receipt text)
    "DELIVRD": (2, "000"),
    "EXPIRED": (3, "002"),
    "DELETED": (4, "003"),
    "UNDELIV": (5, "001"),
    "ACCEPTD": (6, "000"),
    "UNKNOWN": (7, "004"),
    "REJECTD": (8, "005"),
}
"""The receipt states an SMSC reports (SMPP 3.4 §5.2.28 and Appendix B)."""

MAX_HELD = 10_000
"""Receipts and replies kept for a ``system_id`` with no receiver bound; older ones go."""

_BIND_MODES: dict[str, BindMode] = {
    "bind_transmitter": "transmitter",
    "bind_receiver": "receiver",
    "bind_transceiver": "transceiver",
}
_RESPONSE_BIT = 0x80000000
_MAX_SEQUENCE = 0x7FFFFFFF
# Characters that are the same octet in ASCII and in the GSM-7 default alphabet: the
# receipt's "text:" excerpt keeps these, so any client reads the receipt alike.
_RECEIPT_SAFE = frozenset(
    " !\"#%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

_V = TypeVar("_V")


class SmscError(Exception):
    """:meth:`Smsc.send_mo` could not hand a message over: no receiver is bound, the
    connection closed, no ``deliver_sm_resp`` came, or it carried an error (``status``)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class SmscFaults:
    """Faults to inject; all off by default. Change them at any time: a counting fault
    starts counting afresh whenever its value changes."""

    throttle_every: int = 0
    """Answer every Nth ``submit_sm`` with ESME_RTHROTTLED."""
    queue_full_every: int = 0
    """Answer every Nth ``submit_sm`` with ESME_RMSGQFUL."""
    drop_after: int = 0
    """Close the connection abruptly, without an answer, when the Nth ``submit_sm`` (counted
    over the whole server) arrives; then back to 0."""
    response_delay: float = 0.0
    """Seconds to wait before each ``submit_sm_resp``."""
    early_receipts: bool = False
    """Send the delivery receipt before the ``submit_sm_resp``."""
    reject_destinations: dict[str, int] = field(default_factory=dict)
    """Destination suffix -> the command_status to answer (the longest suffix wins)."""
    silent: bool = False
    """Read every ``submit_sm`` and never answer it."""


@dataclass
class SmscCounters:
    accepted: int = 0
    throttled: int = 0
    """Answers ESME_RTHROTTLED and ESME_RMSGQFUL."""
    rejected: int = 0
    """Any other error answer to a ``submit_sm``."""
    receipts_sent: int = 0
    mo_sent: int = 0
    """``deliver_sm`` parts of mobile-originated messages."""
    binds: int = 0
    drops: int = 0
    enquire_links: int = 0
    """``enquire_link`` requests answered."""
    """Connections closed abruptly by ``drop_after`` or :meth:`Smsc.drop_all`."""


@dataclass(frozen=True, slots=True)
class Submitted:
    """One ``submit_sm`` as received."""

    message_id: str
    """The id answered; '' when the submit was not accepted."""
    status: int | None
    """The command_status answered; ``None`` when it never was (dropped, silent)."""
    system_id: str
    source: str
    destination: str
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    tlvs: dict[str, Any]
    received_at: datetime

    def decoded(self) -> tuple[str, coding.Concat | None]:
        """This part's text and, for a part of a long message, where it belongs."""
        sar = (
            self.tlvs.get("sar_msg_ref_num"),
            self.tlvs.get("sar_total_segments"),
            self.tlvs.get("sar_segment_seqnum"),
        )
        payload = self.tlvs.get("message_payload")
        return coding.decode_inbound(
            self.short_message, self.data_coding, self.esm_class, sar, payload
        )


def reassemble(submits: Iterable[Submitted]) -> list[str]:
    """The whole texts of the accepted submits, in the order their first part came. A part
    sent again (a retry) replaces its earlier copy; a message still missing a part is left
    out."""
    texts: list[str | None] = []
    partial: dict[tuple[str, str, str, int, int], tuple[int, dict[int, str]]] = {}
    for sub in submits:
        if sub.status != pdu.ESME_ROK:
            continue
        text, concat = sub.decoded()
        if concat is None:
            texts.append(text)
            continue
        if not 1 <= concat.number <= concat.total:
            continue
        key = (sub.system_id, sub.source, sub.destination, concat.reference, concat.total)
        if key not in partial:
            partial[key] = (len(texts), {})
            texts.append(None)
        slot, parts = partial[key]
        parts[concat.number] = text
        if len(parts) == concat.total:
            texts[slot] = "".join(parts[n] for n in range(1, concat.total + 1))
            del partial[key]
    return [text for text in texts if text is not None]


def _by_suffix(table: dict[str, _V], number: str) -> _V | None:
    """The value of the longest suffix of ``number`` in ``table``."""
    best: tuple[int, _V] | None = None
    for suffix, value in table.items():
        if number.endswith(suffix) and (best is None or len(suffix) > best[0]):
            best = (len(suffix), value)
    return None if best is None else best[1]


def _format_id(number: int, id_format: IdFormat) -> str:
    return format(number, "x") if id_format == "hex" else str(number)


def _preview(text: str, length: int = 30) -> str:
    return repr(text if len(text) <= length else text[: length - 1] + "…")


class _Every:
    """Counts submits since a fault's value last changed: a test that sets ``every`` to N
    mid-run gets its first hit exactly N submits later."""

    __slots__ = ("count", "every")

    def __init__(self) -> None:
        self.every = 0
        self.count = 0

    def hit(self, every: int) -> bool:
        if every != self.every:
            self.every, self.count = every, 0
        if every <= 0:
            return False
        self.count += 1
        return self.count % every == 0


DeliverCommand = Literal["deliver_sm", "data_sm"]


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """A ``deliver_sm`` the server owes a ``system_id``: a receipt or an MO part."""

    system_id: str
    kind: Literal["receipt", "mo"]
    fields: dict[str, Any]
    summary: str


def _fields_for(out: _Outgoing, command: DeliverCommand) -> dict[str, Any]:
    """``out``'s fields for ``command``: a ``data_sm`` has no ``short_message``, so its
    octets go in ``message_payload``."""
    if command == "deliver_sm":
        return out.fields
    fields = dict(out.fields)
    octets = fields.pop("short_message", b"")
    if octets:
        fields["message_payload"] = octets
    return fields


class _Session:
    """One client connection."""

    def __init__(
        self, smsc: Smsc, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.smsc = smsc
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.mode: BindMode | None = None
        self.system_id = ""
        self.closed = False
        self.task: asyncio.Task[Any] | None = None
        self._cleaned = False
        self._sequence = 0
        self._pending: dict[int, asyncio.Future[pdu.Pdu]] = {}
        self._write_lock = asyncio.Lock()
        self._window = asyncio.Semaphore(smsc.window)
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"{self.system_id or '?'}@{self.peer}"

    @property
    def can_receive(self) -> bool:
        return not self.closed and self.mode in ("receiver", "transceiver")

    @property
    def can_transmit(self) -> bool:
        return self.mode in ("transmitter", "transceiver")

    # -- writing

    async def send(self, raw: bytes) -> None:
        async with self._write_lock:
            if self.closed or self.writer.is_closing():
                raise ConnectionError("connection closed")
            self.writer.write(raw)
            await self.writer.drain()

    async def respond(self, request: pdu.Pdu, status: int = pdu.ESME_ROK, **fields: Any) -> None:
        raw = pdu.encode(f"{request.command}_resp", request.sequence, status, **fields)
        if status != pdu.ESME_ROK:  # an error response has no body (SMPP 3.4 §4.1.2, §4.4.2)
            _, command_id, _, _ = pdu.header(raw)
            raw = pdu.HEADER.pack(pdu.HEADER.size, command_id, status, request.sequence)
        await self.send(raw)

    async def nack(self, sequence: int, status: int) -> None:
        await self.send(pdu.encode("generic_nack", sequence, status))

    async def request(self, command: str, **fields: Any) -> asyncio.Future[pdu.Pdu]:
        """Write a request; the future resolves with its response (``ConnectionError`` if
        the connection closes first)."""
        if self.closed:
            raise ConnectionError("connection closed")
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        sequence = self._sequence
        future: asyncio.Future[pdu.Pdu] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        future.add_done_callback(functools.partial(self._forget, sequence))
        try:
            await self.send(pdu.encode(command, sequence, **fields))
        except BaseException:
            future.cancel()
            raise
        return future

    def _forget(self, sequence: int, future: asyncio.Future[pdu.Pdu]) -> None:
        if self._pending.get(sequence) is future:
            del self._pending[sequence]
        if not future.cancelled():
            future.exception()  # retrieved: a caller that gave up need not read it

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        _spawn(coro, self._tasks)

    # -- reading

    async def run(self) -> None:
        try:
            while not self.closed:
                try:
                    raw = await pdu.read(self.reader)
                except pdu.PduError as exc:
                    log.warning("%s sent a bad frame (%s); closing", self.peer, exc)
                    with contextlib.suppress(ConnectionError):
                        await self.nack(0, pdu.ESME_RINVCMDLEN)
                    return
                await self._dispatch(raw)
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    async def _dispatch(self, raw: bytes) -> None:
        _, command_id, _, sequence = pdu.header(raw)
        if not pdu.is_known(command_id):
            log.info("%s sent unknown command %#010x", self.peer, command_id)
            await self.nack(sequence, pdu.ESME_RINVCMDID)
            return
        try:
            request = pdu.decode(raw)
        except pdu.PduError as exc:
            log.info("%s sent an undecodable PDU: %s", self.peer, exc)
            await self.nack(sequence, pdu.ESME_RINVCMDID)
            return
        if command_id & _RESPONSE_BIT:  # a response to us, or generic_nack
            future = self._pending.get(request.sequence)
            if future is not None and not future.done():
                future.set_result(request)
            return
        if request.command in _BIND_MODES:
            await self._on_bind(request)
        elif request.command == "submit_sm":
            await self._on_submit(request)
        elif request.command == "enquire_link":
            self.smsc.counters.enquire_links += 1
            await self.respond(request)
        elif request.command == "unbind":
            await self.respond(request)
            log.info("unbind %r", self)
            self.closed = True
        else:
            await self.nack(request.sequence, pdu.ESME_RINVCMDID)

    async def _on_bind(self, request: pdu.Pdu) -> None:
        mode = _BIND_MODES[request.command]
        if self.mode is not None:
            await self.respond(request, pdu.ESME_RALYBND)
            return
        system_id = request.text("system_id")
        status = self.smsc._check_login(system_id, request.text("password"))
        if status != pdu.ESME_ROK:
            log.info("bind %s refused for %r from %s (%#x)", mode, system_id, self.peer, status)
            await self.respond(request, status)
            return
        await self.respond(request, system_id=self.smsc.system_id)
        self.mode, self.system_id = mode, system_id
        self.smsc.counters.binds += 1
        log.info("bind %s %r", mode, self)
        self.spawn(self._keepalive())
        if self.can_receive:
            self.smsc._receiver_bound()

    async def _on_submit(self, request: pdu.Pdu) -> None:
        if not self.can_transmit:
            self.smsc.counters.rejected += 1
            await self.respond(request, pdu.ESME_RINVBNDSTS)
            return
        if not request.text("destination_addr"):
            self.smsc.counters.rejected += 1
            await self.respond(request, pdu.ESME_RINVDSTADR)
            return
        sub = self.smsc._admit(self, request)
        if sub.status is None:
            return  # dropped or silent: never answered
        await self._window.acquire()
        self.spawn(self._answer(request, sub))

    async def _answer(self, request: pdu.Pdu, sub: Submitted) -> None:
        smsc = self.smsc
        early: tuple[_Outgoing, _Sent | None] | None = None
        try:
            if sub.status == pdu.ESME_ROK and smsc.faults.early_receipts:
                receipt = smsc._receipt_for(sub)
                if receipt is not None:
                    early = (receipt, await smsc._write(receipt))
            if smsc.faults.response_delay > 0:
                await asyncio.sleep(smsc.faults.response_delay)
            try:
                await self.respond(request, sub.status or 0, message_id=sub.message_id)
            except ConnectionError:
                log.info("%r closed before submit_sm_resp %s", self, sub.message_id)
        finally:
            self._window.release()
            # Accepted is accepted: the message is delivered (and its receipt owed) even
            # when the connection closed before the answer, as on a real SMSC.
            if sub.status == pdu.ESME_ROK:
                smsc._spawn(smsc._after_submit(sub, early))

    async def _keepalive(self) -> None:
        interval = self.smsc.enquire_link_interval
        if interval <= 0:
            return
        while not self.closed:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(self.smsc.response_timeout):  # a stuck write too
                    await (await self.request("enquire_link"))
            except ConnectionError:
                return
            except TimeoutError:
                log.warning("%r: no enquire_link_resp; closing", self)
                self.abort()
                return

    # -- closing

    def abort(self) -> None:
        """Close at once, without a word (a crash, a cut cable)."""
        self.closed = True
        self.writer.transport.abort()

    async def unbind(self, wait: float) -> None:
        """Say goodbye: ``unbind``, a short wait for ``unbind_resp``, then close."""
        if self.mode is not None and not self.closed:
            with contextlib.suppress(ConnectionError, TimeoutError):
                async with asyncio.timeout(wait):
                    await (await self.request("unbind"))
        await self.cleanup()

    async def cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (OSError, TimeoutError):
            self.writer.transport.abort()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


_Sent = tuple[_Session, "asyncio.Future[pdu.Pdu]"]
"""A written ``deliver_sm``: where it went, and its response to come."""


def _spawn(coro: Coroutine[Any, Any, None], tasks: set[asyncio.Task[Any]]) -> None:
    task = asyncio.create_task(coro)
    tasks.add(task)
    task.add_done_callback(functools.partial(_reap, tasks))


def _reap(tasks: set[asyncio.Task[Any]], task: asyncio.Task[Any]) -> None:
    tasks.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("SMSC task failed", exc_info=exc)


class Smsc:
    """A local SMSC. ``await start()``, then read :attr:`port`; ``await stop()`` unbinds
    every client and closes."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        system_id: str = "smsgate-smsc",
        credentials: dict[str, str] | None = None,
        receipt_delay: float = 0.05,
        receipt_states: dict[str, str] | None = None,
        id_format: IdFormat = "hex",
        receipt_id_format: IdFormat | None = None,
        faults: SmscFaults | None = None,
        auto_reply: str | None = None,
        enquire_link_interval: float = 30.0,
        response_timeout: float = 10.0,
        window: int = 64,
        max_submits: int | None = None,
        deliver_with: DeliverCommand = "deliver_sm",
    ) -> None:
        """``credentials`` maps system_id to password (``None`` accepts any login);
        ``receipt_states`` maps a destination suffix to the receipt's stat (default
        DELIVRD; see :data:`RECEIPT_STATES`); ``receipt_id_format`` (default
        ``id_format``) writes receipt ids in another base than ``submit_sm_resp``, as some
        SMSCs do; ``auto_reply`` answers every delivered message with an MO of that text;
        ``max_submits`` bounds :attr:`submits` for a long-running server;
        ``deliver_with="data_sm"`` sends receipts and MOs as ``data_sm``, their octets in
        ``message_payload``, as some SMSCs do."""
        states = receipt_states or {}
        unknown = {stat for stat in states.values() if stat not in RECEIPT_STATES}
        if unknown:
            raise ValueError(f"unknown receipt state(s) {sorted(unknown)}")
        for name, value in (("id_format", id_format), ("receipt_id_format", receipt_id_format)):
            if value not in ("hex", "dec", None):
                raise ValueError(f"{name} must be 'hex' or 'dec', not {value!r}")
        self.host = host
        self.port = port
        self.system_id = system_id
        self.credentials = credentials
        self.receipt_delay = receipt_delay
        self.receipt_states = states
        self.id_format: IdFormat = id_format
        self.receipt_id_format: IdFormat = receipt_id_format or id_format
        self.faults = faults or SmscFaults()
        self.auto_reply = auto_reply
        self.enquire_link_interval = enquire_link_interval
        self.response_timeout = response_timeout
        self.window = window
        self.max_submits = max_submits
        self.deliver_with: DeliverCommand = deliver_with
        self.submits: list[Submitted] = []
        self.counters = SmscCounters()
        self._server: asyncio.Server | None = None
        self._stopping = False
        self._sessions: list[_Session] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._held: deque[_Outgoing] = deque(maxlen=MAX_HELD)
        self._flush_lock = asyncio.Lock()
        self._next_id = time.time_ns() // 1_000_000  # ids stay unique across restarts
        self._next_reference = 0
        self._round_robin = 0
        self._throttle = _Every()
        self._queue_full = _Every()
        self._drop = _Every()

    # -- lifecycle

    async def start(self) -> None:
        self._stopping = False
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self, unbind_timeout: float = 1.0) -> None:
        """Stop listening, send every bound client ``unbind`` (waiting at most
        ``unbind_timeout`` for its answer) and close."""
        if self._server is None:
            return
        server, self._server = self._server, None
        self._stopping = True
        server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        sessions = list(self._sessions)
        await asyncio.gather(*(s.unbind(unbind_timeout) for s in sessions), return_exceptions=True)
        connections = [s.task for s in sessions if s.task is not None]
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()

    async def drop_all(self) -> None:
        """Close every connection abruptly, and wait until they are gone."""
        sessions = list(self._sessions)
        for session in sessions:
            session.abort()
            self.counters.drops += 1
        connections = [s.task for s in sessions if s.task is not None]
        if connections:
            await asyncio.wait(connections, timeout=2.0)
        log.info("dropped %d connection(s)", len(sessions))

    async def __aenter__(self) -> Smsc:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        session.task = asyncio.current_task()
        self._sessions.append(session)
        try:
            await session.run()
        except Exception:
            log.exception("%r failed", session)
        finally:
            self._sessions.remove(session)
            await session.cleanup()
            log.debug("%r closed", session)

    # -- what tests read

    def texts(self) -> list[str]:
        """The whole texts received (long messages joined); see :func:`reassemble`."""
        return reassemble(self.submits)

    # -- submits

    def _check_login(self, system_id: str, password: str) -> int:
        if self.credentials is None:
            return pdu.ESME_ROK
        expected = self.credentials.get(system_id)
        if expected is None:
            return pdu.ESME_RINVSYSID
        if not hmac.compare_digest(expected.encode(), password.encode()):
            return pdu.ESME_RINVPASWD
        return pdu.ESME_ROK

    def _admit(self, session: _Session, request: pdu.Pdu) -> Submitted:
        """Decide the answer to one submit (faults first), record it, count it."""
        faults = self.faults
        destination = request.text("destination_addr")
        dropped = self._drop.hit(faults.drop_after)
        status: int | None = None
        if dropped:
            faults.drop_after = 0
        elif not faults.silent:
            throttled = self._throttle.hit(faults.throttle_every)
            queue_full = self._queue_full.hit(faults.queue_full_every)
            if throttled:
                status = pdu.ESME_RTHROTTLED
            elif queue_full:
                status = pdu.ESME_RMSGQFUL
            else:
                status = _by_suffix(faults.reject_destinations, destination) or pdu.ESME_ROK
        message_id = ""
        if status == pdu.ESME_ROK:
            message_id = _format_id(self._next_id, self.id_format)
            self._next_id += 1
            self.counters.accepted += 1
        elif status in (pdu.ESME_RTHROTTLED, pdu.ESME_RMSGQFUL):
            self.counters.throttled += 1
        elif status is not None:
            self.counters.rejected += 1
        sub = Submitted(
            message_id=message_id,
            status=status,
            system_id=session.system_id,
            source=request.text("source_addr"),
            destination=destination,
            esm_class=int(request.get("esm_class") or 0),
            data_coding=int(request.get("data_coding") or 0),
            registered_delivery=int(request.get("registered_delivery") or 0),
            short_message=bytes(request.get("short_message") or b""),
            tlvs=request.tlvs(),
            received_at=datetime.now(UTC),
        )
        self.submits.append(sub)
        if self.max_submits is not None and len(self.submits) > 2 * self.max_submits:
            del self.submits[: -self.max_submits]
        text, _ = sub.decoded()
        if dropped:
            self.counters.drops += 1
            log.info("fault: dropping %r at submit_sm to %s", session, destination)
            session.abort()
        elif status is None:
            log.info("fault: not answering submit_sm to %s (silent)", destination)
        elif status == pdu.ESME_ROK:
            log.info(
                "submit %s -> %s %s id=%s", sub.source, destination, _preview(text), message_id
            )
        else:
            log.info("submit %s -> %s answered %s", sub.source, destination, pdu.verdict(status)[0])
        return sub

    async def _after_submit(
        self, sub: Submitted, early: tuple[_Outgoing, _Sent | None] | None
    ) -> None:
        if early is not None:
            await self._settle(*early)
        else:
            await asyncio.sleep(self.receipt_delay)
            receipt = self._receipt_for(sub)
            if receipt is not None:
                await self._push(receipt)
        if self.auto_reply and self._stat_for(sub) == "DELIVRD":
            _, concat = sub.decoded()
            if concat is None or concat.number == concat.total:  # once per message
                for part in self._mo(sub.destination, sub.source, self.auto_reply, sub.system_id):
                    await self._push(part)

    # -- receipts

    def _stat_for(self, sub: Submitted) -> str:
        return _by_suffix(self.receipt_states, sub.destination) or "DELIVRD"

    def _receipt_for(self, sub: Submitted) -> _Outgoing | None:
        """The receipt for an accepted submit, or ``None`` when none was asked for
        (``registered_delivery`` 1: always; 2: on failure only)."""
        stat = self._stat_for(sub)
        wanted = sub.registered_delivery & 0x03
        if not (wanted & 1 or (wanted == 2 and stat != "DELIVRD")):
            return None
        base = 16 if self.id_format == "hex" else 10
        receipt_id = _format_id(int(sub.message_id, base), self.receipt_id_format)
        state, err = RECEIPT_STATES[stat]
        text, _ = sub.decoded()
        excerpt = "".join(c if c in _RECEIPT_SAFE else "?" for c in text[:20])
        submitted = sub.received_at.strftime("%y%m%d%H%M")
        done = datetime.now(UTC).strftime("%y%m%d%H%M")
        delivered = "001" if stat == "DELIVRD" else "000"
        body = (
            f"id:{receipt_id} sub:001 dlvrd:{delivered} submit date:{submitted}"
            f" done date:{done} stat:{stat} err:{err} text:{excerpt}"
        )
        fields = {
            "source_addr": sub.destination,
            "destination_addr": sub.source,
            "esm_class": coding.ESM_RECEIPT,
            "data_coding": coding.DC_DEFAULT,
            "short_message": body.encode("ascii"),
            "receipted_message_id": receipt_id,
            "message_state": state,
        }
        return _Outgoing(sub.system_id, "receipt", fields, f"receipt id={receipt_id} stat={stat}")

    # -- deliver_sm: receipts and MOs

    def _mo(
        self,
        source: str,
        destination: str,
        text: str,
        system_id: str,
        mode: coding.LongMessages = "udh",
    ) -> list[_Outgoing]:
        reference = self._next_reference = (self._next_reference + 1) & 0xFF
        parts = coding.encode_message(text, reference, long_messages=mode)
        summary = f"MO {source} -> {destination} {_preview(text)}"
        return [
            _Outgoing(
                system_id,
                "mo",
                {
                    "source_addr": source,
                    "destination_addr": destination,
                    "esm_class": part.esm_class,
                    "data_coding": part.data_coding,
                    "short_message": part.short_message,
                    **part.tlvs,
                },
                summary if len(parts) == 1 else f"{summary} part {n}/{len(parts)}",
            )
            for n, part in enumerate(parts, start=1)
        ]

    def _receiver_for(self, system_id: str | None) -> _Session | None:
        """A receiver-capable bind of ``system_id``, round-robin; when none and exactly one
        receiver-capable bind exists, that one. ``None`` means any system_id."""
        receivers = [s for s in self._sessions if s.can_receive]
        if system_id is not None:
            same = [s for s in receivers if s.system_id == system_id]
            if same or len(receivers) != 1:
                receivers = same
        if not receivers:
            return None
        self._round_robin += 1
        return receivers[self._round_robin % len(receivers)]

    def _hold(self, out: _Outgoing) -> None:
        self._held.append(out)
        log.info("%s held for %r: no receiver bound", out.summary, out.system_id)

    async def _write(self, out: _Outgoing) -> _Sent | None:
        """Write one ``deliver_sm``, or hold it when no receiver is bound."""
        session = self._receiver_for(out.system_id)
        if session is None:
            self._hold(out)
            return None
        try:
            response = await session.request(
                self.deliver_with, **_fields_for(out, self.deliver_with)
            )
        except ConnectionError:
            self._hold(out)
            return None
        if out.kind == "receipt":
            self.counters.receipts_sent += 1
        else:
            self.counters.mo_sent += 1
        log.info("%s to %r", out.summary, session)
        return session, response

    async def _settle(self, out: _Outgoing, sent: _Sent | None) -> None:
        """Wait for the ``deliver_sm_resp``; hold the PDU again if the connection closed."""
        if sent is None:
            return
        session, response = sent
        try:
            answer = await asyncio.wait_for(response, self.response_timeout)
        except ConnectionError:
            self._hold(out)
            return
        except TimeoutError:
            log.warning("%s: no deliver_sm_resp from %r", out.summary, session)
            return
        if answer.status != pdu.ESME_ROK:
            log.warning("%s: %r answered %#x", out.summary, session, answer.status)

    async def _push(self, out: _Outgoing) -> None:
        await self._settle(out, await self._write(out))

    def _receiver_bound(self) -> None:
        if self._held:
            self._spawn(self._flush())

    async def _flush(self) -> None:
        async with self._flush_lock:
            held = list(self._held)
            self._held.clear()
            for out in held:
                await self._push(out)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._stopping:
            coro.close()
            return
        _spawn(coro, self._tasks)

    # -- mobile-originated messages

    async def send_mo(
        self,
        source: str,
        destination: str,
        text: str,
        *,
        parts_mode: coding.LongMessages = "udh",
        system_id: str | None = None,
        command: DeliverCommand | None = None,
    ) -> None:
        """Deliver a message from a phone (``source``) to a receiver-capable bind (of
        ``system_id``, or any), in concatenated parts when long, each awaiting its
        response (``command``: ``deliver_sm`` or ``data_sm``, default
        :attr:`deliver_with`). :class:`SmscError` if it cannot."""
        session = self._receiver_for(system_id)
        if session is None:
            who = "" if system_id is None else f" for {system_id!r}"
            raise SmscError(f"no receiver bound{who}")
        for out in self._mo(source, destination, text, session.system_id, parts_mode):
            try:
                response = await session.request(
                    command or self.deliver_with, **_fields_for(out, command or self.deliver_with)
                )
                self.counters.mo_sent += 1
                log.info("%s to %r", out.summary, session)
                answer = await asyncio.wait_for(response, self.response_timeout)
            except ConnectionError as exc:
                raise SmscError(f"{session!r} closed") from exc
            except TimeoutError as exc:
                raise SmscError(f"no deliver_sm_resp from {session!r}") from exc
            if answer.status != pdu.ESME_ROK:
                raise SmscError(f"{session!r} answered {answer.status:#x}", answer.status)
