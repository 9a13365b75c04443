"""Cursor pagination: newest first, the cursor is the last id seen (opaque to clients)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query

from smsgate.errors import Unprocessable

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw or not raw.isascii() or not raw.isprintable() or len(raw) > 64:
        raise Unprocessable("The cursor is not valid.", code="invalid_cursor", param="cursor")
    return raw


@dataclass(frozen=True)
class PageParams:
    after: str | None
    limit: int


def page_params(
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PageParams:
    """A FastAPI dependency for ``?cursor=&limit=``."""
    return PageParams(after=decode_cursor(cursor), limit=limit)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def make_page(rows: Sequence[T], limit: int, key: str) -> Page[T]:
    """``rows`` was fetched with ``limit + 1``; ``key`` names the id attribute."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page(items, encode_cursor(str(getattr(items[-1], key))) if more and items else None)
