"""Engine and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite is set up for a durable single-node gateway: WAL journal, ``synchronous=FULL``
(a commit survives a killed process and a power cut), a busy timeout, foreign
keys on, and write transactions opened with ``BEGIN IMMEDIATE`` so two writers
queue on the lock instead of failing half-way with ``SQLITE_BUSY``. Read-only
sessions (``Database.reader()``) open a deferred ``BEGIN`` and run beside a writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

READONLY = "smsgate_readonly"


def is_postgres(session: AsyncSession) -> bool:
    """Repositories use this to pick PostgreSQL-only SQL (``SKIP LOCKED``, upserts)."""
    return session.get_bind().dialect.name == "postgresql"


def upsert_insert(session: AsyncSession) -> Callable[..., Any]:
    """The dialect's ``insert`` that has ``on_conflict_do_nothing/do_update``."""
    return pg_insert if is_postgres(session) else sqlite_insert


def _setup_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """``hide_parameters``: a failed statement's exception (and so the log line of the
    500 it becomes) names the SQL but not the values: message texts, sealed secrets."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # aiosqlite logs every statement with its parameters at DEBUG: message bodies and
        # the simulator's texts (OTP codes) would end up in logs. Keep it at INFO or above.
        driver_log = logging.getLogger("aiosqlite")
        driver_log.setLevel(max(driver_log.level, logging.INFO))
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=pool_size,
            max_overflow=10,
            hide_parameters=True,
        )
        _setup_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=20,
        pool_pre_ping=True,
        pool_recycle=1800,
        hide_parameters=True,
    )


class Database:
    """Owns the engine and hands out sessions. Sessions never autocommit."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader = async_sessionmaker(
            self.engine.execution_options(**{READONLY: True}), expire_on_commit=False
        )
        # SQLite has one writer at a time, and a connection that finds the lock taken
        # polls for it with sleeps of up to 100 ms. Queueing this process's writers on an
        # asyncio lock hands the database over the moment the previous commit ends.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back on error."""
        if self._write_lock is None:
            async with self._writer() as session, session.begin():
                yield session
            return
        async with self._write_lock, self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A read transaction (deferred on SQLite, so it never waits for the write lock)."""
        async with self._reader() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
