"""New work, announced across processes (PostgreSQL ``LISTEN``/``NOTIFY``).

A commit that queues messages wakes the dispatchers of its own process directly. On
PostgreSQL it also sends ``NOTIFY smsgate_outbox`` in the same transaction (delivered
only if the transaction commits; PostgreSQL folds repeats within one transaction), and
every process holds one connection that ``LISTEN``s and wakes its dispatchers. Without
it another process would find the work at its next idle poll (``dispatch_idle_interval``).

The notification is only a hint: the outbox stays the truth, the idle poll stays as a
backstop, and after the listening connection is (re)established the dispatchers are
woken once in case something was announced while it was down.

SQLite has no such thing and needs none: a SQLite gateway is one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import is_postgres

log = logging.getLogger("smsgate")

OUTBOX_CHANNEL = "smsgate_outbox"


async def announce_outbox(session: AsyncSession) -> None:
    """Tell every process, once this transaction commits, that the outbox has new work."""
    if is_postgres(session):
        await session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` form of a SQLAlchemy URL, for asyncpg itself."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_outbox(
    url: str,
    on_notify: Callable[[], None],
    stop: asyncio.Event,
    *,
    retry_min: float = 0.5,
    retry_max: float = 30.0,
) -> None:
    """Call ``on_notify`` for each announcement until ``stop`` is set; reconnect with
    backoff when the connection is lost. Never raises (except when canceled)."""
    delay = retry_min
    while not stop.is_set():
        try:
            await _listen_once(url, on_notify, stop)
            delay = retry_min
            if not stop.is_set():
                log.warning("the outbox listener lost its connection; reconnecting")
        except Exception as exc:  # refused, auth, timeout, a server going away mid-setup
            log.warning(
                "the outbox listener cannot connect (%s); other processes' sends wait for "
                "the idle poll until it can",
                type(exc).__name__,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, retry_max)


async def _listen_once(url: str, on_notify: Callable[[], None], stop: asyncio.Event) -> None:
    """One listening connection, until it is lost or ``stop`` is set."""
    lost = asyncio.Event()
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(OUTBOX_CHANNEL, lambda *_args: on_notify())
        on_notify()  # whatever was announced while nobody here was listening
        waits = {asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
    finally:
        if not conn.is_closed():
            conn.terminate()
