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


def canonical_json(value: Any) -> bytes:
    """Serialize `value` once, in the canonical form every SDK reproduces."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def python_canonical(value: Any) -> bytes:
    """What the Python SDK computes from a parsed response (used to cross-check in tests)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
