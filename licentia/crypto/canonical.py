"""Canonical JSON of signed responses (client protocol 0.11).

Keys sorted by code point, compact separators, raw UTF-8, integers only. The only escapes
written are `\\"`, `\\\\`, `\\n`, `\\r` and `\\t`: no `\\uXXXX` ever (the C++ SDK turns each
into `?`). Other control characters are refused before they get here (0.5, 0.13); a value that
would need another escape raises `ValueError`, which the envelope turns into `INTERNAL`.
"""

from __future__ import annotations

import json
from typing import Any

MAX_SAFE_INT = 2**53 - 1

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_FORBIDDEN = {chr(c) for c in range(0x20)} - {"\n", "\r", "\t"}


def _encode_str(value: str) -> str:
    out = []
    for ch in value:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch in _FORBIDDEN:
            raise ValueError("control character in response string")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _needs_slow_path(value: str) -> bool:
    return any(ch in _ESCAPES or ch in _FORBIDDEN for ch in value)


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_str(value) if _needs_slow_path(value) else '"' + value + '"')
    elif isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise ValueError("integer outside the safe range")
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key in sorted(value):
            if not isinstance(key, str) or not key.isascii():
                raise ValueError("object keys must be ASCII strings")
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(key))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise ValueError(f"type not allowed in a signed response: {type(value).__name__}")


def _check(value: Any) -> None:
    """The type rules of `_encode` without building text: refuse what it would refuse."""
    if value is None or value is True or value is False or isinstance(value, str):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise ValueError("integer outside the safe range")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise ValueError("object keys must be ASCII strings")
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)
    else:
        raise ValueError(f"type not allowed in a signed response: {type(value).__name__}")


_FAST = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
# The only escapes the C encoder writes beyond ours are for control characters, which the
# canonical form refuses; any sign of one (or a literal backslash before u, b or f, which
# only looks like one) sends the value through the exact encoder above.
_SUSPECT = ("\\u", "\\b", "\\f")


def canonical_json(value: Any) -> bytes:
    """Serialize `value` once, in the canonical form every SDK reproduces.

    The C JSON encoder writes the same bytes for every value the canonical form allows (keys
    sorted by code point, compact, raw UTF-8, the five short escapes); `_check` enforces the
    type rules first, and any text the two forms could disagree on takes the exact encoder.
    """
    _check(value)
    text = _FAST.encode(value)
    if "\\" in text and any(mark in text for mark in _SUSPECT):
        out: list[str] = []
        _encode(value, out)
        text = "".join(out)
    return text.encode("utf-8")


def python_canonical(value: Any) -> bytes:
    """What the Python SDK computes from a parsed response (used to cross-check in tests)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
