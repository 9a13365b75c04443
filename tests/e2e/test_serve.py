"""The real server as a user runs it: ``smsgate serve`` in a subprocess on a free port."""

from __future__ import annotations

import stat
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import printed_key, serve

pytestmark = pytest.mark.slow


def wait_final(client: httpx.Client, sms_id: str, timeout: float = 10) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        rec: dict[str, object] = client.get(f"/v1/sms/status/{sms_id}").json()
        if rec["state"] in ("delivered", "undelivered", "failed", "expired", "canceled"):
            return rec
        assert time.monotonic() < deadline, rec
        time.sleep(0.05)


def test_first_start_prints_a_key_that_sends(tmp_path: Path, db_url: str) -> None:
    proc, url = serve(tmp_path, db_url)
    try:
        key = printed_key(proc)
        creds_path = tmp_path / "config" / "smsgate" / "credentials"
        assert stat.S_IMODE(creds_path.stat().st_mode) == 0o600
        creds = tomllib.loads(creds_path.read_text())
        assert creds == {"url": url, "api_key": key}
        for path in ("/healthz", "/readyz", "/openapi.json"):
            assert httpx.get(url + path).status_code == 200
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            r = c.post("/v1/sms/send", json={"to": "+15005550006", "body": "hello"})
            assert r.status_code == 200, r.text
            assert wait_final(c, r.json()["sms_id"], timeout=5)["state"] == "delivered"
    finally:
        proc.stop()
    # A second start on the same data makes no new key.
    proc, url = serve(tmp_path, db_url)
    try:
        assert "sg_live_" not in proc.output()
    finally:
        proc.stop()
