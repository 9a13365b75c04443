"""OTP round trips: request a code, read it from the simulator's inbox, verify it.

Starts a real ``smsgate serve`` (fresh SQLite, or --database-url), runs N round trips
from C concurrent clients to N different numbers, and prints round trips per second
and the p50/p99 latency of ``POST /v1/sms/verify``. Run: ``python bench/otp.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from pathlib import Path

import _server
import httpx

CODE = re.compile(r"\b(\d{6})\b")


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="smsgate-bench-otp-"))
    if args.database_url:
        await _server.reset_postgres(args.database_url)
    proc, url, key = _server.start(tmp, args.database_url, args.workers)
    verify_latency: list[float] = []
    trip_latency: list[float] = []
    failures = 0
    numbers = iter(f"+1202555{i:04d}" for i in range(args.n))
    try:
        async with httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=args.c),
        ) as client:
            # One prefix takes every number here: lift the pumping guard for the run.
            r = await client.put("/v1/sms/otp/settings", json={"prefix_limit": 100_000})
            r.raise_for_status()

            async def round_trip(to: str) -> None:
                nonlocal failures
                t0 = time.perf_counter()
                otp = (await client.post("/v1/sms/otp", json={"to": to})).json()
                code = None
                while code is None:
                    inbox = await client.get("/v1/sandbox/messages", params={"to": to})
                    for m in inbox.json()["items"]:
                        if m["sms_id"] == otp["sms_id"] and (match := CODE.search(m["body"])):
                            code = match.group(1)
                    if code is None:
                        await asyncio.sleep(0.1)
                t1 = time.perf_counter()
                r = await client.post("/v1/sms/verify", json={"to": to, "code": code})
                t2 = time.perf_counter()
                verify_latency.append(t2 - t1)
                trip_latency.append(t2 - t0)
                if not r.json().get("valid"):
                    failures += 1

            async def worker() -> None:
                for to in numbers:
                    await round_trip(to)

            start_t = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.c)))
            elapsed = time.perf_counter() - start_t
    finally:
        _server.stop(proc)
    vq = statistics.quantiles(verify_latency, n=100)
    tq = statistics.quantiles(trip_latency, n=100)
    backend = "postgresql" if args.database_url else "sqlite"
    print(f"backend={backend} n={args.n} concurrency={args.c} failures={failures}")
    print(f"round trips {args.n / elapsed:8.1f} /s  (send + read inbox + verify)")
    print(f"verify  p50 {vq[49] * 1000:8.2f} ms   p99 {vq[98] * 1000:8.2f} ms")
    print(f"trip    p50 {tq[49] * 1000:8.2f} ms   p99 {tq[98] * 1000:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=500, help="round trips")
    parser.add_argument("-c", type=int, default=10, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=1, help="dispatcher loops")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
