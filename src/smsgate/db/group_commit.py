"""Group commit: many concurrent callers, one transaction.

Callers ``await submit(item)``; while one batch is being written, the items that
arrive meanwhile wait and go together in the next transaction. There is no timer
and no added delay: under no load a batch is one item; under load batches grow
by themselves, and the number of transactions (fsyncs, lock hand-overs) per item
falls. Each caller gets its own item's result, or the batch's exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.db.engine import Database

T = TypeVar("T")
R = TypeVar("R")

WriteMany = Callable[[AsyncSession, Sequence[T]], Awaitable[Sequence[R]]]


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
                    async with self._db.session() as session:
                        results = await self._write(session, [item for item, _ in batch])
                except BaseException as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._flusher = None
