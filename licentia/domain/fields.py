"""Lenient request-field parsing of the client protocol (0.2, 0.4, 0.5).

A `FieldSpec` says how one canonical field is read: synonyms, trimming, type, limits and the
character rules. `parse_fields` reports every missing field together (`MISSING_FIELDS`), then
every invalid one (`INVALID_INPUT`), with canonical names sorted.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from licentia.domain.codes import Code
from licentia.domain.errors import ProtocolError

_TRIM = " \t\r\n"
_INT_TEXT = re.compile(r"-?[0-9]{1,15}")
_IDENTITY_FORBIDDEN = frozenset("<>&='")
_STORED_FORBIDDEN = frozenset(
    [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\u0085", "\u2028", "\u2029"]
)
# Identity text is echoed in signed profiles, so besides `< > & = '` it holds no character the
# stored-content rule refuses (TAB, LF and CR escape cleanly; other controls could not be sent
# in the SDK-safe form of 0.13).
_IDENTITY_CONTROL = _STORED_FORBIDDEN


def violates_identity_text(value: str) -> bool:
    return any(ch in _IDENTITY_FORBIDDEN or ch in _IDENTITY_CONTROL for ch in value)


def violates_stored_content(value: str) -> bool:
    return any(ch in _STORED_FORBIDDEN for ch in value)


def valid_email(value: str) -> bool:
    if len(value) > 254 or any(ch.isspace() for ch in value):
        return False
    local, at, domain = value.partition("@")
    return bool(at) and bool(local) and bool(domain) and "@" not in domain


def valid_ip(value: str) -> str:
    """The normalised address, or `""` for anything that is not an IP address."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    required: bool = False
    kind: str = "str"  # str | int
    synonyms: tuple[str, ...] = ()
    trim: bool = True
    max_len: int | None = None
    min_len: int = 0
    max_bytes: int | None = None
    identity_text: bool = False
    stored_content: bool = False
    allow_empty: bool = False  # var_value: "" is a value, not missing
    email: bool = False
    # Advisory fields (`ip`, `hash`) are never rejected: an unusable value is ignored.
    advisory: bool = False


class _Invalid(Exception):
    pass


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise _Invalid


def coerce_int(value: Any) -> int:
    """Integer fields: a JSON integer, a number with zero fraction, or `-?` + 1-15 digits."""
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _Invalid
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        return int(value)
    raise _Invalid


def _raw(body: dict[str, Any], spec: FieldSpec) -> Any:
    """The value of the canonical name, else of the first present synonym (0.4)."""
    for name in (spec.name, *spec.synonyms):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, str) and not (value.strip(_TRIM) if spec.trim else value):
            continue
        return value
    return None


def parse_fields(body: dict[str, Any], specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    missing: list[str] = []
    invalid: list[str] = []
    for spec in specs:
        raw = _raw(body, spec)
        if raw is None:
            if spec.allow_empty and body.get(spec.name) == "":
                values[spec.name] = ""
                continue
            if spec.required:
                missing.append(spec.name)
            continue
        try:
            values[spec.name] = _check(spec, raw)
        except _Invalid:
            if not spec.advisory:
                invalid.append(spec.name)
    if missing:
        raise ProtocolError(Code.MISSING_FIELDS, fields=missing)
    if invalid:
        raise ProtocolError(Code.INVALID_INPUT, fields=invalid)
    return values


def _check(spec: FieldSpec, raw: Any) -> Any:
    if spec.kind == "int":
        return coerce_int(raw)
    text = _as_text(raw)
    if spec.trim:
        text = text.strip(_TRIM)
    if spec.max_len is not None and len(text) > spec.max_len:
        raise _Invalid
    if len(text) < spec.min_len:
        raise _Invalid
    if spec.max_bytes is not None and len(text.encode("utf-8", "surrogatepass")) > spec.max_bytes:
        raise _Invalid
    if spec.identity_text and violates_identity_text(text):
        raise _Invalid
    if spec.stored_content and violates_stored_content(text):
        raise _Invalid
    if spec.email and text and not valid_email(text):
        raise _Invalid
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise _Invalid  # lone surrogates cannot be stored or sent as UTF-8
    return text
