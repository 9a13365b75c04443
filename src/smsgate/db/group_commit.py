"""Group commit: many concurrent callers, one transaction.

Callers ``await submit(item)``; while one batch is being written, the items that
arrive meanwhile wait and go together in the next transaction. There is no timer
and no added delay: under no load a batch is one item; under load batches grow
by themselves, and the number of transactions (fsyncs, lock hand-overs) per item
falls. Each caller gets its own item's result.

If a shared transaction fails because of what was written (a constraint, a bad value,
an error in ``write``), each of its items is written again alone, so one bad item
fails only its own caller and the rest commit. If the database itself failed, the
whole batch fails at once; its callers own the retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import Database

T = TypeVar("T")
R = TypeVar("R")

WriteMany = Callable[[AsyncSession, Sequence[T]], Awaitable[Sequence[R]]]


def _about_the_data(exc: Exception) -> bool:
    """Whether writing the items one by one could find a bad one: not when the database
    itself failed (unreachable, lost connection, timeout), where every solo write would
    fail the same way, one timeout after another."""
    if isinstance(exc, OSError | TimeoutError | OperationalError | InterfaceError):
        return False
    return not (isinstance(exc, DBAPIError) and exc.connection_invalidated)


class GroupCommit(Generic[T, R]):
    def __init__(self, db: Database, write: WriteMany[T, R], *, max_batch: int = 256) -> None:
        self._db = db
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    results = await self._write_batch(batch)
                    self._settle(batch, results=results)
                except Exception as exc:
                    if len(batch) == 1 or not _about_the_data(exc):
                        self._settle(batch, exc=exc)
                    else:
                        try:
                            await self._write_alone(batch)
                        except BaseException as inner:  # canceled half-way: nobody waits on
                            self._settle(batch, exc=inner)
                            raise
                except BaseException as exc:
                    self._settle(batch, exc=exc)
                    raise
        finally:
            self._flusher = None

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> Sequence[R]:
        async with self._db.session() as session:
            results = await self._write(session, [item for item, _ in batch])
            if len(results) != len(batch):  # inside the transaction: it rolls back
                raise RuntimeError(f"wrote {len(batch)} items, got {len(results)} results")
        return results

    async def _write_alone(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        """A shared transaction failed: find the bad item by writing each on its own."""
        for one in batch:
            if one[1].done():
                continue
            try:
                self._settle([one], results=await self._write_batch([one]))
            except Exception as exc:
                self._settle([one], exc=exc)

    @staticmethod
    def _settle(
        batch: list[tuple[T, asyncio.Future[R]]],
        *,
        results: Sequence[R] = (),
        exc: BaseException | None = None,
    ) -> None:
        for index, (_, future) in enumerate(batch):
            if future.done():  # the caller was canceled
                continue
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(results[index])
