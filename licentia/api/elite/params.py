"""Parameters of an Elite Key call (management A.3): sources, key placement, typed reads.

Query values are strings, and an empty query value counts as absent. A JSON body keeps its
types; a JSON `null` is an explicit "no value" (`Params.nullable`), otherwise absent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from licentia.domain.timeutil import parse_iso
from licentia.services.admin_common import INT32_MAX, AdminError, parse_bool

_INT_TEXT = re.compile(r"\s*[-+]?\d{1,15}\s*")

#: JSON `null` marker kept in the merged parameters.
NULL: Any = object()


def missing(name: str, detail: str | None = None) -> AdminError:
    return AdminError("MISSING_FIELDS", detail or f"Missing required parameter: {name}", [name])


def bad(name: str, detail: str) -> AdminError:
    return AdminError("INVALID_INPUT", detail, [name])


@dataclass
class RawRequest:
    """What the router extracted before the key check: the key and the merged parameters."""

    elite_key: str | None
    values: dict[str, Any] = field(default_factory=dict)
    body_error: str | None = None


def _parse_body(body: bytes, content_type: str) -> tuple[dict[str, Any], str | None]:
    text = body.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if not stripped:
        return {}, None
    if "json" in content_type.lower() or stripped.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}, "the request body is not valid JSON"
        if not isinstance(data, dict):
            return {}, "the JSON body must be an object"
        return {str(k): (NULL if v is None else v) for k, v in data.items()}, None
    out: dict[str, Any] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        out.setdefault(name, value)
    return out, None


def extract(
    query_string: bytes, body: bytes, content_type: str, header_key: str | None
) -> RawRequest:
    """Merge query and body (body wins) and take the Elite Key from where A.2 says."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    body_values, body_error = _parse_body(body, content_type)
    elite_key: str | None = None
    query: dict[str, Any] = {}
    key_taken = False
    if header_key:
        elite_key = header_key
        key_taken = True
    for name, value in pairs:
        if name == "key" and not key_taken:
            elite_key = value
            key_taken = True
            continue
        if value == "":
            continue  # an empty query value counts as absent
        query.setdefault(name, value)
    if not key_taken and "key" in body_values:
        raw = body_values.pop("key")
        elite_key = raw if isinstance(raw, str) else None
    merged = dict(query)
    merged.update(body_values)
    return RawRequest(elite_key=elite_key, values=merged, body_error=body_error)


class Params:
    """Typed access to the merged parameters of one call."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def raw(self, name: str) -> Any:
        return self._values.get(name)

    def given(self, name: str) -> bool:
        """Present with a value (a JSON null counts as absent)."""
        value = self._values.get(name)
        return value is not None and value is not NULL

    def is_null(self, name: str) -> bool:
        return self._values.get(name) is NULL

    def text(self, name: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._values.get(name)
        if value is None or value is NULL:
            if required:
                raise missing(name)
            return default
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        elif not isinstance(value, str):
            raise bad(name, f"{name} must be a string")
        if required and value.strip() == "":
            raise missing(name)
        return value

    def req(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        default: int | None = None,
        low: int = -INT32_MAX,
        high: int = INT32_MAX,
    ) -> int | None:
        value = self._values.get(name)
        if value is None or value is NULL or (isinstance(value, str) and value.strip() == ""):
            if required:
                raise missing(name)
            return default
        number: int
        if isinstance(value, bool):
            raise bad(name, f"{name} must be an integer")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and _INT_TEXT.fullmatch(value):
            number = int(value)
        else:
            raise bad(name, f"{name} must be an integer")
        if not low <= number <= high:
            raise bad(name, f"{name} must be between {low} and {high}")
        return number

    def boolean(self, name: str, *, default: bool | None = None) -> bool | None:
        value = self._values.get(name)
        if value is None or value is NULL or (isinstance(value, str) and value.strip() == ""):
            return default
        try:
            return parse_bool(value, name)
        except AdminError:
            raise bad(name, f"{name} must be a boolean (true/false, 1/0, yes/no, on/off)") from None

    def date(self, name: str) -> datetime | None:
        """An ISO 8601 date (absent or null: None)."""
        value = self._values.get(name)
        if value is None or value is NULL or (isinstance(value, str) and value.strip() == ""):
            return None
        if not isinstance(value, str):
            raise bad(name, f"{name} must be an ISO 8601 date")
        try:
            return parse_iso(value)
        except ValueError:
            raise bad(name, f"{name} must be an ISO 8601 date") from None
