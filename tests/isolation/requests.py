"""Requests for every changing route of the management API, built from its OpenAPI document,
so that a route added later is attacked without anyone listing it here.

Path parameters take the victim's ids (`Victim.names`); a path parameter this module does not
know fails the test, so a new kind of id gets added here, not skipped. Bodies and required
query parameters are filled from the schema, with values that would really change something
(`FIELD_VALUES`), so that only the access checks stand between the call and the victim's rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Mount

CHANGING = ("POST", "PUT", "PATCH", "DELETE")
FUTURE = "2031-01-01T00:00:00Z"
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    template: str
    query: dict[str, str]
    json: Any = None
    content: bytes | None = None
    content_type: str = ""


def field_values(names: dict[str, Any]) -> dict[str, Any]:
    """Body and query values by field name: the victim's objects, or a real change."""
    keys = names["keys"]
    return {
        "days": 30,
        "duration_days": 30,
        "expiry_date": FUTURE,
        "expires_at": FUTURE,
        "allowed_until": FUTURE,
        "subscription": "Premium",
        "key": "A-NEW-KEY-1",
        "keys": list(keys.values()),
        "license_key": names["key"],
        "amount": 3,
        "count": 3,
        "reason": "attack",
        "note": "attacked",
        "name": "Attacked",
        "new_name": "Attacked",
        "username": names["username"],
        "password": "attack-password-1",
        "new_password": "attack-password-2",
        "current_password": "owner-password",
        "permissions": ["license:write", "app:write"],
        "scopes": ["license:write"],
        "role_id": names["role_id"],
        "rate_plan_id": names["plan_id"],
        "device_type": names["device_type"],
        "device_id": names["device_id"],
        "sid": names["sid"],
        "value": "attacked",
        "message": "attacked",
        "state": "unused",
        "status": "unused",
        "search": "A-",
        "confirm": True,
        "enabled": False,
        "type": "new",
        "email": "attacker@example.com",
        "level": 9,
        "price": 1,
        "term_kind": "duration",
        "term_days": 30,
        "app_id": names["app_id"],
        "apps": [names["app_id"]],
        "kind": "ip",
        "list": "allow",
        "countries": ["DE"],
        "capabilities": [],
        "older_than_days": 0,
    }


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _pick(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    schema = _resolve(spec, schema)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = [_resolve(spec, s) for s in schema[union]]
            real = [s for s in options if s.get("type") != "null"]
            return real[0] if real else options[0]
    if "allOf" in schema:
        return _resolve(spec, schema["allOf"][0])
    return schema


def example(spec: dict[str, Any], schema: dict[str, Any], name: str, values: dict[str, Any]) -> Any:
    """A value for `schema`: the field's value from `values` when it fits, else one of the type."""
    schema = _pick(spec, schema)
    kind = schema.get("type")
    if "enum" in schema:
        return values[name] if values.get(name) in schema["enum"] else schema["enum"][0]
    if kind == "object" or "properties" in schema:
        return instance(spec, schema, values)
    if name in values:
        value = values[name]
        fits = {
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float),
            "boolean": isinstance(value, bool),
            "array": isinstance(value, list),
            "string": isinstance(value, str),
        }
        if kind is None or fits.get(kind, True):
            return value
    if kind == "integer" or kind == "number":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [example(spec, schema.get("items", {}), name, values)]
    if schema.get("format") == "date-time":
        return FUTURE
    return "attack1"


def instance(spec: dict[str, Any], schema: dict[str, Any], values: dict[str, Any]) -> Any:
    """An object with its required fields and every field `values` knows (but never both of
    two exclusive term fields: `days` wins over `expiry_date`)."""
    schema = _pick(spec, schema)
    props: dict[str, Any] = schema.get("properties", {})
    wanted = set(schema.get("required", [])) | {n for n in props if n in values}
    if "days" in wanted or "duration_days" in wanted:
        wanted.discard("expiry_date")
    if "days" in wanted:
        wanted.discard("duration_days")
    return {n: example(spec, props[n], n, values) for n in sorted(wanted)}


def _path_value(template: str, param: str, names: dict[str, Any]) -> str:
    if param == "identifier":
        return str(names["reseller" if "/resellers/" in template else "staff"])
    if param == "path":
        return "anything"
    if param not in names:
        raise AssertionError(
            f"{template}: no victim value for the path parameter {{{param}}}: add one to "
            "Victim.names (tests/isolation/conftest.py)"
        )
    return str(names[param])


def changing_calls(spec: dict[str, Any], prefix: str, names: dict[str, Any]) -> list[Call]:
    """One call per changing operation of the OpenAPI document, aimed at the victim."""
    values = field_values(names)
    out: list[Call] = []
    for template, operations in sorted(spec["paths"].items()):
        for method, operation in sorted(operations.items()):
            if method.upper() not in CHANGING:
                continue
            path = _PARAM.sub(lambda m: _path_value(template, m.group(1), names), template)
            query = {
                p["name"]: str(example(spec, p.get("schema", {}), p["name"], values))
                for p in operation.get("parameters", [])
                if p.get("in") == "query" and (p.get("required") or p["name"] in values)
            }
            call = Call(method.upper(), prefix + path, template, query)
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = example(spec, content["application/json"].get("schema", {}), "", values)
                call = Call(call.method, call.path, template, query, json=body)
            elif content:
                media = sorted(content)[0]
                text = f"key,subscription\nA-IMPORTED-1,Premium\n{names['key']},Premium\n"
                call = Call(
                    call.method,
                    call.path,
                    template,
                    query,
                    content=text.encode(),
                    content_type=media,
                )
            out.append(call)
    return out


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every `APIRoute`, also inside included routers (not inside mounted apps)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif not isinstance(route, Mount):
            # An included router (`original_router` in newer FastAPI versions).
            router = getattr(route, "original_router", None) or getattr(route, "router", None)
            inner = getattr(route, "routes", None) or getattr(router, "routes", None)
            if inner:
                yield from api_routes(inner)
