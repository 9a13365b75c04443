"""GSM 03.38 text: encoding choice, segment counting and splitting.

Placeholder kept minimal; see tests/text for the properties it must hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MAX_BODY_CHARS = 1600

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True, slots=True)
class TextInfo:
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int
    per_segment: int


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def septet_length(text: str) -> int:
    return len(text) + sum(1 for c in text if c in GSM7_EXTENSION)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def analyze(text: str) -> TextInfo:
    if is_gsm7(text):
        units, single, multi, enc = septet_length(text), 160, 153, "GSM-7"
    else:
        units, single, multi, enc = _units(text), 70, 67, "UCS-2"
    if units <= single:
        return TextInfo(enc, 1, units, single)  # type: ignore[arg-type]
    return TextInfo(enc, len(split(text)), units, multi)  # type: ignore[arg-type]


def split(text: str) -> list[str]:
    gsm = is_gsm7(text)
    cost = (lambda c: 2 if c in GSM7_EXTENSION else 1) if gsm else (lambda c: _units(c))
    single, multi = (160, 153) if gsm else (70, 67)
    if sum(cost(c) for c in text) <= single:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for c in text:
        n = cost(c)
        if used + n > multi:
            parts.append("".join(current))
            current, used = [], 0
        current.append(c)
        used += n
    if current:
        parts.append("".join(current))
    return parts
