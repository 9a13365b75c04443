"""Where the client finds its server and key, and the credentials file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from smsgate.client import AsyncClient, Client, SmsgateConfigError, SmsgateError
from smsgate.client.credentials import (
    Credentials,
    credentials_path,
    mask_key,
    read_credentials,
    write_credentials,
)
from tests.client.helpers import KEY

FILE_KEY = "sg_live_fromthefile_0123456789abcdef"
ENV_KEY = "sg_live_fromtheenvironment_0123456789"
ARG_KEY = "sg_live_fromtheargument_0123456789ab"


def sent_key(client: Client) -> str:
    return client._core.headers(None)["Authorization"].removeprefix("Bearer ")


def test_credentials_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert credentials_path() == tmp_path / "xdg-config" / "smsgate" / "credentials"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert credentials_path() == tmp_path / "home" / ".config" / "smsgate" / "credentials"


def test_write_credentials_is_private_and_reads_back(tmp_path: Path) -> None:
    path = write_credentials("http://127.0.0.1:8000", FILE_KEY)
    assert path == credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_credentials() == Credentials("http://127.0.0.1:8000", FILE_KEY)
    assert os.listdir(path.parent) == ["credentials"]  # no temporary file left behind
    # Overwriting replaces the file and keeps it private, even if it was not.
    path.chmod(0o644)
    write_credentials("http://other:9", ARG_KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_credentials() == Credentials("http://other:9", ARG_KEY)


def test_write_credentials_to_an_explicit_path_escapes_toml(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "creds"
    odd_url = 'http://h/"quoted"\\back\tslash/é'
    assert write_credentials(odd_url, FILE_KEY, path) == path
    assert read_credentials(path) == Credentials(odd_url, FILE_KEY)
    assert read_credentials() is None  # the default file was not touched


def test_read_credentials_missing_incomplete_or_broken(tmp_path: Path) -> None:
    path = tmp_path / "creds"
    assert read_credentials(path) is None
    path.write_text('url = "http://x"\n')
    assert read_credentials(path) is None
    path.write_text("url = = nope")
    with pytest.raises(SmsgateConfigError, match="not valid TOML"):
        read_credentials(path)


def test_credentials_repr_masks_the_key() -> None:
    creds = Credentials("http://x", FILE_KEY)
    assert FILE_KEY not in repr(creds) and FILE_KEY not in str(creds)
    assert "sg_live_" in repr(creds)
    assert mask_key(FILE_KEY) == FILE_KEY[:12] + "…"
    assert mask_key("sg_short") == "sg…"  # short keys show even less


def test_resolution_order_args_then_env_then_file(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SmsgateConfigError, match="No API key"):
        Client()

    write_credentials("http://from-file:1", FILE_KEY)
    c = Client()
    assert (c.base_url, sent_key(c)) == ("http://from-file:1", FILE_KEY)

    monkeypatch.setenv("SMSGATE_URL", "http://from-env:2/")
    monkeypatch.setenv("SMSGATE_API_KEY", ENV_KEY)
    c = Client()
    assert (c.base_url, sent_key(c)) == ("http://from-env:2", ENV_KEY)

    c = Client("http://from-arg:3", ARG_KEY)
    assert (c.base_url, sent_key(c)) == ("http://from-arg:3", ARG_KEY)

    # Each setting on its own: a key from the environment, the URL from an argument...
    c = Client(base_url="http://from-arg:3")
    assert (c.base_url, sent_key(c)) == ("http://from-arg:3", ENV_KEY)
    # ... and the URL from the file when neither argument nor environment gives one.
    monkeypatch.delenv("SMSGATE_URL")
    c = Client(api_key=ARG_KEY)
    assert (c.base_url, sent_key(c)) == ("http://from-file:1", ARG_KEY)


def test_default_url_only_when_nothing_gives_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSGATE_API_KEY", ENV_KEY)
    assert Client().base_url == "http://127.0.0.1:8000"
    monkeypatch.setenv("SMSGATE_URL", "")  # empty counts as unset
    assert Client().base_url == "http://127.0.0.1:8000"


def test_file_key_is_only_sent_to_the_files_server(monkeypatch: pytest.MonkeyPatch) -> None:
    write_credentials("http://127.0.0.1:8000", FILE_KEY)
    assert sent_key(Client("http://127.0.0.1:8000/")) == FILE_KEY
    monkeypatch.setenv("SMSGATE_URL", "https://elsewhere.example")
    with pytest.raises(SmsgateConfigError, match=r"holds a key for http://127\.0\.0\.1:8000"):
        Client()
    with pytest.raises(SmsgateConfigError):
        Client("http://127.0.0.1:9999")


def test_config_errors_are_smsgate_errors_and_clear() -> None:
    with pytest.raises(SmsgateError) as info:
        Client(base_url="http://x")
    assert "SMSGATE_API_KEY" in str(info.value) and str(credentials_path()) in str(info.value)
    with pytest.raises(SmsgateConfigError, match="must look like"):
        Client("ftp://x", KEY)
    with pytest.raises(SmsgateConfigError, match="must look like"):
        Client("127.0.0.1:8000", KEY)
    with pytest.raises(ValueError, match="max_retries"):
        Client("http://x", KEY, max_retries=-1)


def test_key_surrounding_whitespace_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSGATE_API_KEY", f"  {ENV_KEY}\n")
    assert sent_key(Client()) == ENV_KEY


@pytest.mark.anyio
async def test_async_client_resolves_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    write_credentials("http://from-file:1", FILE_KEY)
    async with AsyncClient() as c:
        assert c.base_url == "http://from-file:1"
        assert c._core.headers(None)["Authorization"] == f"Bearer {FILE_KEY}"
    with pytest.raises(SmsgateConfigError):
        AsyncClient("https://not-the-file-server")


def test_the_key_is_in_no_repr() -> None:
    http = httpx.Client()
    c = Client("http://gw.test", KEY, http_client=http)
    texts = [repr(c), str(c), repr(c.sms), repr(c.sms.batch), repr(c._core), repr(vars(c))]
    texts += [repr(vars(c._core)), repr(c._core._api_key), str(c._core._api_key)]
    for text in texts:
        assert KEY not in text
    assert repr(c) == "Client(base_url='http://gw.test')"
    ac = AsyncClient("http://gw.test", KEY)
    assert KEY not in repr(ac) and KEY not in repr(vars(ac._core))
    http.close()
