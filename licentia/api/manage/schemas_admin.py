"""Request and response bodies of the account, token, Elite Key, audit, signing-key and usage
routes (management B.1, B.2, B.3, B.12, B.20)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from licentia.api.manage.schemas import Strict, UtcTime

RuleList = Literal["ip_allow", "ip_deny", "domain_allow", "domain_deny"]


# -- account -----------------------------------------------------------------------------


class AccountOut(BaseModel):
    owner_id: str
    public_id: str
    username: str
    email: str
    status: str
    plan_label: str
    compat_initial_password: bool
    two_factor: bool
    created_at: UtcTime
    last_login_at: UtcTime | None
    last_login_ip: str | None
    apps: int


class AccountEdit(Strict):
    email: str | None = Field(default=None, description="Contact address; empty clears it.")
    plan_label: str | None = Field(default=None, description="Reported as plan_name (1-64).")
    compat_initial_password: bool | None = Field(
        default=None, description="The AuthlyX initial-password rule for staff and resellers."
    )


class PasswordChange(Strict):
    current_password: str = Field(max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class PasswordChanged(BaseModel):
    changed: bool


# -- tokens ------------------------------------------------------------------------------


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    apps: list[str] | None = Field(description="App ids the token reaches; null = every app")
    status: Literal["active", "expired", "revoked"]
    created_at: UtcTime
    last_used_at: UtcTime | None
    expires_at: UtcTime | None
    revoked_at: UtcTime | None


class TokenList(BaseModel):
    items: list[TokenOut]
    next_cursor: str | None


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=64)
    scopes: list[str] = Field(
        min_length=1, description="Capabilities (`license.ban`) or `resource:read|write`."
    )
    apps: list[str] | None = Field(default=None, description="App ids; omitted = every app")
    expires_at: UtcTime | None = Field(default=None, description="null = never")


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown this once, store it now")


# -- Elite Key ---------------------------------------------------------------------------


class EliteKeyOut(BaseModel):
    has_key: bool
    prefix: str | None
    created_at: UtcTime | None
    last_used_at: UtcTime | None
    last_used_ip: str | None
    disabled_capabilities: list[str]
    ip_allow: list[str]
    ip_deny: list[str]
    domain_allow: list[str]
    domain_deny: list[str]


class EliteKeyRotated(EliteKeyOut):
    elite_key: str = Field(description="The new Elite Key: shown this once, store it now")


class EliteKeyDeleted(BaseModel):
    deleted: bool = Field(description="false when there was no key (nothing changed)")


class EliteCapabilities(Strict):
    disabled: list[str] = Field(description="`function.action` names to disable; [] = none")


class EliteRule(Strict):
    value: str = Field(min_length=1, max_length=256, description="IP, CIDR or host name")


# -- audit -------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    id: int
    created_at: UtcTime
    actor_kind: str
    actor: str
    face: str
    actor_ip: str
    app_id: str | None
    capability: str
    target_type: str
    target: str
    changes: dict[str, Any] | None
    details: dict[str, Any] | None
    result: str
    request_id: str


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


# -- signing key and usage ---------------------------------------------------------------


class SigningKeyOut(BaseModel):
    kid: str
    algorithm: Literal["Ed25519"]
    pem: str
    der_base64: str


class UsageDayOut(BaseModel):
    date: str = Field(description="UTC day, YYYY-MM-DD")
    count: int
    endpoints: dict[str, int] = Field(description="Requests per client API endpoint")


class UsageOut(BaseModel):
    days: int
    total: int
    series: list[UsageDayOut] = Field(description="Oldest first, ending today (UTC)")
