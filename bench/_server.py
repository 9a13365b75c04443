"""Start a real ``smsgate serve`` for a benchmark (free loopback port, fresh database)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from smsgate.db.engine import Database
from smsgate.db.models import Base


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def reset_postgres(url: str) -> None:
    """Drop every table so each run starts from an empty schema."""
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    await db.dispose()


def start(
    tmp: Path,
    database_url: str | None,
    workers: int,
    receipt_delay: float = 0.5,
    env_extra: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Returns (process, base URL, the printed admin key)."""
    port = free_port()
    log_path = tmp / "serve.log"
    args = [
        sys.executable,
        "-m",
        "smsgate.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(tmp / "data"),
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    if database_url:
        args += ["--database-url", database_url]
    args += extra_args or []
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "SMSGATE_SIMULATOR_RECEIPT_DELAY": str(receipt_delay),
        **(env_extra or {}),
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    match = re.search(r"(sg_live_[A-Za-z0-9_\-]{20,})", log_path.read_text())
    if not match:
        proc.kill()
        raise SystemExit(f"server did not print a key:\n{log_path.read_text()}")
    return proc, url, match.group(1)


def start_dispatcher(
    tmp: Path, database_url: str | None, workers: int, env_extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A separate ``smsgate dispatch`` process beside a ``serve --no-dispatch``."""
    args = [sys.executable, "-m", "smsgate.cli", "dispatch", "--data-dir", str(tmp / "data")]
    args += ["--workers", str(workers)]
    if database_url:
        args += ["--database-url", database_url]
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "config"), **(env_extra or {})}
    with (tmp / "dispatch.log").open("wb") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=15)
