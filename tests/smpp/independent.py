"""An independent SMSC for the SMPP tests: ``smpp34``'s Rust server (its own codec,
framing and session handling, nothing shared with smsgate's client), scripted here.

It accepts every bind, answers each ``submit_sm`` with a fresh hexadecimal id, and sends
a delivery receipt (both the TLVs and the Appendix B text) for each accepted part. The
test flips ``throttle_every`` / ``drop_after`` / ``early_receipts`` to make it misbehave,
and calls :meth:`send_mo` to make a phone write to us.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
from dataclasses import dataclass, field

import smpp34

from smsgate.vendors.smpp import coding


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy:
    """Loopback TCP in front of the server, so a test can cut connections abruptly
    (smpp34's own ``stop()`` leaves running sessions up)."""

    def __init__(self, port: int, upstream: int) -> None:
        self.port, self.upstream = port, upstream
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        for writer in list(self._writers):
            transport = writer.transport
            sock = transport.get_extra_info("socket")
            if sock is not None:  # RST rather than FIN: nothing in flight gets out
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self._writers |= {writer, up_writer}
        a = asyncio.create_task(self._pipe(reader, up_writer))
        b = asyncio.create_task(self._pipe(up_reader, writer))
        self._tasks |= {a, b}
        await asyncio.gather(a, b, return_exceptions=True)
        self._tasks -= {a, b}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, RuntimeError):
            pass
        finally:
            writer.transport.abort()
            self._writers.discard(writer)


@dataclass
class Received:
    message_id: str
    destination: str
    source: str
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]


@dataclass
class IndependentSmsc:
    port: int
    receipt_format: str = "hex"
    """``hex``: the receipt carries the id as answered; ``dec``: in decimal."""
    throttle_every: int = 0
    drop_after: int = 0
    early_receipts: bool = False
    receipts: bool = True
    received: list[Received] = field(default_factory=list)
    throttled: int = 0
    receipts_sent: int = 0
    drops: int = 0
    _server: smpp34.Server | None = None
    _task: asyncio.Task[None] | None = None
    _esmes: dict[str, smpp34.Esme] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(0xA00001))
    _submits: int = 0
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    _proxy: Proxy | None = None

    async def start(self) -> None:
        inner = _free_port()
        self._server = smpp34.Server("127.0.0.1", inner, system_id="indep-smsc")
        await self._server.start()
        self._task = asyncio.create_task(self._serve(self._server))
        self._proxy = Proxy(self.port, inner)
        await self._proxy.start()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for t in list(self._background):
            t.cancel()
        if self._proxy is not None:
            await self._proxy.stop()
        if self._server is not None:
            await self._server.stop()
        self._server, self._task, self._proxy = None, None, None
        self._esmes.clear()

    def drop(self) -> None:
        """Cut every connection mid-stream, as a crashing SMSC or a broken network does."""
        self.drops += 1
        assert self._proxy is not None
        self._proxy.cut()

    @property
    def bound(self) -> int:
        return len(self._esmes)

    async def _serve(self, server: smpp34.Server) -> None:
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                self._esmes[event.session_id] = event
            elif isinstance(event, smpp34.Unbound):
                self._esmes.pop(event.session_id, None)
            elif isinstance(event, smpp34.SubmitSmEvent):
                await self._submit(event)

    async def _submit(self, event: smpp34.SubmitSmEvent) -> None:
        self._submits += 1
        if self.drop_after and self._submits >= self.drop_after:
            self.drop_after = 0
            self.drop()
            event.reject(smpp34.ESME_RSYSERR)  # never reaches the client
            return
        if self.throttle_every and self._submits % self.throttle_every == 0:
            self.throttled += 1
            event.reject(smpp34.ESME_RTHROTTLED)
            return
        number = next(self._ids)
        message_id = format(number, "X")
        self.received.append(
            Received(
                message_id,
                event.destination_addr,
                event.source_addr,
                event.esm_class,
                event.data_coding,
                event.short_message,
                {t.tag: t.value for t in event.tlvs},
            )
        )
        esme = self._esmes.get(event.session_id)
        if esme is not None and not esme.can_receive:
            esme = next((e for e in self._esmes.values() if e.can_receive), None)
        if self.receipts and event.registered_delivery & 1 and esme is not None:
            receipt_id = message_id if self.receipt_format == "hex" else str(number)
            if self.early_receipts:
                await self._receipt(esme, event, receipt_id)
                event.accept(message_id)
                return
            event.accept(message_id)
            task = asyncio.create_task(self._receipt(esme, event, receipt_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        event.accept(message_id)

    async def _receipt(self, esme: smpp34.Esme, event: smpp34.SubmitSmEvent, rid: str) -> None:
        """Deliver the receipt; like a real SMSC, keep it until some bind acknowledges it
        (the submitting session may be gone by now)."""
        text = (
            f"id:{rid} sub:001 dlvrd:001 submit date:2611251200 done date:2611251200 "
            "stat:DELIVRD err:000 text:"
        )
        source, destination = event.destination_addr, event.source_addr
        for _ in range(200):
            try:
                resp = await esme.deliver_sm(
                    destination,
                    text.encode(),
                    source_addr=source,
                    esm_class=coding.ESM_RECEIPT,
                    tlvs=[
                        smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, rid.encode() + b"\x00"),
                        smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, b"\x02"),
                    ],
                )
                if resp.is_success:
                    self.receipts_sent += 1
                    return
            except Exception:
                pass
            await asyncio.sleep(0.05)
            receivers = [e for e in self._esmes.values() if e.can_receive]
            if receivers:
                esme = receivers[0]

    async def send_mo(
        self, source: str, destination: str, text: str, *, reference: int = 42
    ) -> None:
        """A phone (``source``, digits) writes to us, in concatenated parts when long."""
        esme = next(e for e in self._esmes.values() if e.can_receive)
        for part in coding.encode_message(text, reference):
            resp = await esme.deliver_sm(
                destination,
                part.short_message,
                source_addr=source,
                source_addr_ton=1,
                source_addr_npi=1,
                esm_class=part.esm_class,
                data_coding=part.data_coding,
            )
            assert resp.is_success, resp.command_status

    def texts(self) -> list[str]:
        """What the phones got: parts joined by their UDH reference, in arrival order."""
        out: list[str] = []
        pending: dict[tuple[str, int], dict[int, str]] = {}
        for r in self.received:
            text, concat = coding.decode_inbound(r.short_message, r.data_coding, r.esm_class)
            if concat is None:
                out.append(text)
                continue
            parts = pending.setdefault((r.destination, concat.reference), {})
            parts[concat.number] = text
            if len(parts) == concat.total:
                out.append("".join(parts[i] for i in sorted(parts)))
                del pending[(r.destination, concat.reference)]
        return out
