"""`textsafe`: the characters no database stores become U+FFFD, nothing else changes."""

from __future__ import annotations

import pytest

from licentia.store.textsafe import clean_parameters, storable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a\x00b", "a\ufffdb"),
        ("\ud800x\udfff", "\ufffdx\ufffd"),
        ("caf\u00e9 \uffff \U0001f600", "caf\u00e9 \uffff \U0001f600"),
        ("\x00\ud83d", "\ufffd\ufffd"),
    ],
)
def test_storable(text: str, expected: str) -> None:
    assert storable(text) == expected
    storable(text).encode("utf-8")  # always encodable


def test_parameters_keep_their_shape_and_identity() -> None:
    clean = ("a", 1, b"\x00", None)
    assert clean_parameters(clean, False) is clean
    assert clean_parameters(("a\x00", 1), False) == ("a\ufffd", 1)
    assert clean_parameters({"x": "\ud800", "y": 2}, False) == {"x": "\ufffd", "y": 2}
    many = [("a",), ("b\x00",)]
    assert clean_parameters(many, True) == [("a",), ("b\ufffd",)]
    untouched = [{"x": "a"}]
    assert clean_parameters(untouched, True) is untouched
