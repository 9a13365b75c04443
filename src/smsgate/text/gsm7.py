"""GSM 03.38 text: encoding choice, segment counting and splitting.

An SMS body travels either in the GSM 7-bit default alphabet (3GPP TS 23.038, formerly
GSM 03.38) or, when any character falls outside it, in UCS-2 (in practice UTF-16).

Rules implemented here:

* **Encoding.** A text is GSM-7 when every character is in the default alphabet
  (:data:`GSM7_BASIC`, one septet each) or in its extension table (:data:`GSM7_EXTENSION`,
  two septets each: an ``ESC`` (0x1B) followed by the character's code). Otherwise the whole
  message is sent as UCS-2 and counted in UTF-16 code units, so a character outside the
  Basic Multilingual Plane (most emoji) costs two units.
* **Segments.** A single SMS holds 160 septets (GSM-7) or 70 UTF-16 units (UCS-2). A longer
  message is concatenated: each part loses room to the 6-octet user-data header and holds
  153 septets or 67 units. The empty text is one (empty) segment.
* **Split points.** :func:`split` never separates an escape pair (an extension character is
  an atomic two-septet unit), never splits a UTF-16 surrogate pair, and avoids cutting a
  grapheme cluster (a user-perceived character such as ``e`` + combining accent, a flag, or
  a ZWJ emoji family). Because of that a multi-part message can need more parts than the
  naive ``ceil(units / 153)``; :func:`analyze` therefore counts multi-part segments with
  the same splitter, so ``analyze(t).segments == len(split(t))`` always holds.

The escape character ``U+001B`` itself is not a text character and is never GSM-7 here.
National language shift tables are not used.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Final, Literal

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "GSM7_MULTI_SEGMENT",
    "GSM7_SINGLE_SEGMENT",
    "MAX_BODY_CHARS",
    "UCS2_MULTI_SEGMENT",
    "UCS2_SINGLE_SEGMENT",
    "Encoding",
    "TextInfo",
    "analyze",
    "decode",
    "encode",
    "is_gsm7",
    "septet_length",
    "split",
]

Encoding = Literal["GSM-7", "UCS-2"]

#: Longest body the API accepts, in Python characters (code points).
MAX_BODY_CHARS: Final = 1600

GSM7_SINGLE_SEGMENT: Final = 160
GSM7_MULTI_SEGMENT: Final = 153
UCS2_SINGLE_SEGMENT: Final = 70
UCS2_MULTI_SEGMENT: Final = 67

_ESC: Final = "\x1b"

# The default alphabet in code order 0x00..0x7F. Position 0x1B is the escape to the
# extension table, not a character; it is dropped from GSM7_BASIC below.
_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10
    " !\"#¤%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "¡ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50
    "¿abcdefghijklmno"  # 0x60
    "pqrstuvwxyzäöñüà"  # 0x70
)

# The extension table: code after ESC -> character. Each costs two septets on the air.
_EXTENSION_TABLE: Final[dict[int, str]] = {
    0x0A: "\f",  # form feed (page break)
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

if len(_BASIC_TABLE) != 128 or _BASIC_TABLE[0x1B] != _ESC:  # pragma: no cover
    raise RuntimeError("GSM 03.38 basic table is malformed")

#: Characters of the GSM 03.38 default alphabet (one septet each).
GSM7_BASIC: Final[frozenset[str]] = frozenset(_BASIC_TABLE) - {_ESC}
#: Characters of the GSM 03.38 extension table (two septets each: ESC + code).
GSM7_EXTENSION: Final[frozenset[str]] = frozenset(_EXTENSION_TABLE.values())

_GSM7_ALL: Final[frozenset[str]] = GSM7_BASIC | GSM7_EXTENSION
_SEPTETS: Final[dict[str, int]] = {c: 1 for c in GSM7_BASIC} | {c: 2 for c in GSM7_EXTENSION}


_CODE: Final[dict[str, bytes]] = {
    c: bytes([i]) for i, c in enumerate(_BASIC_TABLE) if c != _ESC
} | {c: bytes([0x1B, code]) for code, c in _EXTENSION_TABLE.items()}
_EXTENSION_CHAR: Final[dict[int, str]] = dict(_EXTENSION_TABLE)


def encode(text: str) -> bytes:
    """``text`` in the GSM-7 default alphabet, one septet per octet (unpacked, as SMPP
    carries it with ``data_coding`` 0). ``ValueError`` if a character is not GSM-7."""
    try:
        return b"".join(_CODE[c] for c in text)
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not in the GSM-7 alphabet") from None


def decode(data: bytes) -> str:
    """Unpacked GSM-7 septets back to text. An unknown escape gives a space, as the
    standard asks for (3GPP TS 23.038 §6.2.1.1); octets above 0x7F are read as 7-bit."""
    out: list[str] = []
    escaped = False
    for octet in data:
        octet &= 0x7F
        if escaped:
            out.append(_EXTENSION_CHAR.get(octet, " "))
            escaped = False
        elif octet == 0x1B:
            escaped = True
        else:
            out.append(_BASIC_TABLE[octet])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class TextInfo:
    """How a body goes on the air.

    ``units`` is the total length in septets (GSM-7) or UTF-16 code units (UCS-2).
    ``per_segment`` is the budget of each segment: 160/70 when the message fits in one
    SMS, 153/67 when it is concatenated.
    """

    encoding: Encoding
    segments: int
    units: int
    per_segment: int


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 default alphabet or its extension table."""
    return _GSM7_ALL.issuperset(text)


