"""Canonical JSON of signed responses (client protocol 0.11, 0.13)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licentia.crypto.canonical import MAX_SAFE_INT, canonical_json, python_canonical

# C0 controls the encoder refuses: everything below U+0020 except TAB, LF and CR.
FORBIDDEN = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")
ALLOWED_ESCAPES = frozenset('"\\nrt')


def reference(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


safe_ints = st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
# Any code point except surrogates (not encodable) and the forbidden controls. U+0085, U+2028
# and U+2029 are deliberately included: the encoder accepts them (0.5 refuses them earlier).
safe_text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters=FORBIDDEN))
ascii_keys = st.text(
    alphabet=st.characters(max_codepoint=0x7F, exclude_characters=FORBIDDEN), max_size=12
)
leaves = st.none() | st.booleans() | safe_ints | safe_text
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(ascii_keys, children, max_size=5)
    ),
    max_leaves=15,
)


def escapes_of(text: str) -> list[str]:
    """The character following each escaping backslash in JSON text."""
    found: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == "\\":
            found.append(text[index + 1])
            index += 2
        else:
            index += 1
    return found


@settings(max_examples=150)
@given(json_values)
def test_matches_python_json_round_trips_and_never_escapes_unicode(obj: Any) -> None:
    out = canonical_json(obj)
    assert out == reference(obj)
    assert out == python_canonical(obj)
    assert json.loads(out) == obj
    assert set(escapes_of(out.decode("utf-8"))) <= ALLOWED_ESCAPES


@given(st.dictionaries(ascii_keys, safe_ints, max_size=8))
def test_keys_sorted_by_code_point_and_compact(obj: dict[str, int]) -> None:
    parsed = json.loads(canonical_json(obj), object_pairs_hook=lambda pairs: pairs)
    assert [key for key, _ in parsed] == sorted(obj)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            {"b": 1, "a": [True, False, None]}, b'{"a":[true,false,null],"b":1}', id="sorted"
        ),
        pytest.param({"Z": 1, "_": 2, "a": 3}, b'{"Z":1,"_":2,"a":3}', id="code-point-order"),
        pytest.param({"a": {"d": 1, "c": 2}}, b'{"a":{"c":2,"d":1}}', id="recursive"),
        pytest.param("a/b", b'"a/b"', id="slash-not-escaped"),
        pytest.param('q"b\\', b'"q\\"b\\\\"', id="quote-backslash"),
        pytest.param("l\nc\rt\t", b'"l\\nc\\rt\\t"', id="lf-cr-tab"),
        pytest.param("é€😀", '"é€😀"'.encode(), id="raw-utf8"),
        pytest.param("\u0085\u2028\u2029", '"\u0085\u2028\u2029"'.encode(), id="nel-ls-ps-raw"),
        pytest.param("\x7f", b'"\x7f"', id="del-raw"),
        pytest.param(MAX_SAFE_INT, b"9007199254740991", id="max-int"),
        pytest.param(-MAX_SAFE_INT, b"-9007199254740991", id="min-int"),
        pytest.param(0, b"0", id="zero"),
        pytest.param((1, "x"), b'[1,"x"]', id="tuple-as-array"),
        pytest.param({}, b"{}", id="empty-object"),
        pytest.param([], b"[]", id="empty-array"),
    ],
)
def test_examples(value: Any, expected: bytes) -> None:
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1.0, id="float-integral"),
        pytest.param(0.5, id="float"),
        pytest.param(float("nan"), id="nan"),
        pytest.param({"a": [1, 2.5]}, id="nested-float"),
        pytest.param(MAX_SAFE_INT + 1, id="int-too-big"),
        pytest.param(-MAX_SAFE_INT - 1, id="int-too-small"),
        pytest.param({"é": 1}, id="non-ascii-key"),
        pytest.param({"a": {"ключ": 1}}, id="nested-non-ascii-key"),
        pytest.param({1: "a"}, id="int-key"),
        pytest.param({"a\x01": 1}, id="control-in-key"),
        pytest.param("\x00", id="nul"),
        pytest.param("a\x0bb", id="vertical-tab"),
        pytest.param("\x1f", id="unit-separator"),
        pytest.param({"k": ["ok", "bad\x08"]}, id="nested-backspace"),
        pytest.param("\ud800", id="lone-surrogate"),
        pytest.param(b"bytes", id="bytes"),
        pytest.param({1, 2}, id="set"),
        pytest.param(object(), id="object"),
    ],
)
def test_refuses_values_outside_the_subset(value: Any) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


@given(safe_text, st.sampled_from(FORBIDDEN), safe_text)
def test_any_forbidden_control_is_refused(before: str, bad: str, after: str) -> None:
    with pytest.raises(ValueError):
        canonical_json({"message": before + bad + after})


@given(st.integers(min_value=1), st.booleans())
def test_any_out_of_range_int_is_refused(excess: int, negative: bool) -> None:
    number = MAX_SAFE_INT + excess
    with pytest.raises(ValueError):
        canonical_json([-number if negative else number])


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_is_refused(number: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"n": number})


@given(
    st.text(alphabet=st.characters(min_codepoint=0x80, exclude_categories=["Cs"]), min_size=1),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=4),
)
def test_any_non_ascii_key_is_refused(non_ascii: str, ascii_part: str) -> None:
    with pytest.raises(ValueError):
        canonical_json({ascii_part + non_ascii: 1})
