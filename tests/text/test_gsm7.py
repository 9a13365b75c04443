"""Properties of smsgate.text.gsm7, checked against the ``gsm0338`` codec as an oracle.

Oracle notes (gsm0338 1.1.0, codec name ``"gsm03.38"``):

* ``text.encode("gsm03.38")`` yields one byte per septet, and ``0x1B`` + code for an
  extension character, so ``len(encoded)`` is the septet count. Non-GSM characters raise
  ``UnicodeEncodeError``.
* Quirk: U+001B (ESC) itself *encodes* (to a bare ``0x1B`` byte). That is the escape to
  the extension table, not a character of the alphabet: a bare ESC on the air would make
  the receiver read the next septet through the extension table. Our module says ESC is
  not GSM-7 (it forces UCS-2), so strategies exclude U+001B and a dedicated test pins the
  disagreement.
* ``@`` encodes to ``0x00`` (correct per GSM 03.38, but a NUL byte); harmless for length
  counting since it is still one byte per septet. ``Ç`` is the character at ``0x09`` (the
  3GPP table; some tables use ``ç``): our table agrees with the oracle.
* The oracle cannot say anything about segments or split points; those are compared
  against simple reference formulas / a reference greedy packer below.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsgate.text import gsm7
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

CODEC = "gsm03.38"
ESC = "\x1b"

# The oracle's alphabet, derived by decoding every code (not from the module's tables).
ORACLE_BASIC = frozenset(bytes([b]).decode(CODEC) for b in range(128) if b != 0x1B)


def _decode_ext(code: int) -> str | None:
    try:
        return bytes([0x1B, code]).decode(CODEC)
    except UnicodeDecodeError:
        return None


ORACLE_EXT_BY_CODE = {b: c for b in range(128) if (c := _decode_ext(b)) is not None}
ORACLE_EXT = frozenset(ORACLE_EXT_BY_CODE.values())

PROPS = settings(max_examples=150, deadline=None)


def oracle_encode(text: str) -> bytes | None:
    try:
        return text.encode(CODEC)
    except UnicodeEncodeError:
        return None


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def naive_segments(units: int, single: int, multi: int) -> int:
    return 1 if units <= single else math.ceil(units / multi)


def budget(parts: list[str], gsm: bool) -> int:
    if len(parts) == 1:
        return 160 if gsm else 70
    return 153 if gsm else 67


# ---------------------------------------------------------------- strategies

basic_chars = st.sampled_from(sorted(ORACLE_BASIC))
basic_no_cr = st.sampled_from(sorted(ORACLE_BASIC - {"\r"}))
ext_chars = st.sampled_from(sorted(ORACLE_EXT))
gsm_chars = st.one_of(basic_chars, ext_chars)
any_chars = st.characters(exclude_categories=["Cs"], exclude_characters=(ESC,))
mixed_chars = st.one_of(gsm_chars, any_chars)

gsm_text = st.text(gsm_chars, max_size=500)
mixed_text = st.text(mixed_chars, max_size=400)
long_mixed_text = st.text(mixed_chars, min_size=60, max_size=400)

# Lengths spread over 0..650 with extra weight on the segment edges.
lengths = st.one_of(
    st.integers(min_value=0, max_value=650),
    st.sampled_from([0, 1, 66, 67, 68, 69, 70, 71, 134, 135, 152, 153, 154, 159, 160, 161]),
    st.sampled_from([200, 201, 202, 305, 306, 307, 459, 460, 612, 613]),
)

# Non-GSM BMP letters that are grapheme clusters on their own (Cyrillic, Greek lower case,
# CJK): one UTF-16 unit each and no joining, so the naive formula is exact for them.
simple_ucs2_chars = st.one_of(
    st.characters(min_codepoint=0x0430, max_codepoint=0x044F),
    st.characters(min_codepoint=0x03B1, max_codepoint=0x03C9),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
)

ZWJ_SEQUENCES = [
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # family
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag
    "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # woman technologist, medium skin tone
    "\u2764\ufe0f\u200d\U0001f525",  # heart on fire
    "\U0001f9d1\u200d\U0001f91d\u200d\U0001f9d1",  # people holding hands
]
TAG_FLAGS = [
    "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
]
regional_indicator = st.characters(min_codepoint=0x1F1E6, max_codepoint=0x1F1FF)
combining_mark = st.characters(min_codepoint=0x0300, max_codepoint=0x036F)
emoji_base = st.sampled_from(["\U0001f44d", "\U0001f44b", "\U0001f9d1", "\u270c"])
skin_tone = st.characters(min_codepoint=0x1F3FB, max_codepoint=0x1F3FF)

# Each element is one grapheme cluster; concatenating them never merges two of them
# (no lone regional indicators, no lone CR before an LF, every mark has its own base).
clusters = st.one_of(
    basic_no_cr,
    ext_chars,
    st.just("\r\n"),
    st.sampled_from(["\U0001f600", "\U0001d49c", "\u4e2d", "\u0436"]),  # single code points
    st.tuples(
        st.sampled_from("aeouAEOU\u0436"), st.lists(combining_mark, min_size=1, max_size=3)
    ).map(lambda t: t[0] + "".join(t[1])),
    st.tuples(regional_indicator, regional_indicator).map("".join),
    st.tuples(emoji_base, skin_tone).map("".join),
    st.sampled_from(ZWJ_SEQUENCES),
    st.sampled_from(TAG_FLAGS),
    st.sampled_from("0123456789#*").map(lambda d: d + "\ufe0f\u20e3"),  # keycaps
    st.just("\u2764\ufe0f"),  # variation selector 16
    st.sampled_from(["\u1100\u1161", "\u1100\u1161\u11a8", "\ud55c", "\uac00"]),  # Hangul
    # Devanagari vowel sign (Mc); conjuncts consonant + virama + consonant (GB9c).
    st.sampled_from(["\u0915\u093f", "\u0915\u094d\u0937", "\u0924\u094d\u0930\u093f"]),
    st.just("\u0995\u09cd\u09b7"),  # Bengali conjunct
)
# Mostly GSM so that both encodings get multi-part cases.
gsm_clusters = st.one_of(basic_no_cr, ext_chars, st.just("\r\n"))


def reference_pack(units: list[str], gsm: bool) -> list[str]:
    """Greedy packing of atomic ``units`` (clusters), costs measured by the oracle."""

    def cost(s: str) -> int:
        if gsm:
            encoded = oracle_encode(s)
            assert encoded is not None
            return len(encoded)
        return utf16_units(s)

    text = "".join(units)
    if cost(text) <= (160 if gsm else 70):
        return [text]
    limit = 153 if gsm else 67
    parts: list[str] = []
    current, used = "", 0
    for unit in units:
        n = cost(unit)
        if current and used + n > limit:
            parts.append(current)
            current, used = "", 0
        current += unit
        used += n
    parts.append(current)
    return parts


def check_split_invariants(text: str) -> list[str]:
    parts = split(text)
    info = analyze(text)
    assert info.segments == len(parts)
    assert "".join(parts) == text
    assert all(parts) or parts == [""]
    gsm = is_gsm7(text)
    assert info.encoding == ("GSM-7" if gsm else "UCS-2")
    assert info.per_segment == budget(parts, gsm)
    if gsm:
        whole = oracle_encode(text)
        assert whole is not None
        assert info.units == len(whole)
        encoded = [oracle_encode(p) for p in parts]
        # Each part is valid GSM on its own: an escape pair is never cut in two, so the
        # encoded parts are exactly the pieces of the encoded whole.
        assert all(e is not None for e in encoded)
        pieces = [e for e in encoded if e is not None]
        assert b"".join(pieces) == whole
        assert all(len(e) <= info.per_segment for e in pieces)
        assert not any(e.endswith(b"\x1b") for e in pieces)
    else:
        assert info.units == utf16_units(text)
        for part in parts:
            assert utf16_units(part) <= info.per_segment
            # In UTF-16, no part ends with a high surrogate or starts with a low one.
            code_units = part.encode("utf-16-le", "surrogatepass")
            assert not 0xD800 <= int.from_bytes(code_units[-2:], "little") <= 0xDBFF
            assert not 0xDC00 <= int.from_bytes(code_units[:2], "little") <= 0xDFFF
    # Never fewer parts than the budget allows.
    assert info.segments >= naive_segments(info.units, 160 if gsm else 70, 153 if gsm else 67)
    return parts


# ---------------------------------------------------------------- tables and oracle


def test_tables_match_oracle() -> None:
    assert GSM7_BASIC == ORACLE_BASIC
    assert GSM7_EXTENSION == ORACLE_EXT
    assert len(GSM7_BASIC) == 127  # 128 codes minus the escape
    assert set("€[]{}^~|\\\f") == set(GSM7_EXTENSION)
    assert not GSM7_BASIC & GSM7_EXTENSION


def test_table_positions_match_oracle() -> None:
    for code, char in enumerate(gsm7._BASIC_TABLE):
        if code != 0x1B:
            assert char.encode(CODEC) == bytes([code]), (code, char)
    assert gsm7._EXTENSION_TABLE == ORACLE_EXT_BY_CODE


def test_oracle_quirk_escape_character() -> None:
    # The oracle happily encodes a bare ESC; we treat it as not being text.
    assert ESC.encode(CODEC) == b"\x1b"
    assert not is_gsm7(ESC)
    assert analyze("hi" + ESC).encoding == "UCS-2"


def test_oracle_quirk_at_sign_is_zero_byte() -> None:
    assert "@".encode(CODEC) == b"\x00"
    assert septet_length("@") == 1


@PROPS
@given(mixed_text)
def test_is_gsm7_agrees_with_oracle(text: str) -> None:
    assert is_gsm7(text) == (oracle_encode(text) is not None)


@PROPS
@given(gsm_text)
def test_septet_length_is_oracle_length(text: str) -> None:
    assert septet_length(text) == len(text.encode(CODEC))


@PROPS
@given(mixed_text.filter(lambda t: oracle_encode(t) is None))
def test_septet_length_rejects_non_gsm(text: str) -> None:
    with pytest.raises(ValueError, match="GSM"):
        septet_length(text)


# ---------------------------------------------------------------- analyze vs naive formula


@PROPS
@given(st.text(gsm_chars, max_size=90))
def test_short_gsm_text_is_one_segment(text: str) -> None:
    encoded = text.encode(CODEC)
    if len(encoded) <= 160:
        assert analyze(text) == TextInfo("GSM-7", 1, len(encoded), 160)
        assert split(text) == [text]


@PROPS
@given(lengths.flatmap(lambda n: st.text(basic_no_cr, min_size=n, max_size=n)))
def test_gsm_without_escapes_matches_naive_formula(text: str) -> None:
    # No extension characters and no CR LF pairs: every septet is its own atom, so the
    # escape-pair / grapheme rules cannot change the count.
    n = len(text.encode(CODEC))
    info = analyze(text)
    assert info.units == n
    assert info.segments == naive_segments(n, 160, 153)
    assert info.per_segment == (160 if n <= 160 else 153)


@PROPS
@given(
    st.tuples(
        lengths.flatmap(
            lambda n: st.text(
                st.one_of(simple_ucs2_chars, basic_no_cr), min_size=n // 2, max_size=n // 2
            )
        ),
        simple_ucs2_chars,
        st.integers(min_value=0, max_value=325),
    ).map(lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :])
)
def test_ucs2_single_unit_clusters_match_naive_formula(text: str) -> None:
    n = len(text.encode("utf-16-le")) // 2
    info = analyze(text)
    assert info.encoding == "UCS-2"
    assert info.units == n
    assert info.segments == naive_segments(n, 70, 67)


@PROPS
@given(mixed_text)
def test_units_match_oracles(text: str) -> None:
    info = analyze(text)
    encoded = oracle_encode(text)
    if encoded is not None:
        assert info.units == len(encoded)
    else:
        assert info.units == len(text.encode("utf-16-le")) // 2
        if info.units <= 70:
            assert info.segments == 1


# ---------------------------------------------------------------- split, general case


@PROPS
@given(long_mixed_text)
def test_split_invariants_mixed(text: str) -> None:
    check_split_invariants(text)


@PROPS
@given(st.text(gsm_chars, min_size=140, max_size=600))
def test_split_invariants_gsm_and_greedy_tightness(text: str) -> None:
    parts = check_split_invariants(text)
    if len(parts) > 1:
        for part, nxt in itertools.pairwise(parts):
            # A part only ends early when the next atom (one char, or CR LF) does not fit.
            atom = nxt[:2] if nxt.startswith("\r\n") else nxt[:1]
            assert len((part + atom).encode(CODEC)) > 153


@PROPS
@given(st.lists(st.one_of(clusters, gsm_clusters), max_size=160))
def test_split_never_cuts_a_grapheme_cluster(units: list[str]) -> None:
    text = "".join(units)
    parts = check_split_invariants(text)
    boundaries = {0}
    offset = 0
    for unit in units:
        offset += len(unit)
        boundaries.add(offset)
    offset = 0
    for part in parts:
        offset += len(part)
        assert offset in boundaries
    # And packing is exactly the greedy packing of these clusters.
    assert parts == reference_pack(units, is_gsm7(text))


@PROPS
@given(
    st.lists(
        st.one_of(
            st.text(st.one_of(basic_no_cr, ext_chars), min_size=10, max_size=60).map(list),
            st.just(["\r\n"]),
        ),
        min_size=6,
        max_size=25,
    ).map(lambda chunks: [unit for chunk in chunks for unit in chunk])
)
def test_split_never_cuts_crlf_in_gsm(units: list[str]) -> None:
    text = "".join(units)
    parts = check_split_invariants(text)
    assert parts == reference_pack(units, True)


@PROPS
@given(
    st.text(st.one_of(basic_no_cr, ext_chars), min_size=70, max_size=160),
    st.text(st.one_of(basic_no_cr, ext_chars), max_size=40),
)
def test_crlf_near_a_part_edge(head: str, tail: str) -> None:
    # Puts CR LF around septet 140..160, where a part boundary may fall between them.
    units = [*head, "\r\n", *tail]
    parts = check_split_invariants("".join(units))
    assert parts == reference_pack(units, True)
    assert not any(part.endswith("\r") for part in parts)


@PROPS
@given(st.lists(st.one_of(clusters, simple_ucs2_chars), min_size=20, max_size=120))
def test_split_never_cuts_a_grapheme_cluster_ucs2(units: list[str]) -> None:
    text = "".join(units)
    parts = check_split_invariants(text)
    assert parts == reference_pack(units, is_gsm7(text))


@PROPS
@given(
    st.lists(
        st.one_of(st.just("\ud83d\ude00"), st.just("\ud83c\udf89"), simple_ucs2_chars),
        min_size=30,
        max_size=120,
    )
)
def test_surrogate_pairs_held_as_two_code_points_stay_together(units: list[str]) -> None:
    # A str can carry a surrogate pair as two code points (e.g. after surrogatepass
    # decoding); the splitter keeps such a pair in one part.
    text = "".join(units)
    parts = check_split_invariants(text)
    for part in parts:
        assert not ("\ud800" <= part[-1] <= "\udbff")
        assert not ("\udc00" <= part[0] <= "\udfff")
    assert parts == reference_pack(units, False)


@PROPS
@given(
    st.text(st.one_of(simple_ucs2_chars, basic_no_cr), max_size=80),
    st.integers(min_value=70, max_value=250),  # cluster of > 67 units
    st.text(st.one_of(simple_ucs2_chars, basic_no_cr), max_size=80),
)
def test_oversized_cluster_is_cut_at_code_points(prefix: str, marks: int, suffix: str) -> None:
    text = prefix + "ж" + "\u0301" * marks + suffix
    parts = check_split_invariants(text)
    assert len(parts) >= 2
    # Every code point here is one unit and the only multi-code-point cluster is oversized,
    # so the parts are a plain greedy packing of the code points.
    assert parts == reference_pack(list(text), False)


# ---------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units", "per_segment"),
    [
        ("", "GSM-7", 1, 0, 160),
        ("a" * 160, "GSM-7", 1, 160, 160),
        ("a" * 161, "GSM-7", 2, 161, 153),
        ("a" * 306, "GSM-7", 2, 306, 153),
        ("a" * 307, "GSM-7", 3, 307, 153),
        ("€", "GSM-7", 1, 2, 160),
        ("a" * 158 + "€", "GSM-7", 1, 160, 160),
        ("a" * 159 + "€", "GSM-7", 2, 161, 153),
        ("ж" * 70, "UCS-2", 1, 70, 70),
        ("ж" * 71, "UCS-2", 2, 71, 67),
        ("\U0001f600", "UCS-2", 1, 2, 70),
        ("\U0001f600" * 35, "UCS-2", 1, 70, 70),
        ("\U0001f600" * 36, "UCS-2", 2, 72, 67),
        ("\U0001f600" * 67, "UCS-2", 3, 134, 67),  # naive ceil(134/67) = 2; 33 per part
        ("a" * 69 + "é", "GSM-7", 1, 70, 160),  # é is in the GSM table
        ("a" * 69 + "ç", "UCS-2", 1, 70, 70),  # ç is not
        ("€" * 80, "GSM-7", 1, 160, 160),
        ("€" * 153, "GSM-7", 3, 306, 153),  # naive ceil(306/153) = 2; 76 € per part
    ],
)
def test_analyze_examples(
    text: str, encoding: str, segments: int, units: int, per_segment: int
) -> None:
    assert analyze(text) == TextInfo(encoding, segments, units, per_segment)  # type: ignore[arg-type]
    assert len(split(text)) == segments


def test_empty_text_is_one_empty_segment() -> None:
    assert split("") == [""]


def test_escape_pair_is_not_split() -> None:
    text = "a" * 152 + "€" + "b" * 10
    assert split(text) == ["a" * 152, "€" + "b" * 10]


def test_crlf_is_not_split() -> None:
    text = "a" * 152 + "\r\n" + "b" * 10
    assert split(text) == ["a" * 152, "\r\n" + "b" * 10]


def test_flag_is_not_split() -> None:
    flag = "\U0001f1fa\U0001f1f8"
    assert analyze("ж" * 66 + flag).segments == 1
    assert split("ж" * 66 + flag + "ж") == ["ж" * 66, flag + "ж"]


def test_regional_indicators_pair_from_the_left() -> None:
    ri = "\U0001f1e6"
    # Clusters: 62 x [ж] (62 units), [RI RI] (4), [RI] (2), ... -> the pair fits, the
    # third does not (62 + 4 + 2 > 67). Pairing from the right would put only one RI first.
    text = "ж" * 62 + ri * 3 + "ж" * 10
    assert split(text) == ["ж" * 62 + ri * 2, ri + "ж" * 10]


def test_zwj_family_is_not_split() -> None:
    family = ZWJ_SEQUENCES[0]  # 11 UTF-16 units
    parts = split("ж" * 60 + family)
    assert parts == ["ж" * 60, family]


def test_skin_tone_and_combining_mark_are_not_split() -> None:
    thumbs = "\U0001f44d\U0001f3fd"
    assert split("ж" * 65 + thumbs + "ж" * 5) == ["ж" * 65, thumbs + "ж" * 5]
    accented = "e\u0301"
    assert split("ж" * 66 + accented + "ж" * 5) == ["ж" * 66, accented + "ж" * 5]


def test_indic_conjunct_is_not_split() -> None:
    ksha = "\u0915\u094d\u0937"  # क्ष: consonant + virama + consonant
    assert split("ж" * 65 + ksha + "ж" * 5) == ["ж" * 65, ksha + "ж" * 5]
    # Tamil virama is not a conjunct linker (Unicode 15.1 InCB): break after it.
    tamil = "\u0b95\u0bcd\u0bb7"
    assert split("ж" * 65 + tamil + "ж" * 5) == ["ж" * 65 + tamil[:2], tamil[2] + "ж" * 5]


def test_oversized_cluster_fills_parts_by_code_point() -> None:
    text = "e" + "\u0301" * 200
    parts = split(text)
    assert [len(p) for p in parts] == [67, 67, 67]
    assert analyze(text).segments == 3


def test_oversized_zwj_chain_never_splits_astral_characters() -> None:
    text = "x" + "\u200d\U0001f600" * 40  # one cluster of 121 units
    parts = split(text)
    assert "".join(parts) == text
    assert all(utf16_units(p) <= 67 for p in parts)
    assert all(p.encode("utf-16-le").decode("utf-16-le") == p for p in parts)


def test_text_info_is_frozen() -> None:
    info = analyze("hello")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.segments = 2  # type: ignore[misc]


def test_max_body_chars() -> None:
    assert MAX_BODY_CHARS == 1600
    body = ("Your code is 123456 [ok] € " * 100)[:MAX_BODY_CHARS]
    check_split_invariants(body)
    check_split_invariants(("Код 123456 \U0001f44d\U0001f3fd " * 200)[:MAX_BODY_CHARS])
