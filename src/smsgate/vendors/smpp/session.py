"""One SMPP bind on asyncio: connect, bind, keep alive, window, throttle, reconnect.

A :class:`Session` owns one TCP (or TLS) connection at a time and runs until closed:

    connect → bind → serve ─┬─ a PDU arrives: responses complete their submit, requests
                            │  (enquire_link, deliver_sm, unbind) are answered
                            ├─ idle for enquire_link_interval: enquire_link, and a missing
                            │  answer within response_timeout ends the connection
                            └─ the peer or the network goes away
    → every submit still waiting for its response fails with ``SessionLost`` (the caller
      retries it; the SMSC may have taken it, so a reconnect costs at most ``window``
      duplicates) → wait with exponential backoff → connect again.

Flow control, per session: at most ``window`` submits wait for their responses; at most
``throughput`` submits start per second; an ``ESME_RTHROTTLED`` / ``ESME_RMSGQFUL``
answer pauses the session for ``throttle_pause`` seconds (doubling while it repeats).

A ``deliver_sm`` is answered only after ``on_deliver`` returned, so the receipt or inbound
message is stored before the SMSC forgets it; its status becomes the response's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from smsgate.vendors.smpp import pdu
from smsgate.vendors.smpp.pdu import Pdu

log = logging.getLogger("smsgate.smpp")

BindMode = Literal["transceiver", "transmitter", "receiver"]
DeliverHandler = Callable[[Pdu], Awaitable[int]]

_RESPONSE_BIT = 0x80000000
_GENERIC_NACK = 0x80000000
_DELIVERIES = {0x00000005: "deliver_sm", 0x00000103: "data_sm"}
"""Requests that carry a receipt or an MO, by command_id."""


@dataclass(frozen=True)
class SessionConfig:
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    mode: BindMode = "transceiver"
    system_type: str = ""
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    window: int = 10
    throughput: float = 0.0
    """Submits per second on this session; 0 = no cap."""
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    connect_timeout: float = 10.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    throttle_pause: float = 1.0
    tls: ssl.SSLContext | None = None
    tls_server_name: str | None = None
    deliver_concurrency: int = 256
    """``deliver_sm`` being stored at once; they share group-commit transactions."""


class SessionLost(Exception):
    """The connection went away (or never came) before the response: try again."""


class BindRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with status {status:#x}")
        self.status = status


class Session:
    def __init__(
        self,
        config: SessionConfig,
        label: str,
        on_deliver: DeliverHandler,
        on_message_id: Callable[[str], None] = lambda message_id: None,
    ) -> None:
        self.config = config
        self.label = label
        self.on_deliver = on_deliver
        self.on_message_id = on_message_id
        self.bound = asyncio.Event()
        self.last_error: str | None = None
        self.connects = 0
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._sequence = 0
        self._window = asyncio.Semaphore(config.window)
        self._pace_lock = asyncio.Lock()
        self._next_start = 0.0
        self._paused_until = 0.0
        self._throttle_streak = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._deliveries = asyncio.Semaphore(config.deliver_concurrency)
        self._delivery_tasks: set[asyncio.Task[None]] = set()
        self._last_read = 0.0

    def __repr__(self) -> str:
        c = self.config
        return f"<Session {self.label} {c.mode} {c.system_id}@{c.host}:{c.port}>"

    @property
    def transmits(self) -> bool:
        return self.config.mode != "receiver"

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name=f"smpp:{self.label}")

    async def close(self) -> None:
        """Unbind politely, then stop for good."""
        self._closing = True
        if self._writer is not None and self.bound.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.request("unbind"), timeout=2)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for task in list(self._delivery_tasks):
            task.cancel()
        await asyncio.gather(*self._delivery_tasks, return_exceptions=True)
        self._drop("session closed")

    # ── the connection loop ──────────────────────────────────────────────────────

    async def _run(self) -> None:
        delay = self.config.reconnect_min
        while not self._closing:
            try:
                await self._connect_and_serve()
                delay = self.config.reconnect_min  # it was up: start the backoff over
            except asyncio.CancelledError:
                raise
            except BindRefused as exc:
                self.last_error = str(exc)
                log.warning("%s: %s", self.label, exc)
            except (
                OSError,
                asyncio.IncompleteReadError,
                pdu.PduError,
                TimeoutError,
                SessionLost,
            ) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if not self._closing:
                    log.warning("%s: connection lost (%s)", self.label, self.last_error)
            except Exception as exc:  # never let the session die: reconnect instead
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: session failed; reconnecting", self.label)
            finally:
                self._drop(self.last_error or "connection closed")
            if self._closing:
                return
            await asyncio.sleep(delay / 2 + random.uniform(0, delay / 2))
            delay = min(self.config.reconnect_max, delay * 2)

    async def _connect_and_serve(self) -> None:
        c = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                c.host,
                c.port,
                ssl=c.tls,
                server_hostname=(c.tls_server_name or c.host) if c.tls else None,
            ),
            timeout=c.connect_timeout,
        )
        self._writer = writer
        self._last_read = time.monotonic()
        reading = asyncio.create_task(self._read_loop(reader))
        try:
            resp = await asyncio.wait_for(
                self.request(
                    f"bind_{c.mode}",
                    system_id=c.system_id,
                    password=c.password,
                    system_type=c.system_type,
                    addr_ton=c.addr_ton,
                    addr_npi=c.addr_npi,
                    address_range=c.address_range,
                ),
                timeout=c.response_timeout,
            )
            if resp.status != pdu.ESME_ROK:
                raise BindRefused(resp.status)
            self.connects += 1
            self.last_error = None
            self.bound.set()
            log.info("%s: bound as %s to %s:%s", self.label, c.mode, c.host, c.port)
            keepalive = asyncio.create_task(self._keepalive())
            try:
                await reading
            finally:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await keepalive
        finally:
            self.bound.clear()
            if not reading.done():
                reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._writer = None

    def _abort(self) -> None:
        if self._writer is not None:
            self._writer.transport.abort()

    def _drop(self, reason: str) -> None:
        """Fail every submit still waiting: its fate at the SMSC is unknown."""
        self.bound.clear()
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(SessionLost(reason))

    async def _keepalive(self) -> None:
        interval = self.config.enquire_link_interval
        while True:
            await asyncio.sleep(max(0.05, interval - (time.monotonic() - self._last_read)))
            if time.monotonic() - self._last_read < interval:
                continue
            try:
                await asyncio.wait_for(
                    self.request("enquire_link"), timeout=self.config.response_timeout
                )
            except (TimeoutError, SessionLost):
                log.warning("%s: no answer to enquire_link; reconnecting", self.label)
                self._abort()
                return

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            raw = await pdu.read(reader)
            self._last_read = time.monotonic()
            _, command_id, status, sequence = pdu.header(raw)
            if command_id & _RESPONSE_BIT:
                future = self._pending.pop(sequence, None)
                if future is None or future.done():
                    continue  # a response we gave up on (timeout, cancel)
                if command_id == _GENERIC_NACK or not pdu.is_known(command_id):
                    future.set_result(_nack(command_id, status, sequence))
                else:
                    try:
                        resp = pdu.decode(raw)
                    except pdu.PduError as exc:
                        future.set_exception(exc)
                        continue
                    if resp.command == "submit_sm_resp" and resp.status == pdu.ESME_ROK:
                        # Before any later PDU is read: a receipt right behind its
                        # response finds the id known.
                        self.on_message_id(resp.text("message_id"))
                    future.set_result(resp)
                continue
            if not pdu.is_known(command_id):
                await self._send(pdu.encode("generic_nack", sequence, pdu.ESME_RINVCMDID))
                continue
            try:
                request = pdu.decode(raw)
            except pdu.PduError as exc:
                # Refuse this one PDU for good rather than drop the connection: the SMSC
                # would only send it again after every reconnect.
                log.warning("%s: undecodable request refused: %s", self.label, exc)
                if (name := _DELIVERIES.get(command_id)) is not None:
                    await self._send(pdu.encode(f"{name}_resp", sequence, pdu.ESME_RX_P_APPN))
                else:
                    await self._send(pdu.encode("generic_nack", sequence, pdu.ESME_RINVCMDLEN))
                continue
            if request.command == "enquire_link":
                await self._send(pdu.encode("enquire_link_resp", sequence))
            elif request.command == "unbind":
                await self._send(pdu.encode("unbind_resp", sequence))
                return
            elif request.command in _DELIVERIES.values():
                # data_sm: some SMSCs deliver receipts and MOs this way (text in
                # message_payload); it is read exactly like a deliver_sm.
                # Storage behind by a whole group commit: stop reading (TCP pushes back on
                # the SMSC) rather than refuse, which would leave the retry to its schedule.
                await self._deliveries.acquire()
                task = asyncio.create_task(self._deliver(request, self._writer))
                self._delivery_tasks.add(task)
                task.add_done_callback(self._delivery_tasks.discard)
            elif request.command == "alert_notification":
                continue  # has no response
            else:
                await self._send(pdu.encode("generic_nack", sequence, pdu.ESME_RINVCMDID))

    async def _deliver(self, request: Pdu, writer: asyncio.StreamWriter | None) -> None:
        try:
            try:
                status = await self.on_deliver(request)
            except Exception:
                log.exception(
                    "%s: storing a deliver_sm failed; asking the SMSC to retry", self.label
                )
                status = pdu.ESME_RX_T_APPN
            if writer is not self._writer:
                return  # reconnected meanwhile: the sequence number means nothing there
            with contextlib.suppress(OSError, SessionLost):
                await self._send(pdu.encode(f"{request.command}_resp", request.sequence, status))
        finally:
            self._deliveries.release()

    # ── requests ─────────────────────────────────────────────────────────────────

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    async def _send(self, raw: bytes) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise SessionLost("not connected")
        try:
            writer.write(raw)
            await writer.drain()
        except OSError as exc:  # the connection went while we wrote
            raise SessionLost(f"{type(exc).__name__}: {exc}") from exc

    async def request(self, command: str, **fields: Any) -> Pdu:
        """Send a request and wait for its response (no window, no pacing)."""
        sequence = self._next_sequence()
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        written = False
        try:
            await self._send(pdu.encode(command, sequence, **fields))
            written = True
            return await future
        except asyncio.CancelledError:
            if written and command == "submit_sm":
                # Whoever waited gave up; the submit's fate is unknown and it will be
                # retried. A fresh connection keeps stale responses from piling up.
                self._abort()
            raise
        finally:
            self._pending.pop(sequence, None)

    async def submit(self, **fields: Any) -> Pdu:
        """``submit_sm`` within the window and the pace; returns its response PDU.

        Raises ``SessionLost`` when the connection goes before the response comes and
        ``TimeoutError`` when the response takes longer than ``response_timeout``.
        """
        async with self._window:
            await self._pace()
            if not self.bound.is_set():
                raise SessionLost(self.last_error or "not bound")
            try:
                resp = await asyncio.wait_for(
                    self.request("submit_sm", **fields), timeout=self.config.response_timeout
                )
            except TimeoutError:
                # A response that does not come means the session is out of step (or the
                # SMSC is wedged while still answering enquire_link): start afresh.
                log.warning("%s: no submit_sm_resp in time; reconnecting", self.label)
                self._abort()
                raise
        if pdu.verdict(resp.status)[1] == "throttle" and resp.status != pdu.ESME_ROK:
            self._throttle_streak += 1
            pause = min(
                self.config.throttle_pause * 2 ** (self._throttle_streak - 1),
                self.config.throttle_pause * 16,
            )
            self._paused_until = max(self._paused_until, time.monotonic() + pause)
            log.info("%s: throttled by the SMSC; pausing %.2fs", self.label, pause)
        elif resp.status == pdu.ESME_ROK:
            self._throttle_streak = 0
        return resp

    async def _pace(self) -> None:
        """Wait out a throttle pause, then for this submit's slot under ``throughput``."""
        async with self._pace_lock:
            now = time.monotonic()
            if self._paused_until > now:
                await asyncio.sleep(self._paused_until - now)
                now = time.monotonic()
            if self.config.throughput > 0:
                start = max(now, self._next_start)
                self._next_start = start + 1.0 / self.config.throughput
                if start > now:
                    await asyncio.sleep(start - now)

    @property
    def paused(self) -> bool:
        return self._paused_until > time.monotonic()


class _Nack(Pdu):
    def __init__(self, command_id: int, status: int, sequence: int) -> None:
        self.command = "generic_nack" if command_id == _GENERIC_NACK else f"{command_id:#x}"
        self.sequence = sequence
        self.status = status or pdu.ESME_RSYSERR

    def get(self, field: str) -> Any:
        return None

    def text(self, field: str) -> str:
        return ""


def _nack(command_id: int, status: int, sequence: int) -> Pdu:
    return _Nack(command_id, status, sequence)
