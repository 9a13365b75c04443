"""Start real ``smsgate`` processes for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

FAST_ENV = {
    "SMSGATE_SIMULATOR_RECEIPT_DELAY": "0.2",
    "SMSGATE_LEASE_SECONDS": "3",
    "SMSGATE_DISPATCH_POLL_INTERVAL": "0.01",
    "SMSGATE_DISPATCH_IDLE_INTERVAL": "0.05",
    "SMSGATE_RETRY_BASE_SECONDS": "0.1",
}
KEY_RE = re.compile(r"(sg_live_[A-Za-z0-9_\-]{20,})")


def smsgate_command() -> list[str]:
    """The installed ``smsgate`` script, as a user runs it (``python -m`` if not installed)."""
    script = Path(sys.executable).parent / "smsgate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "smsgate.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._fh = log.open("ab")
        self.popen = subprocess.Popen(
            [*smsgate_command(), *args],
            env={**os.environ, **FAST_ENV, **env},
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._fh.close()

    def close_log(self) -> None:
        self._fh.close()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self._fh.close()


def serve(
    tmp: Path,
    database_url: str | None,
    *extra: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> tuple[Proc, str]:
    """Start ``smsgate serve`` and wait until it answers; returns (process, base URL)."""
    port = port or free_port()
    args = ["serve", "--port", str(port), "--data-dir", str(tmp / "data"), "--log-level", "warning"]
    if database_url:
        args += ["--database-url", database_url]
    proc = Proc(
        [*args, *extra],
        {"XDG_CONFIG_HOME": str(tmp / "config"), **(env or {})},
        tmp / f"serve-{port}.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url)
    except BaseException:
        proc.stop()
        raise
    return proc, url


def wait_ready(proc: Proc, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"server exited early:\n{proc.output()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not ready in {timeout}s:\n{proc.output()}")


def printed_key(proc: Proc) -> str:
    match = KEY_RE.search(proc.output())
    assert match, proc.output()
    return match.group(1)


def serve_with_config(
    tmp: Path, database_url: str | None, config: str, env: dict[str, str]
) -> tuple[Proc, str, str]:
    """``smsgate serve`` with an ``smsgate.toml`` and its public URL set to itself, so vendor
    callbacks reach it; returns (process, URL, the printed admin key)."""
    path = tmp / "smsgate.toml"
    path.write_text(config)
    port = free_port()
    proc, url = serve(
        tmp,
        database_url,
        port=port,
        env={
            "SMSGATE_CONFIG_FILE": str(path),
            "SMSGATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            **env,
        },
    )
    return proc, url, printed_key(proc)
