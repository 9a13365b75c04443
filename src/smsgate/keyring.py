"""Server-side secrets: the key that hashes OTP codes and seals short-lived plaintext.

The root secret comes from ``SMSGATE_SECRET_KEY`` or, on a single node, from
``<data dir>/secret.key`` (made on first use, mode 0600). Several processes on one
PostgreSQL must share ``SMSGATE_SECRET_KEY``. Purpose keys are derived with HKDF,
so the OTP hash key and the sealing key are independent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from smsgate.config import Settings


def _derive(root: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(root)


def load_root_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value().encode()
        if len(value) < 32:
            raise ValueError("SMSGATE_SECRET_KEY must be at least 32 characters")
        return value
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


class Keyring:
    """Holds derived keys; ``repr`` shows nothing secret."""

    def __init__(self, root: bytes) -> None:
        self._otp = _derive(root, b"smsgate otp code hash v1")
        self._seal = AESGCM(_derive(root, b"smsgate seal v1"))

    def __repr__(self) -> str:
        return "Keyring(<secret>)"

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        return cls(load_root_secret(settings))

    def otp_hash(self, request_id: str, code: str) -> str:
        """HMAC-SHA256 of a code, bound to its request so equal codes hash differently."""
        return hmac.new(self._otp, f"{request_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def seal(self, plaintext: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._seal.encrypt(nonce, plaintext.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, token: str, context: str) -> str:
        raw = base64.urlsafe_b64decode(token.encode())
        return self._seal.decrypt(raw[:12], raw[12:], context.encode()).decode()
