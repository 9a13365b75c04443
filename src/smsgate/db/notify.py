"""New work, announced across processes (PostgreSQL ``LISTEN``/``NOTIFY``).

A commit that queues messages wakes the dispatchers of its own process directly. On
PostgreSQL the process then also sends ``NOTIFY smsgate_outbox`` (:class:`Announcer`),
and every dispatching process holds one connection that ``LISTEN``s and wakes its
dispatchers (:func:`listen_outbox`). Without it another process would find the work at
its next idle poll (``dispatch_idle_interval``).

The notification goes *after* the commit, on its own short autocommit statement, and at
most once per :data:`MIN_INTERVAL` per process: a transaction that notifies holds a
cluster-wide lock through its commit, so notifying inside every send transaction would
line all sending processes' commits up behind one another.

It is only a hint: the outbox stays the truth, the idle poll stays as a backstop, and
after the listening connection is (re)established the dispatchers are woken once in
case something was announced while it was down.

SQLite has no such thing and needs none: a SQLite gateway is one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from smsgate.db.engine import Database

log = logging.getLogger("smsgate")

OUTBOX_CHANNEL = "smsgate_outbox"
MIN_INTERVAL = 0.05
"""Seconds between two notifications from one process; announcements in between are
folded into the next (the first after a quiet spell goes at once)."""

CHECK_EVERY = 30.0
"""How often an idle listening connection is checked (a dead peer may never say so)."""
STEADY_AFTER = 60.0
"""A connection that held this long resets the reconnect backoff; one that drops at once
keeps it growing."""


class Announcer:
    """Sends ``NOTIFY smsgate_outbox`` after commits that queued messages, coalesced."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._closed = False
        self.token = uuid.uuid4().hex
        """The payload of these notifications: this gateway's own listener ignores them
        (its dispatchers were woken directly)."""
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def announce(self) -> None:
        """Called after such a commit; returns at once."""
        if self._db.is_sqlite or self._closed:
            return
        if self._task is not None:
            self._again = True
            return
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                self._again = False
                try:
                    async with self._db.engine.connect() as conn:
                        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                        await auto.execute(
                            text("SELECT pg_notify(:channel, :token)"),
                            {"channel": OUTBOX_CHANNEL, "token": self.token},
                        )
                except Exception as exc:  # a hint lost: the idle poll still finds the work
                    log.debug("NOTIFY failed: %s", type(exc).__name__)
                await asyncio.sleep(MIN_INTERVAL)
                if not self._again:
                    return
        finally:
            self._task = None

    async def aclose(self) -> None:
        """Let a pending notification go out (briefly), then announce nothing more."""
        self._closed = True
        task = self._task
        if task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout=1.0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None


def asyncpg_connect_args(url: str) -> dict[str, Any]:
    """What ``asyncpg.connect`` needs from a SQLAlchemy URL. Query parameters are
    SQLAlchemy's driver options (``prepared_statement_cache_size``, ...), not server
    settings; only ``ssl`` (or ``sslmode``) is carried over."""
    parsed = make_url(url)
    args: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "database": parsed.database,
    }
    ssl = parsed.query.get("ssl") or parsed.query.get("sslmode")
    if isinstance(ssl, str):
        args["ssl"] = ssl
    return {k: v for k, v in args.items() if v is not None}


async def listen_outbox(
    url: str,
    on_notify: Callable[[], None],
    stop: asyncio.Event,
    *,
    retry_min: float = 0.5,
    retry_max: float = 30.0,
    check_every: float = CHECK_EVERY,
    own_token: str | None = None,
) -> None:
    """Call ``on_notify`` for each announcement (but those carrying ``own_token``) until
    ``stop`` is set; reconnect with backoff when the connection is lost or stops
    answering. Never raises (except when canceled)."""
    delay = retry_min
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        listening = asyncio.create_task(_listen_once(url, on_notify, check_every, own_token))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({listening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not listening.done():  # stopped while connecting or checking: do not wait
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listening
            return
        exc = listening.exception()
        if loop.time() - started > STEADY_AFTER:
            delay = retry_min  # it held for a while: start the backoff afresh
        if stop.is_set():
            return
        if exc is None:
            log.warning("the outbox listener lost its connection; reconnecting")
        else:  # refused, auth, timeout, a server going away, a failed check
            log.warning(
                "the outbox listener failed (%s); other processes' sends wait for the "
                "idle poll until it is back",
                type(exc).__name__,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, retry_max)


def _on_notification(
    on_notify: Callable[[], None],
    own_token: str | None,
    _conn: object,
    _pid: int,
    _channel: str,
    payload: str,
) -> None:
    if payload != own_token:
        on_notify()


async def _listen_once(
    url: str, on_notify: Callable[[], None], check_every: float, own_token: str | None
) -> None:
    """One listening connection, until it is lost or stops answering (``listen_outbox``
    cancels it when asked to stop)."""
    lost = asyncio.Event()
    conn = await asyncpg.connect(**asyncpg_connect_args(url), timeout=10)
    try:
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(OUTBOX_CHANNEL, partial(_on_notification, on_notify, own_token))
        on_notify()  # whatever was announced while nobody here was listening
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), timeout=check_every)
            except TimeoutError:  # quiet for a while: is the server still there?
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=10)
    finally:
        if not conn.is_closed():
            conn.terminate()
