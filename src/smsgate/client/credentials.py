"""The credentials file: where ``smsgate serve``/``init`` leave the server URL and a key.

``$XDG_CONFIG_HOME/smsgate/credentials`` (default ``~/.config/smsgate/credentials``),
TOML with ``url`` and ``api_key``, mode 0600 in a 0700 directory.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "smsgate" / "credentials"


@dataclass(frozen=True)
class Credentials:
    url: str
    api_key: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(url={self.url!r}, api_key='{self.api_key[:8]}…')"


def read_credentials(path: Path | None = None) -> Credentials | None:
    path = path or credentials_path()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return None
    url, key = data.get("url"), data.get("api_key")
    if not isinstance(url, str) or not isinstance(key, str):
        return None
    return Credentials(url=url, api_key=key)


def write_credentials(url: str, api_key: str, path: Path | None = None) -> Path:
    path = path or credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # json.dumps writes a valid TOML basic string for these values.
    text = f"url = {json.dumps(url)}\napi_key = {json.dumps(api_key)}\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
