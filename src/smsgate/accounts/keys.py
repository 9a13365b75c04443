"""API keys: 256 random bits, shown once, stored as SHA-256.

A key looks like ``sg_live_<43 url-safe chars>``. Because it is random and long, a
single fast hash is the right storage (a slow password hash would only cost every
request a few milliseconds and buy nothing).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

KEY_PREFIX = "sg_live_"

PERMISSIONS = (
    "sms:send",
    "sms:read",
    "otp",
    "templates",
    "senders",
    "suppression",
    "usage",
    "admin",
)
DEFAULT_PERMISSIONS = ("sms:send", "sms:read")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_hint(key: str) -> str:
    return f"{key[: len(KEY_PREFIX) + 4]}…{key[-4:]}"


@dataclass(frozen=True)
class NewKey:
    """A freshly made key. ``secret`` is the only copy; ``repr`` hides it."""

    secret: str = field(repr=False)
    hash: str
    hint: str


def generate_key() -> NewKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(secret=secret, hash=hash_key(secret), hint=key_hint(secret))


def normalise_permissions(perms: list[str] | tuple[str, ...]) -> list[str]:
    unknown = [p for p in perms if p not in PERMISSIONS]
    if unknown:
        raise ValueError(f"unknown permission(s): {', '.join(unknown)}")
    return sorted(set(perms), key=PERMISSIONS.index)
