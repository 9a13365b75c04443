"""End to end over SMPP: HTTP sends → ``smsgate serve`` → an SMSC on loopback → receipts.

Starts the SMSC in this process (``smsgate.vendors.smpp.smsc.Smsc``, answering at once
and sending each receipt after ``--receipt-delay``), a real ``smsgate serve`` whose default
vendor is an SMPP bind to it (fresh SQLite file, or --database-url), sends N messages from
C concurrent HTTP clients, waits until all are delivered, and prints:

* accepted msg/s       the HTTP API taking messages (first request to last answer);
* at the SMSC msg/s    submit_sm arriving (first to last);
* receipts/s           messages turning ``delivered`` (first to last);
* latency p50/p99      accept → at the SMSC, and accept → ``delivered`` (from the rows'
                       created_at / updated_at), which includes ``--receipt-delay``.

Run: ``python bench/smpp.py`` (``-n``, ``-c``, ``--window``, ``--binds``, ``--split`` to
run the dispatcher and its SMPP binds in a separate ``smsgate dispatch`` process).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import _server
import httpx
from sqlalchemy import func, select

from smsgate.db.engine import Database
from smsgate.db.models import Message
from smsgate.vendors.smpp.smsc import Smsc


async def count_delivered(db: Database) -> int:
    async with db.reader() as s:
        return int(await s.scalar(select(func.count()).where(Message.state == "delivered")) or 0)


def pct(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100)
    return q[49] * 1000, q[98] * 1000


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="smsgate-bench-smpp-"))
    db_url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'data' / 'smsgate.db'}"
    if args.database_url:
        await _server.reset_postgres(args.database_url)
    smsc = Smsc(receipt_delay=args.receipt_delay, max_submits=None)
    await smsc.start()
    config = tmp / "smsgate.toml"
    config.write_text(
        'default_vendor = "smsc"\n\n[vendors.smsc]\ntype = "smpp"\nhost = "127.0.0.1"\n'
        f'port = {smsc.port}\nsystem_id = "bench"\npassword = "bench"\n'
        f'source_addr = "SMSGATE"\nwindow = {args.window}\nbinds = {args.binds}\n'
    )
    env = {"SMSGATE_CONFIG_FILE": str(config)}
    proc, url, key = _server.start(
        tmp,
        args.database_url,
        args.workers,
        env_extra=env,
        extra_args=["--no-dispatch"] if args.split else [],
    )
    dispatcher = (
        _server.start_dispatcher(tmp, args.database_url, args.workers, env) if args.split else None
    )
    # Send once the dispatching process is bound, so its start-up is not in the figures.
    started = time.perf_counter()
    while smsc.counters.binds < args.binds and time.perf_counter() - started < 30:
        await asyncio.sleep(0.05)
    db = Database(db_url, pool_size=2)
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
            r = await client.post("/v1/sms/send", json={"to": "+447911123456", "body": f"b{i}"})
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
        async with db.reader() as s:
            rows = (
                await s.execute(
                    select(Message.body, Message.created_at, Message.updated_at).where(
                        Message.state == "delivered"
                    )
                )
            ).all()
    finally:
        _server.stop(proc)
        if dispatcher is not None:
            _server.stop(dispatcher)
        await db.dispose()
        await smsc.stop()
    created = {body: c for body, c, _ in rows}
    delivered = [u for _, _, u in rows]
    arrivals: dict[str, datetime] = {}
    for sub in smsc.submits:
        arrivals.setdefault(sub.short_message.decode("latin-1"), sub.received_at)
    to_smsc = [(arrivals[b] - created[b]).total_seconds() for b in created if b in arrivals]
    to_delivered = [(u - c).total_seconds() for _, c, u in rows]
    at_smsc = sorted(arrivals.values())
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"backend={backend} n={args.n} concurrency={args.c} window={args.window} "
        f"binds={args.binds} split={args.split} receipt_delay={args.receipt_delay}s "
        f"errors={errors} "
        f"delivered={len(rows)} submits={len(smsc.submits)}"
    )
    print(f"accepted     {args.n / (accepted_at - start):8.1f} msg/s")
    span = (at_smsc[-1] - at_smsc[0]).total_seconds() or 1e-9
    print(f"at the SMSC  {len(at_smsc) / span:8.1f} msg/s")
    dspan = (max(delivered) - min(delivered)).total_seconds() or 1e-9
    print(f"receipts     {len(delivered) / dspan:8.1f} /s")
    p50, p99 = pct(to_smsc)
    print(f"accept → SMSC      p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
    p50, p99 = pct(to_delivered)
    print(f"accept → delivered p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=3000, help="messages to send")
    parser.add_argument("-c", type=int, default=20, help="concurrent clients")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--binds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="dispatcher loops")
    parser.add_argument(
        "--split",
        action="store_true",
        help="run the dispatcher as its own `smsgate dispatch` process (serve --no-dispatch)",
    )
    parser.add_argument("--receipt-delay", type=float, default=0.05)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--timeout", type=float, default=300)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