def _septets(text: str) -> int:
    return len(text) + sum(map(text.count, GSM7_EXTENSION))


def septet_length(text: str) -> int:
    """Number of septets ``text`` takes in GSM-7: 1 per basic char, 2 per extension char.

    Raises ``ValueError`` when ``text`` is not GSM-7 (see :func:`is_gsm7`).
    """
    if not is_gsm7(text):
        raise ValueError("text is not representable in the GSM 03.38 alphabet")
    return _septets(text)


def _utf16_units(text: str) -> int:
    # surrogatepass: a lone surrogate in a Python str counts as one unit instead of raising.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def analyze(text: str) -> TextInfo:
    """Choose the encoding and count units and segments for ``text``.

    GSM-7 when :func:`is_gsm7`, else UCS-2. Fits in one segment up to 160 septets or 70
    UTF-16 units; beyond that the segment count is ``len(split(text))`` (153 / 67 per part,
    plus the split-point rules described in the module docstring).
    """
    encoding: Encoding
    if is_gsm7(text):
        encoding, units = "GSM-7", _septets(text)
        single, multi = GSM7_SINGLE_SEGMENT, GSM7_MULTI_SEGMENT
    else:
        encoding, units = "UCS-2", _utf16_units(text)
        single, multi = UCS2_SINGLE_SEGMENT, UCS2_MULTI_SEGMENT
    if units <= single:
        return TextInfo(encoding, 1, units, single)
    cuts = _gsm7_cuts(text, multi) if encoding == "GSM-7" else _ucs2_cuts(text, multi)
    return TextInfo(encoding, len(cuts), units, multi)


