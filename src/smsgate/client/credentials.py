"""The credentials file: where ``smsgate serve``/``init`` leave the server URL and a key.

``$XDG_CONFIG_HOME/smsgate/credentials`` (default ``~/.config/smsgate/credentials``),
TOML with top-level ``url`` and ``api_key``, mode 0600 in a 0700 directory::

    url = "http://127.0.0.1:8000"
    api_key = "sg_live_..."
"""

from __future__ import annotations

import contextlib
import os
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from smsgate.client.errors import SmsgateConfigError


def credentials_path() -> Path:
    """``$XDG_CONFIG_HOME/smsgate/credentials``, or ``~/.config/smsgate/credentials``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "smsgate" / "credentials"


def mask_key(api_key: str) -> str:
    """Enough of a key to recognise it (``sg_live_AbCd…``), never enough to use it."""
    return api_key[: min(12, len(api_key) // 3)] + "…"


@dataclass(frozen=True)
class Credentials:
    url: str
    api_key: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(url={self.url!r}, api_key={mask_key(self.api_key)!r})"


def read_credentials(path: Path | None = None) -> Credentials | None:
    """The file's URL and key; None when there is no file or it lacks either.

    A file that is not valid TOML raises ``SmsgateConfigError``.
    """
    path = path or credentials_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SmsgateConfigError(f"The credentials file {path} is not valid TOML: {exc}") from exc
    url, key = data.get("url"), data.get("api_key")
    if not isinstance(url, str) or not isinstance(key, str) or not url or not key:
        return None
    return Credentials(url=url, api_key=key)


def _toml_string(value: str) -> str:
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def write_credentials(url: str, api_key: str, path: Path | None = None) -> Path:
    """Save the URL and key atomically: a 0600 temporary file renamed over the old one."""
    path = path or credentials_path()
    created = not path.parent.exists()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if created:
        os.chmod(path.parent, 0o700)  # mkdir's mode is filtered by the umask
    text = f"url = {_toml_string(url)}\napi_key = {_toml_string(api_key)}\n"
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
