"""Version comparison as init's version control reads it (client protocol 2.1 step 8).

Strip a leading `v`, drop everything from the first `-` or `+`, split on `.`, take the first
three parts, read each part's leading digits (none counts as 0; missing parts count as 0).
"""

from __future__ import annotations

import re

_LEADING_DIGITS = re.compile(r"\d*")


def version_key(version: str) -> tuple[int, int, int]:
    text = version.strip()
    if text.startswith("v"):
        text = text[1:]
    for sep in ("-", "+"):
        index = text.find(sep)
        if index >= 0:
            text = text[:index]
    parts = text.split(".")[:3]
    numbers: list[int] = []
    for part in parts:
        match = _LEADING_DIGITS.match(part)
        digits = match.group(0) if match else ""
        numbers.append(int(digits) if digits else 0)
    while len(numbers) < 3:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older than, equal to or newer than `b`."""
    ka, kb = version_key(a), version_key(b)
    return (ka > kb) - (ka < kb)