def split(text: str) -> list[str]:
    """Split ``text`` into the texts of its SMS segments.

    Guarantees: ``"".join(split(text)) == text``; one part (``[text]``, also for the empty
    text) when it fits in a single SMS, else every part holds at most 153 septets / 67
    UTF-16 units; no part ends inside an escape pair or a surrogate pair; a part ends
    inside a grapheme cluster only when that single cluster is longer than a whole part
    (e.g. a letter carrying dozens of combining marks). Such an oversized cluster is cut at
    code-point boundaries, which still never separates a surrogate pair. Parts are packed
    greedily, which gives the fewest parts possible under these rules.

    Grapheme clusters follow a compact subset of Unicode UAX #29: CR LF stays together;
    combining marks (Mn, Me, Mc), ZWNJ, variation selectors, emoji skin-tone modifiers and
    tag characters attach to the preceding character; ZWJ (U+200D) attaches to the
    preceding character and joins the next one; regional indicators pair into flags;
    Hangul jamo compose into syllables; an Indic consonant + virama + consonant conjunct
    stays together (Unicode 15.1 rule GB9c, approximated: consonant = any letter of the
    Devanagari..Malayalam blocks, linker = the virama of Devanagari, Bengali, Gujarati,
    Oriya, Telugu or Malayalam); controls always break. Not modelled: prepended
    concatenation marks and the few spacing marks whose general category is not Mc.
    """
    if is_gsm7(text):
        if _septets(text) <= GSM7_SINGLE_SEGMENT:
            return [text]
        cuts = _gsm7_cuts(text, GSM7_MULTI_SEGMENT)
    else:
        if _utf16_units(text) <= UCS2_SINGLE_SEGMENT:
            return [text]
        cuts = _ucs2_cuts(text, UCS2_MULTI_SEGMENT)
    parts: list[str] = []
    start = 0
    for end in cuts:
        parts.append(text[start:end])
        start = end
    return parts


def _gsm7_cuts(text: str, budget: int) -> list[int]:
    """End offsets of the parts of a GSM-7 ``text`` packed into ``budget`` septets each.

    In GSM-7 text every character is its own grapheme cluster except CR LF, and every
    character is a single Python code point, so an extension character (2 septets) can
    never be split: only the CR LF pair needs care.
    """
    prefix = list(accumulate(map(_SEPTETS.__getitem__, text), initial=0))
    n = len(text)
    cuts: list[int] = []
    start = 0
    while start < n:
        # Furthest offset whose septet count from `start` is within budget (>= start + 1,
        # since no character costs more than 2 septets).
        end = bisect_right(prefix, prefix[start] + budget, lo=start + 1) - 1
        if end < n and text[end] == "\n" and text[end - 1] == "\r" and end - 1 > start:
            end -= 1
        cuts.append(end)
        start = end
    return cuts


def _ucs2_cuts(text: str, budget: int) -> list[int]:
    """End offsets of the parts of ``text`` packed into ``budget`` UTF-16 units each."""
    bounds, units = _breaks(text, budget)
    last = len(bounds) - 1
    cuts: list[int] = []
    i = 0
    while i < last:
        # Furthest allowed break within budget; every atom costs <= 2 units, so j > i.
        j = bisect_right(units, units[i] + budget, lo=i + 1) - 1
        cuts.append(bounds[j])
        i = j
    return cuts


# Grapheme-cluster classes (a subset of the UAX #29 Grapheme_Cluster_Break property).
_OTHER: Final = 0
_CR: Final = 1
_LF: Final = 2
_CONTROL: Final = 3
_EXTEND: Final = 4  # Extend and SpacingMark: never break before
_ZWJ: Final = 5
_RI: Final = 6  # regional indicator
_L: Final = 7  # Hangul leading jamo
_V: Final = 8  # Hangul vowel jamo
_T: Final = 9  # Hangul trailing jamo
_LV: Final = 10  # Hangul syllable without trailing consonant
_LVT: Final = 11  # Hangul syllable with trailing consonant
_HIGH_SURROGATE: Final = 12  # a lone surrogate code unit stored in the str
_LOW_SURROGATE: Final = 13
_LINKER: Final = 14  # Indic virama that joins conjuncts (else like _EXTEND)
_INDIC_LETTER: Final = 15  # letter of an Indic script (else like _OTHER)

_LINKERS: Final = frozenset("\u094d\u09cd\u0acd\u0b4d\u0c4d\u0d4d")

_BREAKING: Final = frozenset({_CR, _LF, _CONTROL, _HIGH_SURROGATE, _LOW_SURROGATE})
_ASCII_CLASS: Final[tuple[int, ...]] = tuple(
    _CR if cp == 0x0D else _LF if cp == 0x0A else _CONTROL if cp < 0x20 or cp == 0x7F else _OTHER
    for cp in range(128)
)


