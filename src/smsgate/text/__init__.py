"""Message text handling: GSM 03.38 / UCS-2 encoding choice, segment counting, splitting."""

from smsgate.text.gsm7 import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_BODY_CHARS,
    TextInfo,
    analyze,
    is_gsm7,
    septet_length,
    split,
)

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_BODY_CHARS",
    "TextInfo",
    "analyze",
    "is_gsm7",
    "septet_length",
    "split",
]
