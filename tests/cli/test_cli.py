"""The CLI on a real database file (keys, init, migrate) and against a real server (send)."""

from __future__ import annotations

import re
import stat
import time
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smsgate.cli import app
from tests.e2e.server import printed_key, serve

runner = CliRunner()
KEY = re.compile(r"sg_live_[A-Za-z0-9_\-]{20,}")


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_init_keys_and_revoke(tmp_path: Path, db_url: str) -> None:
    db = ["--database-url", db_url]
    out = run("init", *db, "--url", "http://127.0.0.1:9999")
    admin = KEY.search(out)
    assert admin
    creds = tmp_path / "config" / "smsgate" / "credentials"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert tomllib.loads(creds.read_text()) == {
        "url": "http://127.0.0.1:9999",
        "api_key": admin.group(0),
    }
    out = run("keys", "create", *db, "--name", "reporting", "-p", "sms:read")
    made = KEY.search(out)
    assert made and "sms:read" in out
    key_id = re.search(r"key_[0-9A-Z]{26}", out)
    assert key_id
    listing = run("keys", "list", *db)
    assert "reporting" in listing and made.group(0) not in listing  # secrets never listed
    assert admin.group(0) not in listing
    run("keys", "revoke", key_id.group(0), *db)
    again = runner.invoke(app, ["keys", "revoke", key_id.group(0), *db])
    assert again.exit_code == 1 and "No active key" in again.output
    bad = runner.invoke(app, ["keys", "create", *db, "-p", "sms:everything"])
    assert bad.exit_code == 2 and "unknown permission" in bad.output


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert "up to date" in run("migrate", "--database-url", url)
    assert "up to date" in run("migrate", "--database-url", url)


@pytest.mark.slow
def test_send_status_list_through_a_real_server(tmp_path: Path, db_url: str) -> None:
    proc, _url = serve(tmp_path, db_url)
    try:
        printed_key(proc)  # the credentials file now points at this server
        out = run("send", "+15005550006", "from the CLI")
        sms_id = re.search(r"sms_[0-9A-Z]{26}", out)
        assert sms_id, out
        assert sms_id.group(0) in run("status", sms_id.group(0))
        assert sms_id.group(0)[:10] in run("list")
        bad = runner.invoke(app, ["send", "+1234", "x"])
        assert bad.exit_code == 1 and "invalid" in bad.output.lower()

        out = run("otp", "send", "+15005550006", "--service-name", "Acme")
        otp = re.search(r'"sms_id": "(sms_[0-9A-Z]{26})"', out)
        assert otp and "pending" in out
        wrong = runner.invoke(app, ["otp", "verify", "+15005550006", "0000000"])
        assert wrong.exit_code == 3 and '"valid": false' in wrong.output
        from smsgate import Client

        with Client() as client:
            deadline = time.monotonic() + 10
            while client.sms.status(otp.group(1)).state != "delivered":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            [text] = [
                m.body
                for m in client.sandbox.messages(to="+15005550006").items
                if m.sms_id == otp.group(1)
            ]
        code = re.search(r"\b(\d{6})\b", text)
        assert code and code.group(1) not in out
        ok = run("otp", "verify", "+15005550006", code.group(1))
        assert '"valid": true' in ok
    finally:
        proc.stop()
