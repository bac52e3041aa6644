"""App settings pages: general settings and lifecycle, subscriptions, variables, version
control, hashes, network and SID rules, custom responses (`/apps/{app_id}/settings/...`).

Every page and action calls the admin service and checks the capability the management API
route of the same action checks (`licentia/api/manage/routes_apps.py`, `routes_licenses.py`),
through `dashboard_auth.authorize_app`. Every change runs with its audit entry in one write
transaction (`actions.audited`); a refused change re-renders the page with the message next
to the field and the typed values kept (status 400), and changes nothing.

The general form is generated from the setting definitions in `services/admin_apps.py`
(`APP_SETTINGS` and the typed sets), so a setting added there appears here without a change;
`_SETTING_INFO` only adds labels, groups and help text where known.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from licentia.services import (
    admin,
    admin_apps,
    admin_rules,
    dashboard_auth,
    principals,
    views_licenses,
)
from licentia.services.admin_common import AdminError
from licentia.services.dashboard_auth import AppAccess, DashSession, authorize_app
from licentia.web.actions import app_page, audited
from licentia.web.app import DashRoute, form_values, runtime, signed_in
from licentia.web.context import Refused, actor, redirect, render

router = APIRouter(route_class=DashRoute)

T = TypeVar("T")

#: Sub-pages: (slug, label, path suffix, capability that reads it).
SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("general", "General", "", "app.info"),
    ("subscriptions", "Subscriptions", "/subscriptions", "subscription.list"),
    ("variables", "Variables", "/variables", "variable.list"),
    ("versions", "Versions", "/versions", "version.list"),
    ("hashes", "Hashes", "/hashes", "hash.list"),
    ("network", "Network & SID rules", "/network", "rule.list"),
    ("responses", "Responses", "/responses", "response.list"),
)

#: Fixed success notices, chosen by the `ok` query parameter after a redirect (never echoed).
NOTICES = {
    "saved": "Saved.",
    "enabled": "The app is enabled.",
    "disabled": "The app is disabled: every client call answers APP_DISABLED.",
    "nochange": "Nothing changed.",
    "created": "Created.",
    "updated": "Updated.",
    "deleted": "Deleted.",
    "removed": "Removed.",
    "added": "Added.",
    "exists": "That entry already exists; nothing changed.",
    "reset": "Reset to the default text.",
    "resetall": "Every message is back to its default text.",
}

# -- the general settings form, generated from the service's definitions ------------------

#: Settings edited on another sub-page (with that page's capability), or by a lifecycle
#: action, rather than in the general form.
ELSEWHERE: dict[str, str] = {
    "is_enabled": "general",
    "hash_check": "hashes",
    "vpn_block": "network",
    "blocked_countries": "network",
    **{name: "versions" for name in admin_rules.VERSION_SETTINGS},
}

#: Known settings: (group, label, help, unit). Unknown ones still appear, under "Other".
_SETTING_INFO: dict[str, tuple[str, str, str, str]] = {
    "session_idle_timeout": (
        "Client sessions",
        "Idle timeout",
        "A client session expires this long after its last successful call.",
        "seconds",
    ),
    "session_max_lifetime": (
        "Client sessions",
        "Maximum lifetime",
        "A client session expires this long after init, however active.",
        "seconds",
    ),
    "offline_ticket_ttl": (
        "Client sessions",
        "Offline ticket lifetime",
        "A logged-in program may fetch a signed ticket (POST /api/v2/ticket) that lets it start "
        "offline for this long. 0 turns tickets off; at most 30 days. A ban cannot reach an "
        "offline machine before the ticket ends.",
        "seconds",
    ),
    "require_request_signature": (
        "Client sessions",
        "Require request signatures",
        "Every request without an HMAC signature answers INVALID_REQUEST_SIGNATURE. "
        "Only the C# and C++ SDKs sign requests.",
        "",
    ),
    "hwid_lock": (
        "Devices and HWID",
        "HWID lock",
        "login and licenses require a SID and bind at most the device limit of machines. "
        "Off: nothing is checked or bound.",
        "",
    ),
    "hwid_reset_cooldown": (
        "Devices and HWID",
        "HWID reset cooldown",
        "Time between two self-service HWID resets in the end-user portal.",
        "seconds",
    ),
    "hwid_reset_max_per_30_days": (
        "Devices and HWID",
        "HWID resets per 30 days",
        "Self-service HWID resets an end user may make in 30 days.",
        "resets",
    ),
    "allow_password_change": (
        "End users",
        "Allow password change",
        "Off: change-password answers PASSWORD_CHANGE_UNAVAILABLE.",
        "",
    ),
    "user_panel_enabled": (
        "End users",
        "End-user portal",
        "Lets end users sign in to the self-service portal.",
        "",
    ),
    "client_create_variables": (
        "Variables and logs",
        "Clients may create variables",
        "A logged-in client's variables/set may create a variable that does not exist.",
        "",
    ),
    "log_retention_days": (
        "Variables and logs",
        "Log retention",
        "Client logs and auth events older than this are purged.",
        "days",
    ),
    "url_prefix": (
        "Other",
        "URL prefix",
        "Stored for reference (informational).",
        "",
    ),
}
_GROUP_ORDER = ("Client sessions", "Devices and HWID", "End users", "Variables and logs", "Other")


@dataclass(frozen=True)
class SettingField:
    name: str
    kind: str  # bool | int | text
    label: str
    help: str
    unit: str
    low: int | None = None
    high: int | None = None


def _kind(name: str) -> str:
    if name in admin_apps.BOOL_SETTINGS:
        return "bool"
    if name in admin_apps.INT_SETTINGS:
        return "int"
    return "text"


def setting_fields() -> list[tuple[str, list[SettingField]]]:
    """The general form's fields by group: every setting of `APP_SETTINGS` not edited
    elsewhere, typed and limited as `set_app_settings` validates them."""
    groups: dict[str, list[SettingField]] = {}
    for name in admin_apps.APP_SETTINGS:
        if name in ELSEWHERE:
            continue
        kind = _kind(name)
        default_label = name.replace("_", " ").capitalize()
        group, label, help_text, unit = _SETTING_INFO.get(name, ("Other", default_label, "", ""))
        low = high = None
        if kind == "int":
            low, high = admin_apps.INT_SETTINGS[name]
        groups.setdefault(group, []).append(
            SettingField(name, kind, label, help_text, unit, low, high)
        )
    order = {g: i for i, g in enumerate(_GROUP_ORDER)}
    return sorted(groups.items(), key=lambda item: (order.get(item[0], 1), item[0]))


def _duration(seconds: Any) -> str:
    """A readable form of a number of seconds ("1 h", "1 d 2 h")."""
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        return ""
    parts = []
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts[:2])


# -- shared helpers -----------------------------------------------------------------------


async def _allowed(request: Request, session: DashSession, access: AppAccess) -> set[str]:
    """The capabilities this account holds on the app (to show only usable forms)."""
    rt = runtime(request)
    async with rt.db.read() as conn:
        rights = await principals.rights_in(conn, session.account.id, access.owner_account_id)
    wanted = {cap for *_, cap in SECTIONS} | set(_ACTION_CAPS)
    return {cap for cap in wanted if rights.allows(cap, access.app_id)}


_ACTION_CAPS = (
    "app.edit",
    "app.enable",
    "app.disable",
    "app.rename",
    "app.regenerate_secret",
    "app.delete",
    "subscription.create",
    "subscription.edit",
    "subscription.delete",
    "variable.set",
    "variable.delete",
    "version.add",
    "version.edit",
    "version.remove",
    "version.settings",
    "version.test",
    "hash.register",
    "hash.remove",
    "hash.enable",
    "hash.disable",
    "rule.add",
    "rule.remove",
    "rule.import",
    "rule.set_vpn_block",
    "rule.set_countries",
    "rule.check",
    "response.set",
    "response.reset",
    "response.reset_all",
)


async def _render(
    request: Request,
    session: DashSession,
    access: AppAccess,
    section: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> Response:
    ok = request.query_params.get("ok", "")
    values: dict[str, Any] = {
        "app": access,
        "tab": "settings",
        "section": section,
        "sections": SECTIONS,
        "can": await _allowed(request, session, access),
        "notice": NOTICES.get(ok, "") if request.method == "GET" else "",
        "errors": {},
        "values": {},
    }
    values.update(context)
    return render(request, f"settings_{section}.html", values, status=status, session=session)


def _to(access: AppAccess, section: str, ok: str, **query: str) -> str:
    path = next(p for slug, _, p, _ in SECTIONS if slug == section)
    params = {k: v for k, v in {"ok": ok, **query}.items() if v}
    return f"/apps/{access.app_id}/settings{path}" + (f"?{urlencode(params)}" if params else "")


def _field(exc: AdminError, known: set[str], default: str = "form") -> str:
    for name in exc.fields or []:
        if name in known:
            return name
    return default


async def _change(
    request: Request,
    session: DashSession,
    access: AppAccess,
    call: Callable[[], Awaitable[T]],
    *,
    capability: str,
    target_type: str,
    target: str,
    changes: Callable[[T], dict[str, Any] | None] | dict[str, Any] | None = None,
    fields_found: set[str] | None = None,
) -> T:
    """Run `call` with its audit entry in one write transaction (`actions.audited`).

    `changes` may be computed from the result (still inside the transaction); a computed
    empty diff means nothing changed and leaves no entry, as the management API does.
    Not-found errors stay 404 pages unless they name one of `fields_found` (a name typed
    into the form, such as a subscription to reassign to); other refusals are `_FormError`.
    """
    try:
        if not callable(changes):
            return await audited(
                request,
                session,
                call,
                capability=capability,
                target_type=target_type,
                target=target,
                app_id=access.app_id,
                owner_account_id=access.owner_account_id,
                changes=changes,
            )
        rt = runtime(request)
        async with rt.db.write():
            result = await call()
            diff = changes(result)
            if diff:
                await dashboard_auth.record_action(
                    rt,
                    actor(request, session),
                    owner_account_id=access.owner_account_id,
                    capability=capability,
                    target_type=target_type,
                    target=target,
                    app_id=access.app_id,
                    changes=diff,
                )
        return result
    except AdminError as exc:
        if exc.is_not_found and not (set(exc.fields or []) & (fields_found or set())):
            raise
        raise _FormError(exc) from None


class _FormError(AdminError):
    """A refused change to show next to its field (left uncaught: the 400 page)."""

    def __init__(self, exc: AdminError) -> None:
        super().__init__(exc.code, exc.message, exc.fields)
        self.exc = exc

    def errors(self, known: set[str], default: str = "form") -> dict[str, str]:
        return {_field(self.exc, known, default): self.exc.message}


def _bad_section(section: str) -> Refused:
    return Refused(404, "Not found", "There is nothing here.")


# -- general ------------------------------------------------------------------------------


async def _general_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    secret: str = "",
    warnings: list[str] | None = None,
    status: int = 200,
) -> Response:
    settings = await admin.get_app_settings(runtime(request), access.app_id)
    shown = {k: ("on" if v is True else "" if v is False else str(v)) for k, v in settings.items()}
    elsewhere = [(name, page, settings.get(name)) for name, page in ELSEWHERE.items()]
    return await _render(
        request,
        session,
        access,
        "general",
        {
            "groups": setting_fields(),
            "settings": settings,
            "durations": {k: _duration(v) for k, v in settings.items()},
            "values": values if values is not None else shown,
            "errors": errors or {},
            "elsewhere": [e for e in elsewhere if e[0] != "is_enabled"],
            "secret": secret,
            "warnings": warnings or [],
        },
        status=status,
    )


@router.get("/apps/{app_id}/settings")
async def general(request: Request, app_id: str) -> Response:
    """The General page; a role without `app.info` lands on its first readable section."""
    session = await signed_in(request)
    rt = runtime(request)
    try:
        access = await authorize_app(rt, session, app_id, "app.info")
    except AdminError as exc:
        if exc.code != "PERMISSION_DENIED":
            raise
        for slug, _, _, capability in SECTIONS[1:]:
            try:
                access = await authorize_app(rt, session, app_id, capability)
            except AdminError:
                continue
            return redirect(request, _to(access, slug, ""))
        raise
    return await _general_page(request, session, access)


@router.post("/apps/{app_id}/settings")
async def general_save(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "app.edit")
    form = await form_values(request)
    rt = runtime(request)
    before = await admin.get_app_settings(rt, access.app_id)
    fields = [f for _, group in setting_fields() for f in group]
    typed: dict[str, str] = {}
    wanted: dict[str, object] = {}
    for f in fields:
        if f"has_{f.name}" not in form:  # a page older than the field: leave it as it is
            continue
        if f.kind == "bool":
            flag = bool(form.get(f.name))
            typed[f.name] = "on" if flag else ""
            if flag != before[f.name]:
                wanted[f.name] = flag
        else:
            text = form.get(f.name, "")
            typed[f.name] = text
            if f.kind == "int":
                if text.strip() != str(before[f.name]):
                    wanted[f.name] = text.strip()
            elif text != before[f.name]:
                wanted[f.name] = text
    if not wanted:
        return redirect(request, _to(access, "general", "nochange"))

    async def save() -> list[admin.SettingChange]:
        return await admin.set_app_settings(rt, access.app_id, wanted)

    def diff(results: list[admin.SettingChange]) -> dict[str, Any]:
        return {r.setting: [before[r.setting], r.value] for r in results}

    try:
        results = await _change(
            request,
            session,
            access,
            save,
            capability="app.edit",
            target_type="app",
            target=access.app_id,
            changes=diff,
        )
    except _FormError as exc:
        return await _general_page(
            request,
            session,
            access,
            errors=exc.errors({f.name for f in fields}),
            values=typed,
            status=400,
        )
    warnings = [w for r in results for w in r.warnings]
    if warnings:
        return await _general_page(request, session, access, warnings=warnings)
    return redirect(request, _to(access, "general", "saved"))


@router.post("/apps/{app_id}/settings/{verb}")
async def general_action(request: Request, app_id: str, verb: str) -> Response:
    """enable, disable, rename, regenerate-secret and delete."""
    if verb not in {"enable", "disable", "rename", "regenerate-secret", "delete"}:
        raise _bad_section(verb)
    capability = "app.regenerate_secret" if verb == "regenerate-secret" else f"app.{verb}"
    session, access = await app_page(request, app_id, capability)
    form = await form_values(request)
    rt = runtime(request)
    if verb in {"enable", "disable"}:
        flag = verb == "enable"
        before = (await admin.get_app_settings(rt, access.app_id))["is_enabled"]
        if before == flag:  # a repeat changes nothing and leaves no entry, as the API does
            return redirect(request, _to(access, "general", "nochange"))
        await _change(
            request,
            session,
            access,
            lambda: admin.set_app_enabled(rt, access.app_id, flag),
            capability=capability,
            target_type="app",
            target=access.app_id,
            changes={"is_enabled": [before, flag]},
        )
        return redirect(request, _to(access, "general", verb + "d"))
    if verb == "rename":
        name = form.get("name", "")
        if name.strip() == access.app_name:
            return redirect(request, _to(access, "general", "nochange"))
        try:
            renamed = await _change(
                request,
                session,
                access,
                lambda: admin.rename_app(rt, access.app_id, name),
                capability=capability,
                target_type="app",
                target=access.app_id,
                changes=lambda r: {"name": [r.old_name, r.new_name]},
            )
        except _FormError as exc:
            return await _general_page(
                request,
                session,
                access,
                errors={"name": exc.exc.message},
                values={**await _shown(request, access), "name": name},
                status=400,
            )
        access = AppAccess(access.app_id, renamed.new_name, access.owner_account_id)
        return await _general_page(request, session, access, warnings=renamed.warnings)
    if verb == "regenerate-secret":
        secret = await _change(
            request,
            session,
            access,
            lambda: admin.regenerate_secret(rt, access.app_id),
            capability=capability,
            target_type="app",
            target=access.app_id,
            changes={"secret": ["set", "changed"]},
        )
        return await _general_page(request, session, access, secret=secret)
    # delete
    confirm = form.get("confirm", "")
    try:
        await _change(
            request,
            session,
            access,
            lambda: admin.delete_app(rt, access.app_id, confirm),
            capability=capability,
            target_type="app",
            target=access.app_id,
            changes={"name": [access.app_name, None]},
        )
    except _FormError as exc:
        return await _general_page(
            request,
            session,
            access,
            errors={"confirm": exc.exc.message},
            values={**await _shown(request, access), "confirm": confirm},
            status=400,
        )
    return redirect(request, "/apps")


async def _shown(request: Request, access: AppAccess) -> dict[str, str]:
    settings = await admin.get_app_settings(runtime(request), access.app_id)
    return {k: ("on" if v is True else "" if v is False else str(v)) for k, v in settings.items()}


# -- subscriptions ------------------------------------------------------------------------


async def _subscriptions_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    row: str = "",
    status: int = 200,
) -> Response:
    subs = await views_licenses.list_subscriptions(runtime(request), access.app_id)
    return await _render(
        request,
        session,
        access,
        "subscriptions",
        {"subscriptions": subs, "errors": errors or {}, "values": values or {}, "row": row},
        status=status,
    )


@router.get("/apps/{app_id}/settings/subscriptions")
async def subscriptions(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "subscription.list")
    return await _subscriptions_page(request, session, access)


@router.post("/apps/{app_id}/settings/subscriptions/{verb}")
async def subscription_action(request: Request, app_id: str, verb: str) -> Response:
    if verb not in {"create", "edit", "delete"}:
        raise _bad_section(verb)
    capability = f"subscription.{verb}"
    session, access = await app_page(request, app_id, capability)
    form = await form_values(request)
    rt = runtime(request)
    name = form.get("name", "")
    try:
        if verb == "create":
            level_text = form.get("level", "").strip() or "1"
            sub = await _change(
                request,
                session,
                access,
                lambda: admin.create_subscription(rt, access.app_id, name, level_text),  # type: ignore[arg-type]
                capability=capability,
                target_type="subscription",
                target=name.strip(),
                changes=lambda s: {"name": [None, s.name], "level": [None, s.level]},
            )
            del sub
            return redirect(request, _to(access, "subscriptions", "created"))
        if verb == "edit":
            new_name = form.get("new_name", "")
            level = form.get("level", "").strip()

            async def edit() -> tuple[views_licenses.SubscriptionView, ...]:
                return await admin.edit_subscription(
                    rt,
                    access.app_id,
                    name,
                    new_name=new_name if new_name.strip() else None,
                    level=level if level else None,  # type: ignore[arg-type]
                )

            def diff(pair: tuple[views_licenses.SubscriptionView, ...]) -> dict[str, Any]:
                old, new = pair[0].as_dict(), pair[1].as_dict()
                return {k: [old[k], new[k]] for k in ("name", "level") if old[k] != new[k]}

            before, after = await _change(
                request,
                session,
                access,
                edit,
                capability=capability,
                target_type="subscription",
                target=name.strip(),
                changes=diff,
            )
            ok = "updated" if before != after else "nochange"
            return redirect(request, _to(access, "subscriptions", ok))
        reassign = form.get("reassign_to", "")

        def gone_changes(gone: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"name": [gone.name, None]}
            if gone.reassigned_to is not None:
                out["reassigned_to"] = [None, gone.reassigned_to]
                out["moved"] = [None, gone.moved]
            return out

        await _change(
            request,
            session,
            access,
            lambda: admin.delete_subscription(
                rt, access.app_id, name, reassign_to=reassign or None
            ),
            capability=capability,
            target_type="subscription",
            target=name.strip(),
            changes=gone_changes,
            fields_found={"reassign_to"},
        )
        return redirect(request, _to(access, "subscriptions", "deleted"))
    except _FormError as exc:
        known = {"name", "level", "new_name", "reassign_to"}
        errors = exc.errors(known, "name" if verb == "create" else "form")
        if verb != "create":
            errors = {f"{verb}.{k}": v for k, v in errors.items()}
        return await _subscriptions_page(
            request,
            session,
            access,
            errors=errors,
            values=form,
            row="" if verb == "create" else name,
            status=400,
        )


# -- variables ----------------------------------------------------------------------------


async def _variables_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    warnings: list[str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    items = await admin.list_variables(rt, access.app_id)
    search = request.query_params.get("q", "").strip()[:64]
    if search:
        items = [v for v in items if search.casefold() in v.key.casefold()]
    edit = request.query_params.get("edit", "")
    if values is None:
        values = {"writable": "on"}
        current = next((v for v in items if v.key == edit), None)
        if current is not None:
            values = {
                "key": current.key,
                "value": current.value,
                "writable": "on" if current.writable else "",
                "auth_required": "on" if current.auth_required else "",
            }
    return await _render(
        request,
        session,
        access,
        "variables",
        {
            "variables": items,
            "search": search,
            "errors": errors or {},
            "values": values,
            "warnings": warnings or [],
        },
        status=status,
    )


@router.get("/apps/{app_id}/settings/variables")
async def variables(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "variable.list")
    return await _variables_page(request, session, access)


@router.post("/apps/{app_id}/settings/variables/{verb}")
async def variable_action(request: Request, app_id: str, verb: str) -> Response:
    if verb not in {"set", "delete"}:
        raise _bad_section(verb)
    capability = f"variable.{verb}"
    session, access = await app_page(request, app_id, capability)
    form = await form_values(request)
    rt = runtime(request)
    key = form.get("key", "")
    if verb == "delete":
        before = await admin.get_variable(rt, access.app_id, key)  # unknown: 404 page
        await _change(
            request,
            session,
            access,
            lambda: admin.delete_variable(rt, access.app_id, key),
            capability=capability,
            target_type="variable",
            target=before.key,
            changes={"value": [before.value, None]},
        )
        return redirect(request, _to(access, "variables", "deleted"))
    value = form.get("value", "")
    writable = bool(form.get("writable"))
    auth_required = bool(form.get("auth_required"))
    old: Any = None
    try:
        old = await admin.get_variable(rt, access.app_id, key)
    except AdminError as exc:
        if exc.code not in {"VARIABLE_NOT_FOUND", "INVALID_INPUT"}:
            raise

    def diff(saved: admin.Variable) -> dict[str, Any]:
        names = ("value", "writable", "auth_required")
        if old is None:
            return {n: [None, getattr(saved, n)] for n in names}
        return {
            n: [getattr(old, n), getattr(saved, n)]
            for n in names
            if getattr(old, n) != getattr(saved, n)
        }

    try:
        saved = await _change(
            request,
            session,
            access,
            lambda: admin.set_variable(
                rt,
                access.app_id,
                key,
                value,
                writable,
                auth_required,
                updated_by=f"account:{session.account.id}",
            ),
            capability=capability,
            target_type="variable",
            target=key.strip(),
            changes=diff,
        )
    except _FormError as exc:
        typed = {
            "key": key,
            "value": value,
            "writable": "on" if writable else "",
            "auth_required": "on" if auth_required else "",
        }
        return await _variables_page(
            request,
            session,
            access,
            errors=exc.errors({"key", "value"}),
            values=typed,
            status=400,
        )
    if saved.warnings:
        return await _variables_page(request, session, access, warnings=saved.warnings)
    return redirect(request, _to(access, "variables", "created" if saved.created else "updated"))


# -- versions -----------------------------------------------------------------------------


async def _versions_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    row: str = "",
    warnings: list[str] | None = None,
    test: Any = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    settings = await admin.get_version_settings(rt, access.app_id)
    shown = {k: ("on" if v is True else "" if v is False else str(v)) for k, v in settings.items()}
    return await _render(
        request,
        session,
        access,
        "versions",
        {
            "rules": await admin.list_version_rules(rt, access.app_id),
            "settings": settings,
            "modes": admin_rules.VERSION_MODES,
            "errors": errors or {},
            "values": {**shown, **(values or {})},
            "row": row,
            "warnings": warnings or [],
            "test": test,
        },
        status=status,
    )


@router.get("/apps/{app_id}/settings/versions")
async def versions(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "version.list")
    if "test" not in request.query_params:
        return await _versions_page(request, session, access)
    await authorize_app(runtime(request), session, access.app_id, "version.test")
    version = request.query_params.get("test", "")[:64]
    try:
        result = await admin.version_test(runtime(request), access.app_id, version)
    except AdminError as exc:
        if exc.is_not_found:
            raise
        return await _versions_page(
            request,
            session,
            access,
            errors={"test": exc.message},
            values={"test": version},
            status=400,
        )
    return await _versions_page(request, session, access, test=result, values={"test": version})


def _when(text: str, field: str) -> datetime | None:
    """A `datetime-local` value taken as UTC; empty is None."""
    value = text.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise AdminError(
            "INVALID_INPUT", "enter a date and time (YYYY-MM-DD HH:MM, UTC)", [field]
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@router.post("/apps/{app_id}/settings/versions/{verb}")
async def version_action(request: Request, app_id: str, verb: str) -> Response:
    if verb not in {"add", "edit", "remove", "settings"}:
        raise _bad_section(verb)
    capability = f"version.{verb}"
    session, access = await app_page(request, app_id, capability)
    form = await form_values(request)
    rt = runtime(request)
    version = form.get("version", "")
    known = {"version", "mode", "allowed_until", "note", *admin_rules.VERSION_SETTINGS}
    try:
        if verb == "add":
            until = _when(form.get("allowed_until", ""), "allowed_until")
            await _change(
                request,
                session,
                access,
                lambda: admin.add_version_rule(
                    rt,
                    access.app_id,
                    version,
                    form.get("mode", "allow"),
                    until,
                    form.get("note", ""),
                ),
                capability=capability,
                target_type="version",
                target=version.strip(),
                changes=lambda r: {
                    "mode": [None, r.mode],
                    "allowed_until": [None, r.allowed_until],
                },
            )
            return redirect(request, _to(access, "versions", "added"))
        if verb == "edit":
            until = _when(form.get("allowed_until", ""), "allowed_until")
            mode = form.get("mode", "")

            def diff(pair: tuple[Any, Any]) -> dict[str, Any]:
                old, new = pair
                return {
                    k: [getattr(old, k), getattr(new, k)]
                    for k in ("mode", "allowed_until", "note")
                    if getattr(old, k) != getattr(new, k)
                }

            await _change(
                request,
                session,
                access,
                lambda: admin.edit_version_rule(
                    rt,
                    access.app_id,
                    version,
                    mode=mode or None,
                    allowed_until=until if mode == "grace" else None,
                    note=form.get("note", ""),
                ),
                capability=capability,
                target_type="version",
                target=version.strip(),
                changes=diff,
            )
            return redirect(request, _to(access, "versions", "updated"))
        if verb == "remove":
            await _change(
                request,
                session,
                access,
                lambda: admin.remove_version_rule(rt, access.app_id, version),
                capability=capability,
                target_type="version",
                target=version.strip(),
                changes={"rule": [version.strip(), None]},
            )
            return redirect(request, _to(access, "versions", "removed"))
        # settings
        before = await admin.get_version_settings(rt, access.app_id)
        wanted: dict[str, object] = {}
        for name in admin_rules.VERSION_SETTINGS:
            if _kind(name) == "bool":
                flag = bool(form.get(name))
                if flag != before[name]:
                    wanted[name] = flag
            elif form.get(name, "") != before[name]:
                wanted[name] = form.get(name, "")
        if not wanted:
            return redirect(request, _to(access, "versions", "nochange"))
        results = await _change(
            request,
            session,
            access,
            lambda: admin.set_version_settings(rt, access.app_id, wanted),
            capability=capability,
            target_type="app",
            target=access.app_id,
            changes=lambda rs: {r.setting: [before[r.setting], r.value] for r in rs},
        )
        warnings = [w for r in results for w in r.warnings]
        if warnings:
            return await _versions_page(request, session, access, warnings=warnings)
        return redirect(request, _to(access, "versions", "saved"))
    except (_FormError, AdminError) as exc:
        error = exc.exc if isinstance(exc, _FormError) else exc
        if error.is_not_found:
            raise error from None
        field = _field(error, known)
        if verb == "add":
            key = "version" if field == "form" else field
        elif verb == "settings":
            key = field if field in admin_rules.VERSION_SETTINGS else "settings"
        else:
            key = f"{verb}.{field}"
        typed = dict(form)
        if verb == "settings":
            for name in admin_rules.VERSION_SETTINGS:
                if _kind(name) == "bool":
                    typed[name] = "on" if form.get(name) else ""
        return await _versions_page(
            request,
            session,
            access,
            errors={key: error.message},
            values=typed,
            row=version if verb in {"edit", "remove"} else "",
            status=400,
        )


# -- hashes -------------------------------------------------------------------------------


async def _hashes_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    check, items = await admin.list_allowed_hashes(runtime(request), access.app_id)
    return await _render(
        request,
        session,
        access,
        "hashes",
        {"hash_check": check, "hashes": items, "errors": errors or {}, "values": values or {}},
        status=status,
    )


@router.get("/apps/{app_id}/settings/hashes")
async def hashes(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "hash.list")
    return await _hashes_page(request, session, access)


@router.post("/apps/{app_id}/settings/hashes/{verb}")
async def hash_action(request: Request, app_id: str, verb: str) -> Response:
    if verb not in {"register", "remove", "enable", "disable"}:
        raise _bad_section(verb)
    capability = f"hash.{verb}"
    session, access = await app_page(request, app_id, capability)
    form = await form_values(request)
    rt = runtime(request)
    value = form.get("hash", "")
    if verb in {"enable", "disable"}:
        flag = verb == "enable"
        before = (await admin.get_app_settings(rt, access.app_id))["hash_check"]
        if before == flag:
            return redirect(request, _to(access, "hashes", "nochange"))
        await _change(
            request,
            session,
            access,
            lambda: admin.set_hash_check(rt, access.app_id, flag),
            capability=capability,
            target_type="app",
            target=access.app_id,
            changes={"hash_check": [before, flag]},
        )
        return redirect(request, _to(access, "hashes", "saved"))
    try:
        if verb == "register":
            await _change(
                request,
                session,
                access,
                lambda: admin.add_allowed_hash(rt, access.app_id, value, form.get("note", "")),
                capability=capability,
                target_type="hash",
                target=value.strip().lower(),
                changes=lambda added: {"hash": [None, added.hash]},
            )
            return redirect(request, _to(access, "hashes", "added"))
        text = value.strip().lower()
        await _change(
            request,
            session,
            access,
            lambda: admin.remove_allowed_hash(rt, access.app_id, value),
            capability=capability,
            target_type="hash",
            target=text,
            changes={"hash": [text, None]},
        )
        return redirect(request, _to(access, "hashes", "removed"))
    except _FormError as exc:
        return await _hashes_page(
            request,
            session,
            access,
            errors=exc.errors({"hash", "note"}),
            values=form,
            status=400,
        )


# -- network and SID rules ----------------------------------------------------------------


def _rule_filters(request: Request) -> tuple[str, str]:
    kind = request.query_params.get("kind", "")
    which = request.query_params.get("list", "")
    return (
        kind if kind in admin_rules.RULE_KINDS else "",
        which if which in admin_rules.LISTS else "",
    )


async def _network_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    check: Any = None,
    imported: Any = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    kind, which = _rule_filters(request)
    settings = await admin.get_app_settings(rt, access.app_id)
    rules = await admin.list_rules(rt, access.app_id, kind or None, which or None)
    return await _render(
        request,
        session,
        access,
        "network",
        {
            "rules": rules,
            "kind": kind,
            "list_name": which,
            "kinds": admin_rules.RULE_KINDS,
            "lists": admin_rules.LISTS,
            "vpn_block": settings["vpn_block"],
            "countries": settings["blocked_countries"],
            "errors": errors or {},
            "values": {"countries": settings["blocked_countries"], **(values or {})},
            "check": check,
            "imported": imported,
            "max_import": admin_rules.MAX_IMPORT,
        },
        status=status,
    )


@router.get("/apps/{app_id}/settings/network")
async def network(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "rule.list")
    query = request.query_params
    if "check_ip" not in query and "check_sid" not in query:
        return await _network_page(request, session, access)
    await authorize_app(runtime(request), session, access.app_id, "rule.check")
    typed = {
        "check_ip": query.get("check_ip", "")[:64],
        "check_sid": query.get("check_sid", "")[:128],
        "check_country": query.get("check_country", "")[:2],
    }
    try:
        result = await admin.check_access(
            runtime(request),
            access.app_id,
            typed["check_ip"],
            typed["check_sid"],
            typed["check_country"] or None,
        )
    except AdminError as exc:
        if exc.is_not_found:
            raise
        field = {"ip": "check_ip", "sid": "check_sid", "country": "check_country"}.get(
            _field(exc, {"ip", "sid", "country"}), "check_ip"
        )
        return await _network_page(
            request, session, access, errors={field: exc.message}, values=typed, status=400
        )
    return await _network_page(request, session, access, check=result, values=typed)


def _import_entries(text: str) -> tuple[list[admin_rules.RuleEntry], list[int]]:
    """Lines `kind list value [note]` (blank lines and `#` comments skipped); each entry's
    line number."""
    entries: list[admin_rules.RuleEntry] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 3)
        if len(parts) < 3:
            raise AdminError(
                "INVALID_INPUT",
                f"line {number}: write kind, list and value, as in: ip deny 203.0.113.0/24",
                ["entries"],
            )
        note = parts[3] if len(parts) > 3 else ""
        entries.append(admin_rules.RuleEntry(parts[0], parts[2], parts[1], note))
        lines.append(number)
    return entries, lines


@router.post("/apps/{app_id}/settings/network/{verb}")
async def network_action(request: Request, app_id: str, verb: str) -> Response:
    caps = {
        "add": "rule.add",
        "remove": "rule.remove",
        "import": "rule.import",
        "vpn": "rule.set_vpn_block",
        "countries": "rule.set_countries",
    }
    if verb not in caps:
        raise _bad_section(verb)
    capability = caps[verb]
    session, access = await app_page(request, app_id, capability)
    form = await form_values(request)
    rt = runtime(request)
    settings = await admin.get_app_settings(rt, access.app_id)
    kind = form.get("kind", "")
    which = form.get("list", "deny")
    value = form.get("value", "")
    try:
        if verb == "vpn":
            flag = bool(form.get("enabled"))
            if flag == settings["vpn_block"]:
                return redirect(request, _to(access, "network", "nochange"))
            await _change(
                request,
                session,
                access,
                lambda: admin.set_vpn_block(rt, access.app_id, flag),
                capability=capability,
                target_type="app",
                target=access.app_id,
                changes={"vpn_block": [settings["vpn_block"], flag]},
            )
            return redirect(request, _to(access, "network", "saved"))
        if verb == "countries":
            before = [c for c in settings["blocked_countries"].split(",") if c]

            def countries_diff(result: admin.SettingChange) -> dict[str, Any]:
                after = [c for c in str(result.value).split(",") if c]
                return {"blocked_countries": [before, after]}

            await _change(
                request,
                session,
                access,
                lambda: admin.set_countries(rt, access.app_id, form.get("countries", "")),
                capability=capability,
                target_type="app",
                target=access.app_id,
                changes=countries_diff,
            )
            return redirect(request, _to(access, "network", "saved"))
        if verb == "add":
            if kind not in admin_rules.RULE_KINDS:
                raise AdminError("INVALID_INPUT", "kind must be ip or sid", ["kind"])
            add = admin.add_ip_rule if kind == "ip" else admin.add_sid_rule
            note = form.get("note", "")
            rt_rule = await _add_rule(request, session, access, add, kind, value, which, note)
            return redirect(request, _to(access, "network", "added" if rt_rule else "exists"))
        if verb == "remove":
            if kind not in admin_rules.RULE_KINDS:
                raise _bad_section(kind)
            remove = admin.remove_ip_rule if kind == "ip" else admin.remove_sid_rule
            await _change(
                request,
                session,
                access,
                lambda: remove(rt, access.app_id, value, which),
                capability=capability,
                target_type=f"{kind}-rule",
                target=value.strip(),
                changes={"list": [which, None]},
            )
            return redirect(request, _to(access, "network", "removed"))
        # import: all or none
        entries, lines = _import_entries(form.get("entries", ""))
        try:
            result = await _change(
                request,
                session,
                access,
                lambda: admin.import_rules(rt, access.app_id, entries),
                capability=capability,
                target_type="rules",
                target="import",
                changes=lambda r: {"added": [None, r.added], "existing": [None, r.existing]},
            )
        except _FormError as exc:
            raise _line_error(exc.exc, lines) from None
        return await _network_page(request, session, access, imported=result)
    except (_FormError, AdminError) as exc:
        error = exc.exc if isinstance(exc, _FormError) else exc
        if error.is_not_found:
            raise error from None
        known = {"kind", "list", "value", "note", "countries", "entries"}
        field = _field(error, known | {"sid", "blocked_countries"})
        field = {"sid": "value", "blocked_countries": "countries"}.get(field, field)
        if verb == "import":
            field = "entries"
        elif verb == "countries":
            field = "countries"
        return await _network_page(
            request, session, access, errors={field: error.message}, values=form, status=400
        )


async def _add_rule(
    request: Request,
    session: DashSession,
    access: AppAccess,
    add: Callable[..., Awaitable[admin_rules.Rule]],
    kind: str,
    value: str,
    which: str,
    note: str,
) -> bool:
    """Add one rule; an entry already present changes nothing and leaves no audit entry."""
    rt = runtime(request)
    rule = await _change(
        request,
        session,
        access,
        lambda: add(rt, access.app_id, value, which, note),
        capability="rule.add",
        target_type=f"{kind}-rule",
        target=value.strip(),
        changes=lambda r: {"list": [None, r.list], "note": [None, note]} if r.created else None,
    )
    return rule.created


def _line_error(exc: AdminError, lines: list[int]) -> AdminError:
    """Name a refused import entry by its line in the text box."""
    for name in exc.fields or []:
        if name.startswith("entries."):
            index = int(name.split(".", 1)[1])
            if 0 <= index < len(lines):
                message = exc.message.split(": ", 1)[-1]
                return AdminError(
                    exc.code, f"line {lines[index]}: {message} (nothing was imported)", ["entries"]
                )
    return AdminError(exc.code, exc.message, ["entries"])


# -- responses ----------------------------------------------------------------------------

_CATEGORIES = ("Init", "Auth", "General")


async def _responses_page(
    request: Request,
    session: DashSession,
    access: AppAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    category = request.query_params.get("category", "")
    if category not in _CATEGORIES:
        category = ""
    items = await admin.list_custom_messages(runtime(request), access.app_id, category or None)
    return await _render(
        request,
        session,
        access,
        "responses",
        {
            "messages": items,
            "category": category,
            "categories": _CATEGORIES,
            "custom": sum(1 for m in items if not m.is_default),
            "errors": errors or {},
            "values": values or {},
        },
        status=status,
    )


@router.get("/apps/{app_id}/settings/responses")
async def responses(request: Request, app_id: str) -> Response:
    session, access = await app_page(request, app_id, "response.list")
    return await _responses_page(request, session, access)


@router.post("/apps/{app_id}/settings/responses/{verb}")
async def response_action(request: Request, app_id: str, verb: str) -> Response:
    caps = {"set": "response.set", "reset": "response.reset", "reset-all": "response.reset_all"}
    if verb not in caps:
        raise _bad_section(verb)
    capability = caps[verb]
    session, access = await app_page(request, app_id, capability)
    form = await form_values(request)
    rt = runtime(request)
    category = form.get("category", "")
    back = {"category": category} if category in _CATEGORIES else {}
    if verb == "reset-all":
        count = await _change(
            request,
            session,
            access,
            lambda: admin.reset_all_custom_messages(rt, access.app_id),
            capability=capability,
            target_type="response",
            target="*",
            changes=lambda n: {"overrides": [n, 0]},
        )
        del count
        return redirect(request, _to(access, "responses", "resetall", **back))
    code = form.get("code", "")
    try:
        before = await admin.get_custom_message(rt, access.app_id, code)
    except AdminError as exc:
        if exc.code == "INVALID_INPUT":  # not a customizable code: nothing to show
            raise Refused(404, "Not found", "There is nothing here.") from None
        raise
    message = form.get("message", "")

    async def change() -> Any:
        if verb == "set":
            await admin.set_custom_message(rt, access.app_id, code, message)
        else:
            await admin.reset_custom_message(rt, access.app_id, code)
        return await admin.get_custom_message(rt, access.app_id, code)

    try:
        after = await _change(
            request,
            session,
            access,
            change,
            capability=capability,
            target_type="response",
            target=before.code,
            changes=lambda a: {"message": [before.message, a.message]},
        )
    except _FormError as exc:
        return await _responses_page(
            request,
            session,
            access,
            errors={f"message.{before.code}": exc.exc.message},
            values={before.code: message},
            status=400,
        )
    ok = "reset" if after.is_default else "saved"
    return redirect(request, _to(access, "responses", ok, **back) + f"#r-{before.code}")


@router.get("/apps/{app_id}/settings/{section}")
async def unknown_section(request: Request, app_id: str, section: str) -> Response:
    """A settings address that is no page (the POST actions share its shape): 404."""
    raise _bad_section(section)
