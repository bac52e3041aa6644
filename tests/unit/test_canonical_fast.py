"""The C-encoder path of `canonical_json` writes exactly what the character-exact encoder does."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from licentia.crypto.canonical import _encode, canonical_json

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
KEYS = st.text(alphabet=st.characters(max_codepoint=127), max_size=8)
LEAF = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | TEXT | st.floats()
VALUES = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4)
)


def _exact(value: Any) -> bytes | None:
    out: list[str] = []
    try:
        _encode(value, out)
        return "".join(out).encode("utf-8")
    except ValueError:
        return None


@given(VALUES)
def test_fast_path_matches_exact_encoder(value: Any) -> None:
    expected = _exact(value)
    try:
        got: bytes | None = canonical_json(value)
    except ValueError:
        got = None
    assert got == expected


def test_backslash_before_u_b_f_is_kept_literal() -> None:
    value = {"a": "C:\\users\\bin\\f", "b": "\\u0041"}
    assert canonical_json(value) == _exact(value)
    assert canonical_json(value) == b'{"a":"C:\\\\users\\\\bin\\\\f","b":"\\\\u0041"}'
