"""Prefixed, time-sortable identifiers: ``sms_01JDX…`` (a ULID after the prefix).

A ULID is 48 bits of Unix milliseconds then 80 random bits, in Crockford base32,
so ids sort by creation time as strings: cursor pagination and event timelines
order by id. Ids made in one process are strictly increasing even within one
millisecond (the random part is incremented, as the ULID spec's monotonic mode
says), which keeps an event timeline in order. Written here rather than taken
from a package because the monotonic mode is the part that matters and it is a
dozen lines.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Literal

Prefix = Literal[
    "sms", "bat", "otp", "tpl", "snd", "sig", "evt", "inb", "prj", "key", "req", "att", "hld"
]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_MAX = (1 << 80) - 1
_lock = threading.Lock()
_last_ms = 0
_last_random = 0


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def ulid() -> str:
    global _last_ms, _last_random
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            now = _last_ms
            rand = _last_random + 1
            if rand > _RANDOM_MAX:  # 2**80 ids in one millisecond: borrow the next one
                now += 1
                rand = secrets.randbits(79)
        else:
            rand = secrets.randbits(79)  # top bit clear leaves room to count up
        _last_ms, _last_random = now, rand
    return _encode((now << 80) | rand)


def new_id(prefix: Prefix) -> str:
    return f"{prefix}_{ulid()}"


def has_prefix(value: str, prefix: Prefix) -> bool:
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 27
