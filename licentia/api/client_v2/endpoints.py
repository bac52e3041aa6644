"""The endpoint table of `/api/v2`: canonical names, aliases and field specifications."""

from __future__ import annotations

from licentia.domain.fields import FieldSpec as F

SESSION = F("session_id", required=True, max_len=64)
SID = F("sid", synonyms=("hwid",), max_len=128, identity_text=True)
IP = F("ip", synonyms=("ip_address",), advisory=True)

FIELDS: dict[str, tuple[F, ...]] = {
    "init": (
        F("owner_id", required=True, max_len=64),
        F("app_name", required=True, max_len=64),
        F("secret", required=True, trim=False, max_len=256),
        F("version", required=True, max_len=32, identity_text=True),
        F("hash", advisory=True),
        IP,
    ),
    "login": (
        SESSION,
        F("username", required=True, max_len=64),
        F("password", required=True, trim=False, max_len=256),
        SID,
        IP,
    ),
    "licenses": (SESSION, F("license_key", required=True, max_len=128), SID, IP),
    "register": (
        SESSION,
        F(
            "username",
            required=True,
            min_len=1,
            max_len=64,
            identity_text=True,
            stored_content=True,
        ),
        F("password", required=True, trim=False, min_len=1, max_len=256),
        F("key", required=True, synonyms=("license_key",), max_len=128),
        F("email", max_len=254, identity_text=True, email=True),
        SID,
        IP,
    ),
    "extend": (
        SESSION,
        F("username", required=True, max_len=64),
        F("license_key", required=True, max_len=128),
        SID,
        IP,
    ),
    "change-password": (
        SESSION,
        F("old_password", required=True, trim=False, max_len=256),
        F("new_password", required=True, trim=False, min_len=1, max_len=256),
    ),
    "device-auth": (
        SESSION,
        F("device_type", required=True),
        F("device_id", required=True, max_len=128, identity_text=True),
        SID,
        IP,
    ),
    "variables": (SESSION, F("var_key", required=True, max_len=64)),
    "variables/set": (
        SESSION,
        F("var_key", required=True, max_len=64),
        F(
            "var_value",
            required=True,
            trim=False,
            allow_empty=True,
            max_bytes=4096,
            stored_content=True,
        ),
    ),
    "logs": (SESSION, F("message", required=True, trim=False, max_len=2000, stored_content=True)),
    "chats/get": (
        SESSION,
        F("channel_name", required=True, max_len=64),
        F("limit", kind="int"),
        F("cursor", max_len=128),
    ),
    "chats/send": (
        SESSION,
        F("channel_name", required=True, max_len=64),
        F("message", required=True, trim=False, min_len=1, max_len=500, stored_content=True),
    ),
    "validate-session": (SESSION,),
    "blacklist/check": (
        SESSION,
        F("hwid", synonyms=("sid",), max_len=128),
        F("ip", synonyms=("ip_address",), advisory=True),
    ),
    # Licentia extension: offline tickets (docs/tickets.md).
    "ticket": (SESSION,),
    "ticket/check": (F("ticket", required=True, trim=True, max_len=4096), SID),
}

ALIASES = {
    "license-login": "licenses",
    "variables/get": "variables",
    "validate": "validate-session",
}

CREDENTIAL_ENDPOINTS = frozenset(
    {"login", "licenses", "register", "extend", "change-password", "device-auth"}
)


def canonical(name: str) -> str | None:
    name = ALIASES.get(name, name)
    return name if name in FIELDS else None
