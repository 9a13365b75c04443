"""The NUL character (U+0000) is refused at the door.

PostgreSQL cannot store it in text, so a NUL that reached a query was a 500 there (and
worked on SQLite): the same request must get the same answer on both. No SMS text, id or
URL needs it. Request bodies are checked by :class:`NoNul` (every string and key, nested
included), paths and query strings by :class:`NulGuardMiddleware`. Text from upstreams
(a phone's message) is not refused but cleaned: see :func:`without_nul`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError
from starlette.types import ASGIApp, Receive, Scope, Send

from smsgate.api.limits import send_error
from smsgate.errors import Unprocessable


def find_nul(value: Any, where: Sequence[str | int] = ()) -> str | None:
    """Where the first NUL in a decoded JSON value is (``messages.0.body``), or None."""
    if isinstance(value, str):
        return ".".join(map(str, where)) or "value" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return ".".join(map(str, where)) or "a key"
            found = find_nul(item, (*where, key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find_nul(item, (*where, index))
            if found:
                return found
    return None


class NoNul(BaseModel):
    """Base of request bodies: a NUL anywhere in the input is a validation error.
    ``nul_checked_later`` names fields validated on their own afterwards (batch items,
    each of which gets its own answer)."""

    nul_checked_later: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.nul_checked_later:
            data_to_check: Any = {k: v for k, v in data.items() if k not in cls.nul_checked_later}
        else:
            data_to_check = data
        where = find_nul(data_to_check)
        if where is not None:
            raise PydanticCustomError(
                "nul_character",
                "{where} contains the NUL character (U+0000), which is not allowed",
                {"where": where},
            )
        return data


def without_nul(text: str) -> str:
    """Text from an upstream with any NUL replaced by U+FFFD, so it can be stored."""
    return text.replace("\x00", "\ufffd")


class NulGuardMiddleware:
    """Refuse a path or query string with a NUL (``%00``) before any route sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")
        ):
            error = Unprocessable(
                "The URL contains the NUL character (%00), which is not allowed.",
                code="invalid_parameter",
                param="path" if "\x00" in scope["path"] else "query",
            )
            await send_error(scope, send, error)
            return
        await self.app(scope, receive, send)
