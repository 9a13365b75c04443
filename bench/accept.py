"""Accept and delivery throughput of one ``smsgate serve`` process with the simulator.

Starts a real server on a free loopback port (fresh SQLite file, or --database-url),
sends N messages from C concurrent HTTP clients, and prints accepted msg/s,
delivered msg/s and accept latency percentiles. Run: ``python bench/accept.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import _server
import httpx
from sqlalchemy import func, select

from smsgate.db.engine import Database
from smsgate.db.models import Message


async def count_delivered(db: Database) -> int:
    async with db.reader() as s:
        return int(await s.scalar(select(func.count()).where(Message.state == "delivered")) or 0)


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="smsgate-bench-"))
    db_url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'data' / 'smsgate.db'}"
    if args.database_url:
        await _server.reset_postgres(args.database_url)
    proc, url, key = _server.start(tmp, args.database_url, args.workers)
    db = Database(db_url, pool_size=2)
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.n):
        queue.put_nowait(i)
    errors = 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            headers = {"Idempotency-Key": uuid.uuid4().hex} if args.idempotency_keys else {}
            r = await client.post(
                "/v1/sms/send",
                json={"to": "+15005550006", "body": f"bench {i}"},
                headers=headers,
            )
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors += 1

    try:
        limits = httpx.Limits(max_connections=args.c)
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
        ) as client:
            start = time.perf_counter()
            await asyncio.gather(*(client_loop(client) for _ in range(args.c)))
            accepted_at = time.perf_counter()
        while await count_delivered(db) < args.n - errors:
            if time.perf_counter() - start > args.timeout:
                break
            await asyncio.sleep(0.05)
        delivered_at = time.perf_counter()
        delivered = await count_delivered(db)
    finally:
        _server.stop(proc)
        await db.dispose()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"backend={backend} n={args.n} concurrency={args.c} workers={args.workers} "
        f"idempotency_keys={args.idempotency_keys} errors={errors}"
    )
    print(f"accepted   {args.n / (accepted_at - start):8.1f} msg/s")
    print(
        f"delivered  {delivered / (delivered_at - start):8.1f} msg/s  ({delivered}/{args.n}, "
        f"includes the simulator's 0.5 s receipt delay)"
    )
    print(f"accept p50 {q[49] * 1000:8.2f} ms   p99 {q[98] * 1000:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=2000, help="messages to send")
    parser.add_argument("-c", type=int, default=20, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=1, help="dispatcher loops")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--idempotency-keys",
        action="store_true",
        help="send each message with its own Idempotency-Key, as the SDK does",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
