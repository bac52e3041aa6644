"""Lenient request-field parsing (client protocol 0.2, 0.4, 0.5)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licentia.domain.codes import Code
from licentia.domain.errors import ProtocolError
from licentia.domain.fields import (
    FieldSpec,
    coerce_int,
    parse_fields,
    valid_email,
    valid_ip,
    violates_identity_text,
    violates_stored_content,
)

SID = FieldSpec("sid", synonyms=("hwid",), max_len=256, identity_text=True)
IP = FieldSpec("ip", synonyms=("ip_address",))
KEY = FieldSpec("key", required=True, synonyms=("license_key",))
USERNAME = FieldSpec("username", required=True, max_len=64, identity_text=True, stored_content=True)
PASSWORD = FieldSpec("password", required=True, trim=False, max_len=256)
EMAIL = FieldSpec("email", max_len=254, email=True, identity_text=True, stored_content=True)
VAR_VALUE = FieldSpec("var_value", required=True, trim=False, allow_empty=True, stored_content=True)
MESSAGE = FieldSpec("message", required=True, trim=False, max_bytes=8, stored_content=True)
LIMIT = FieldSpec("limit", kind="int")
VERSION = FieldSpec("version", required=True, max_len=32, identity_text=True)

CONTROL_CHARS = [chr(c) for c in range(0x20)]
STORED_FORBIDDEN = [*(c for c in CONTROL_CHARS if c not in "\t\n\r"), "\u0085", "\u2028", "\u2029"]


def error_of(body: dict[str, Any], *specs: FieldSpec) -> tuple[Code, list[str] | None]:
    with pytest.raises(ProtocolError) as info:
        parse_fields(body, specs)
    return info.value.code, info.value.fields


def parse1(spec: FieldSpec, value: Any) -> Any:
    return parse_fields({spec.name: value}, (spec,)).get(spec.name)


def is_invalid(spec: FieldSpec, value: Any) -> bool:
    try:
        parse_fields({spec.name: value}, (spec,))
    except ProtocolError as err:
        assert err.code == Code.INVALID_INPUT
        assert err.fields == [spec.name]
        return True
    return False


# -- missing / invalid reporting -------------------------------------------------------------


def test_missing_fields_reported_together_sorted() -> None:
    specs = (VERSION, USERNAME, KEY, PASSWORD)
    code, fields = error_of({}, *specs)
    assert code == Code.MISSING_FIELDS
    assert fields == ["key", "password", "username", "version"]


def test_missing_takes_precedence_over_invalid() -> None:
    code, fields = error_of({"username": "a<b", "key": None}, USERNAME, KEY)
    assert (code, fields) == (Code.MISSING_FIELDS, ["key"])


def test_invalid_fields_reported_together_sorted() -> None:
    body = {"version": "x" * 33, "username": "a&b", "limit": "ten", "sid": {"a": 1}}
    code, fields = error_of(body, VERSION, USERNAME, LIMIT, SID)
    assert code == Code.INVALID_INPUT
    assert fields == ["limit", "sid", "username", "version"]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="null"),
        pytest.param("", id="empty"),
        pytest.param(" \t\r\n ", id="whitespace-only"),
    ],
)
def test_absent_null_and_blank_are_missing(value: Any) -> None:
    assert error_of({"username": value}, USERNAME) == (Code.MISSING_FIELDS, ["username"])


def test_optional_absent_or_null_is_left_out() -> None:
    assert parse_fields({"sid": None, "limit": None}, (SID, LIMIT)) == {}
    assert parse_fields({}, (SID, LIMIT, EMAIL)) == {}


def test_untrimmed_field_keeps_whitespace_and_is_present() -> None:
    assert parse1(PASSWORD, "  secret \n") == "  secret \n"
    assert parse1(PASSWORD, "   ") == "   "


def test_var_value_may_be_empty_but_not_null() -> None:
    assert parse_fields({"var_value": ""}, (VAR_VALUE,)) == {"var_value": ""}
    assert error_of({"var_value": None}, VAR_VALUE) == (Code.MISSING_FIELDS, ["var_value"])
    assert error_of({}, VAR_VALUE) == (Code.MISSING_FIELDS, ["var_value"])


def test_unknown_fields_are_ignored() -> None:
    body = {"username": "mara", "owner_id": "x", "hash": "y", "nonce": "z"}
    assert parse_fields(body, (USERNAME,)) == {"username": "mara"}


# -- synonyms (0.4) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"sid": "A", "hwid": "B"}, "A", id="canonical-wins"),
        pytest.param({"hwid": "B"}, "B", id="synonym-only"),
        pytest.param({"sid": "", "hwid": "B"}, "B", id="canonical-empty"),
        pytest.param({"sid": " \t\r\n", "hwid": " B "}, "B", id="canonical-blank"),
        pytest.param({"sid": None, "hwid": "B"}, "B", id="canonical-null"),
        pytest.param({"sid": " A ", "hwid": None}, "A", id="synonym-null"),
        pytest.param({"sid": 0, "hwid": "B"}, "0", id="canonical-number"),
    ],
)
def test_synonyms(body: dict[str, Any], expected: str) -> None:
    assert parse_fields(body, (SID,)) == {"sid": expected}


def test_synonym_reported_under_canonical_name() -> None:
    assert error_of({"hwid": "a<b"}, SID) == (Code.INVALID_INPUT, ["sid"])
    assert error_of({"license_key": ""}, KEY) == (Code.MISSING_FIELDS, ["key"])
    assert parse_fields({"license_key": " K-1 "}, (KEY,)) == {"key": "K-1"}
    assert parse_fields({"ip_address": "1.2.3.4", "ip": ""}, (IP,)) == {"ip": "1.2.3.4"}


def test_synonym_not_used_for_other_fields() -> None:
    assert error_of({"hwid": "B"}, USERNAME) == (Code.MISSING_FIELDS, ["username"])


# -- integers (0.2) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(100, 100, id="int"),
        pytest.param("100", 100, id="digit-string"),
        pytest.param("-5", -5, id="negative-string"),
        pytest.param("007", 7, id="leading-zeros"),
        pytest.param(50.0, 50, id="zero-fraction"),
        pytest.param(-3.0, -3, id="negative-zero-fraction"),
        pytest.param("123456789012345", 123456789012345, id="15-digits"),
        pytest.param(10**18, 10**18, id="json-integer-any-size"),
        pytest.param(0, 0, id="zero"),
    ],
)
def test_integer_coercion_accepts(value: Any, expected: int) -> None:
    assert parse1(LIMIT, value) == expected
    assert isinstance(parse1(LIMIT, value), int)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(50.5, id="fraction"),
        pytest.param(float("inf"), id="inf"),
        pytest.param(float("nan"), id="nan"),
        pytest.param("1e3", id="exponent-string"),
        pytest.param("50.0", id="decimal-string"),
        pytest.param("+5", id="plus-sign"),
        pytest.param("1 000", id="inner-space"),
        pytest.param("0x10", id="hex"),
        pytest.param("١٢", id="non-ascii-digits"),
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param("true", id="true-string"),
        pytest.param("1234567890123456", id="16-digits"),
        pytest.param("-", id="sign-only"),
        pytest.param([1], id="array"),
        pytest.param({"n": 1}, id="object"),
    ],
)
def test_integer_coercion_refuses(value: Any) -> None:
    assert is_invalid(LIMIT, value)


@given(st.integers(min_value=-(10**15 - 1), max_value=10**15 - 1))
def test_integer_text_round_trip(number: int) -> None:
    assert coerce_int(str(number)) == number
    assert coerce_int(float(number)) == number


# -- strings from other JSON types (0.2) -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(12345, "12345", id="int"),
        pytest.param(-7, "-7", id="negative"),
        pytest.param(1.5, "1.5", id="float"),
        pytest.param(True, "true", id="true"),
        pytest.param(False, "false", id="false"),
    ],
)
def test_strings_from_numbers_and_booleans(value: Any, expected: str) -> None:
    assert parse1(SID, value) == expected


@pytest.mark.parametrize("value", [{}, {"a": "b"}, [], ["a"]], ids=["{}", "object", "[]", "array"])
def test_object_or_array_in_string_field_is_invalid(value: Any) -> None:
    assert is_invalid(SID, value)
    assert is_invalid(PASSWORD, value)


# -- trimming (0.5) ----------------------------------------------------------------------------


def test_trims_space_tab_cr_lf_only() -> None:
    assert parse1(SID, " \t\r\nHW-1\n\r\t ") == "HW-1"
    assert parse1(SID, "\u00a0HW-1\u00a0") == "\u00a0HW-1\u00a0"  # NBSP is not trimmed
    assert parse1(SID, "HW 1") == "HW 1"  # inner space kept


def test_length_checked_after_trimming() -> None:
    assert parse1(VERSION, "  " + "1" * 32 + "  ") == "1" * 32
    assert is_invalid(VERSION, "1" * 33)


# -- identity text and stored content (0.5) ----------------------------------------------------


@pytest.mark.parametrize("char", list("<>&='"))
def test_identity_text_refuses_markup_characters(char: str) -> None:
    assert violates_identity_text(f"a{char}b")
    assert is_invalid(USERNAME, f"a{char}b")
    assert is_invalid(SID, f"a{char}b")
    assert is_invalid(VERSION, f"1.0{char}")


@pytest.mark.parametrize(
    "char",
    [c for c in CONTROL_CHARS if c not in "\t\n\r"] + ["\u0085", "\u2028", "\u2029"],
    ids=repr,
)
def test_identity_text_refuses_unsendable_controls_inside(char: str) -> None:
    # 0.5 plus the stored-content characters: an echoed profile must stay SDK-safe (0.13).
    assert violates_identity_text(f"a{char}b")
    assert is_invalid(SID, f"a{char}b")


@pytest.mark.parametrize("char", ["\t", "\n", "\r"], ids=repr)
def test_identity_text_allows_tab_and_newlines_inside(char: str) -> None:
    # 0.5 forbids only < > & = ' in identity text; TAB, LF and CR escape cleanly (0.11).
    assert not violates_identity_text(f"a{char}b")
    assert parse1(SID, f"a{char}b") == f"a{char}b"


@pytest.mark.parametrize("value", ["mara", "Мара", "über_user", "a.b-c+d@e", "a\x7fb", "😀"])
def test_identity_text_allows_other_characters(value: str) -> None:
    assert not violates_identity_text(value)
    assert parse1(USERNAME, value) == value


@pytest.mark.parametrize("char", STORED_FORBIDDEN, ids=repr)
def test_stored_content_refuses(char: str) -> None:
    assert violates_stored_content(f"a{char}b")
    assert is_invalid(VAR_VALUE, f"a{char}b")


@pytest.mark.parametrize("value", ["a\tb", "a\nb", "a\rb", "<b>&='", "a\x7fb", "é😀"], ids=repr)
def test_stored_content_allows(value: str) -> None:
    assert not violates_stored_content(value)
    assert parse1(VAR_VALUE, value) == value


def test_stored_content_rule_applies_to_trimmed_identity_fields_too() -> None:
    assert is_invalid(USERNAME, "a\x00b")


def test_lone_surrogate_is_invalid() -> None:
    assert is_invalid(PASSWORD, "pw\ud800")
    assert is_invalid(SID, "\udfff")


# -- email, lengths, bytes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("mara@example.com", True),
        ("a@b", True),
        ("  a@b  ", True),  # trimmed first
        ("mara", False),
        ("@example.com", False),
        ("mara@", False),
        ("a@b@c", False),
        ("a b@c", False),
        ("a@b\u00a0c", False),
        ("a@" + "b" * 252, True),  # 254 characters
        ("a@" + "b" * 253, False),  # 255 characters
    ],
)
def test_email_rule(value: str, ok: bool) -> None:
    assert is_invalid(EMAIL, value) is not ok


def test_valid_email_length_limit() -> None:
    assert valid_email("a@" + "b" * 252)  # 254 characters
    assert not valid_email("a@" + "b" * 253)


def test_max_bytes_counts_utf8_bytes() -> None:
    assert parse1(MESSAGE, "12345678") == "12345678"
    assert is_invalid(MESSAGE, "123456789")
    assert parse1(MESSAGE, "éééé") == "éééé"  # 8 bytes
    assert is_invalid(MESSAGE, "ééééé")  # 10 bytes, 5 code points
    assert is_invalid(MESSAGE, "12345678😀")


def test_max_len_counts_code_points() -> None:
    spec = FieldSpec("channel_name", required=True, max_len=3)
    assert parse1(spec, "😀😀😀") == "😀😀😀"
    assert is_invalid(spec, "😀😀😀😀")


def test_min_len() -> None:
    spec = FieldSpec("new_password", required=True, trim=False, min_len=4)
    assert is_invalid(spec, "abc")
    assert parse1(spec, "abcd") == "abcd"


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 1.2.3.4 ", "1.2.3.4"),
        ("2001:DB8::1", "2001:db8::1"),
        ("", ""),
        ("UNKNOWN_IP", ""),
        ("1.2.3.256", ""),
    ],
)
def test_valid_ip(value: str, normalised: str) -> None:
    assert valid_ip(value) == normalised


def test_advisory_field_is_never_rejected() -> None:
    spec = FieldSpec("ip", synonyms=("ip_address",), max_len=64, advisory=True)
    assert parse_fields({"ip": {"a": 1}}, (spec,)) == {}
    assert parse_fields({"ip": "x" * 65}, (spec,)) == {}
    assert parse_fields({"ip_address": " 1.2.3.4 "}, (spec,)) == {"ip": "1.2.3.4"}
    # An advisory field does not hide the other fields' errors.
    assert error_of({"ip": [], "sid": "a<b"}, spec, SID) == (Code.INVALID_INPUT, ["sid"])
