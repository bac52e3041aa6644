"""Request and response bodies of the team routes: staff roles and staff (B.18), rate plans,
resellers and coins (B.19), and the reseller's own view."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from licentia.api.manage.schemas import Strict, UtcTime

# -- roles and staff -----------------------------------------------------------------------


class RoleOut(BaseModel):
    id: str
    name: str
    permissions: list[str] = Field(description="Capability names (license.ban) or shorthands")
    apps: list[str] | None = Field(description="App ids; null = every app")
    members: int
    created_at: UtcTime


class RolePage(BaseModel):
    items: list[RoleOut]
    next_cursor: str | None


class RoleCreate(Strict):
    name: str = Field(min_length=1, max_length=64)
    permissions: list[str] = Field(default_factory=list, max_length=200)
    apps: list[str] | None = Field(default=None, description="App ids; null = every app")


class RolePatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    permissions: list[str] | None = Field(default=None, max_length=200)
    apps: list[str] | None = Field(default=None, description="App ids; null = every app")


class StaffOut(BaseModel):
    id: str
    username: str
    public_id: str
    email: str
    role_id: str
    role_name: str
    is_active: bool = Field(description="false = banned")
    created_at: UtcTime


class StaffPage(BaseModel):
    items: list[StaffOut]
    next_cursor: str | None


class StaffAdd(Strict):
    type: Literal["new", "existing"]
    role_id: str = Field(min_length=1, max_length=64)
    username: str | None = Field(default=None, max_length=64, description="type new")
    email: str | None = Field(default=None, max_length=254, description="type new")
    public_id: str | None = Field(default=None, max_length=12, description="type existing")


class StaffAdded(StaffOut):
    temporary_password: str | None = Field(
        description="type new: shown once; must be changed at first sign-in, expires in 72 h"
    )


class StaffPatch(Strict):
    role_id: str = Field(min_length=1, max_length=64)


# -- rate plans, resellers, coins ----------------------------------------------------------

TermKind = Literal["duration", "fixed", "lifetime"]


class PriceOut(BaseModel):
    id: str
    app_id: str
    app_name: str
    subscription: str
    term_kind: TermKind
    term_days: int
    price: int


class RatePlanOut(BaseModel):
    id: str
    name: str
    allow_ban: bool
    allow_reset_hwid: bool
    prices: list[PriceOut]
    resellers: int
    created_at: UtcTime


class RatePlanPage(BaseModel):
    items: list[RatePlanOut]
    next_cursor: str | None


class RatePlanCreate(Strict):
    name: str = Field(min_length=1, max_length=64)
    allow_ban: bool = False
    allow_reset_hwid: bool = False


class RatePlanPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    allow_ban: bool | None = None
    allow_reset_hwid: bool | None = None


class PriceSet(Strict):
    app_id: str = Field(min_length=1, max_length=64)
    subscription: str = Field(min_length=1, max_length=64)
    term_kind: TermKind
    term_days: int | None = Field(default=None, ge=0, description="duration / fixed terms")
    price: int = Field(ge=0, description="coins per key")


class ResellerOut(BaseModel):
    id: str
    username: str
    public_id: str
    email: str
    rate_plan_id: str | None
    rate_plan_name: str | None
    points_balance: int
    is_active: bool = Field(description="false = banned")
    apps: list[str] | None = Field(description="Allowed app ids; null = every priced app")
    created_at: UtcTime


class ResellerPage(BaseModel):
    items: list[ResellerOut]
    next_cursor: str | None


class ResellerAdd(Strict):
    type: Literal["new", "existing"]
    username: str | None = Field(default=None, max_length=64, description="type new")
    email: str | None = Field(default=None, max_length=254, description="type new")
    public_id: str | None = Field(default=None, max_length=12, description="type existing")
    rate_plan_id: str | None = Field(default=None, max_length=64)
    apps: list[str] | None = Field(default=None, description="Allowed app ids; null = all")


class ResellerAdded(ResellerOut):
    temporary_password: str | None = Field(
        description="type new: shown once; must be changed at first sign-in, expires in 72 h"
    )


class ResellerPatch(Strict):
    rate_plan_id: str | None = Field(default=None, description="null clears the plan")
    apps: list[str] | None = Field(default=None, description="null = every priced app")


class CoinsIn(Strict):
    amount: int = Field(description="Signed, not 0")
    description: str = Field(default="", max_length=200)


class LedgerOut(BaseModel):
    id: int
    amount: int
    balance_after: int
    description: str
    actor: str
    batch_id: str | None
    created_at: UtcTime


class LedgerPage(BaseModel):
    items: list[LedgerOut]
    next_cursor: str | None


# -- the reseller's own view -----------------------------------------------------------------


class ProductList(BaseModel):
    items: list[PriceOut]


class BalanceOut(BaseModel):
    points_balance: int
    rate_plan_name: str | None


class ResellerGenerate(Strict):
    product_id: str = Field(min_length=1, max_length=64, description="A price id")
    amount: int = Field(ge=1, le=10_000)
    note: str = Field(default="", max_length=500)


class ResellerBatch(BaseModel):
    keys: list[str]
    count: int
    batch_id: str
    cost: int
    points_balance: int


class OwnLicenseOut(BaseModel):
    key: str
    app_id: str
    app_name: str
    subscription: str
    status: str
    banned: bool
    paused: bool
    duration_days: int | None
    expiry_date: UtcTime | None
    note: str
    created_at: UtcTime


class OwnLicensePage(BaseModel):
    items: list[OwnLicenseOut]
    next_cursor: str | None