@lru_cache(maxsize=4096)
def _class_of(char: str) -> int:
    cp = ord(char)
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return _RI
    if cp == 0x200D:
        return _ZWJ
    if (
        cp == 0x200C  # ZWNJ
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0xE0100 <= cp <= 0xE01EF  # variation selectors supplement
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tags (emoji subdivision flags)
    ):
        return _EXTEND
    if 0xAC00 <= cp <= 0xD7A3:
        return _LV if (cp - 0xAC00) % 28 == 0 else _LVT
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return _L
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return _V
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return _T
    if 0xD800 <= cp <= 0xDBFF:
        return _HIGH_SURROGATE
    if 0xDC00 <= cp <= 0xDFFF:
        return _LOW_SURROGATE
    if char in _LINKERS:
        return _LINKER
    category = unicodedata.category(char)
    if category == "Lo" and 0x0900 <= cp <= 0x0D7F:
        return _INDIC_LETTER
    if category in ("Mn", "Me", "Mc"):
        return _EXTEND
    if category in ("Cc", "Cf", "Zl", "Zp"):
        return _CONTROL
    return _OTHER


def _joins(prev: int, cur: int, ri_run: int, conjunct: int) -> bool:
    """Whether there is no grapheme-cluster break between classes ``prev`` and ``cur``.

    ``ri_run`` is the number of consecutive regional indicators ending at ``prev``;
    ``conjunct`` is 2 when ``prev`` ends "Indic letter (Extend | ZWJ | linker)*" with at
    least one linker.
    """
    if prev == _CR:
        return cur == _LF
    if prev == _HIGH_SURROGATE:
        return cur == _LOW_SURROGATE  # a surrogate pair held as two str code points
    if prev in _BREAKING or cur in _BREAKING:
        return False
    if cur in (_EXTEND, _ZWJ, _LINKER) or prev == _ZWJ:
        return True
    if cur == _INDIC_LETTER and conjunct == 2:
        return True
    if prev == _L:
        return cur in (_L, _V, _LV, _LVT)
    if prev in (_LV, _V):
        return cur in (_V, _T)
    if prev in (_LVT, _T):
        return cur == _T
    return prev == _RI and cur == _RI and ri_run % 2 == 1


def _breaks(text: str, budget: int) -> tuple[list[int], list[int]]:
    """Allowed part boundaries in ``text`` and the UTF-16 length up to each of them.

    Boundaries are the grapheme-cluster boundaries (including 0 and ``len(text)``), plus
    every code-point boundary inside a cluster longer than ``budget`` units. A surrogate
    pair held as two str code points is always a cluster of its own (2 units), so it is
    never oversized and never cut.
    """
    bounds = [0]
    units = [0]
    total = 0
    cluster_start = 0
    cluster_units = 0
    prev = _OTHER
    ri_run = 0
    conjunct = 0
    for i, char in enumerate(text):
        cp = ord(char)
        cur = _ASCII_CLASS[cp] if cp < 0x80 else _class_of(char)
        if i and not _joins(prev, cur, ri_run, conjunct):
            if cluster_units > budget:
                _add_inner_breaks(text, cluster_start, i, bounds, units)
            bounds.append(i)
            units.append(total)
            cluster_start, cluster_units = i, 0
        width = 2 if cp > 0xFFFF else 1
        total += width
        cluster_units += width
        ri_run = ri_run + 1 if cur == _RI else 0
        if cur == _INDIC_LETTER:
            conjunct = 1
        elif cur == _LINKER and conjunct:
            conjunct = 2
        elif cur not in (_EXTEND, _ZWJ):
            conjunct = 0
        prev = cur
    if cluster_units > budget:
        _add_inner_breaks(text, cluster_start, len(text), bounds, units)
    if text:
        bounds.append(len(text))
        units.append(total)
    return bounds, units


def _add_inner_breaks(text: str, start: int, end: int, bounds: list[int], units: list[int]) -> None:
    """Append the code-point boundaries strictly inside ``text[start:end]``."""
    total = units[-1]
    for i in range(start, end - 1):
        total += 2 if ord(text[i]) > 0xFFFF else 1
        bounds.append(i + 1)
        units.append(total)
