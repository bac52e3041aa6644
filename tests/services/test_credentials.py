"""API tokens and the Elite Key (management A.2, B.1, B.2): secrets leave once, digests only,
scope semantics, validation that changes nothing, and an audit entry for every change."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from licentia.services import admin, credentials
from licentia.services.admin_common import AdminError
from licentia.services.audit import Actor
from licentia.services.credentials import TokenPrincipal
from licentia.services.runtime import Runtime
from licentia.store.tables import api_tokens, audit_log, elite_keys, metadata

from .conftest import AppFixture, FakeClock, make_app

TOKEN_RE = re.compile(r"lic_[A-Za-z0-9]{40}")
ELITE_RE = re.compile(r"ek_[A-Za-z0-9_-]{43}")


async def every_value(rt: Runtime) -> str:
    """Every value of every row of every table, as text."""
    parts: list[str] = []
    async with rt.db.read() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


async def count(rt: Runtime, table: Any, *where: Any) -> int:
    async with rt.db.read() as conn:
        query = select(func.count()).select_from(table)
        for clause in where:
            query = query.where(clause)
        return int((await conn.execute(query)).scalar_one())


async def audit_rows(rt: Runtime) -> list[Any]:
    async with rt.db.read() as conn:
        return list((await conn.execute(select(audit_log).order_by(audit_log.c.id))).all())


# -- API tokens --------------------------------------------------------------------------


async def test_create_token_shows_the_secret_once_and_stores_only_a_keyed_digest(
    rt: Runtime, demo: AppFixture
) -> None:
    info, plaintext = await credentials.create_token(
        rt, demo.owner.owner_id, "ci", ["license:write", "user.ban"], [demo.app_id]
    )
    assert TOKEN_RE.fullmatch(plaintext)
    assert info.prefix == plaintext[:8]
    assert info.scopes == ["license:write", "user.ban"]
    assert info.app_ids == [demo.app_id]
    assert plaintext not in await every_value(rt)
    assert plaintext[8:] not in await every_value(rt)

    async with rt.db.read() as conn:
        row = (await conn.execute(select(api_tokens))).one()
    # HMAC-SHA256 keyed with an HKDF subkey of the master key, never the bare master key.
    key = rt.box.derive(b"licentia token lookup")
    assert row.digest == hmac.new(key, plaintext.encode(), hashlib.sha256).hexdigest()
    assert row.digest != hashlib.sha256(plaintext.encode()).hexdigest()

    listed = await credentials.list_tokens(rt, demo.owner.owner_id)
    assert [t.id for t in listed] == [info.id]
    assert plaintext not in repr(listed)


async def test_authenticate_token(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    info, plaintext = await credentials.create_token(
        rt, demo.owner.owner_id, "ci", ["license:read"]
    )
    principal = await credentials.authenticate_token(rt, plaintext)
    assert principal is not None
    assert principal.token_id == info.id
    assert principal.owner_id == demo.owner.owner_id
    assert principal.owner_account_id == demo.owner.id
    assert principal.scopes == frozenset({"license:read"})
    assert principal.app_ids is None
    (listed,) = await credentials.list_tokens(rt, demo.owner.owner_id)
    assert listed.last_used_at == clock.now

    clock.advance(minutes=5)
    assert await credentials.authenticate_token(rt, plaintext) is not None
    (listed,) = await credentials.list_tokens(rt, demo.owner.owner_id)
    assert listed.last_used_at == clock.now


@pytest.mark.parametrize(
    "candidate",
    [
        pytest.param("", id="empty"),
        pytest.param("lic_", id="prefix-only"),
        pytest.param("lic_" + "A" * 40, id="unknown"),
        pytest.param("LIC_" + "A" * 40, id="wrong-prefix"),
        pytest.param("lic_" + "A" * 41, id="too-long"),
    ],
)
async def test_unknown_or_malformed_tokens_do_not_authenticate(
    rt: Runtime, demo: AppFixture, candidate: str
) -> None:
    await credentials.create_token(rt, demo.owner.owner_id, "ci", ["license:read"])
    assert await credentials.authenticate_token(rt, candidate) is None


async def test_a_token_with_one_character_changed_does_not_authenticate(
    rt: Runtime, demo: AppFixture
) -> None:
    _, plaintext = await credentials.create_token(rt, demo.owner.owner_id, "ci", ["app:read"])
    last = "B" if plaintext[-1] != "B" else "C"
    assert await credentials.authenticate_token(rt, plaintext[:-1] + last) is None


async def test_revoked_token_stops_working_and_revoke_is_idempotent(
    rt: Runtime, demo: AppFixture
) -> None:
    info, plaintext = await credentials.create_token(rt, demo.owner.owner_id, "ci", ["app:read"])
    revoked = await credentials.revoke_token(rt, demo.owner.owner_id, info.id)
    assert revoked.revoked_at is not None
    assert await credentials.authenticate_token(rt, plaintext) is None
    again = await credentials.revoke_token(rt, demo.owner.owner_id, info.id)
    assert again.revoked_at == revoked.revoked_at
    caps = [r.capability for r in await audit_rows(rt)]
    assert caps.count("token.revoke") == 1


async def test_expired_token_does_not_authenticate(
    rt: Runtime, demo: AppFixture, clock: FakeClock
) -> None:
    expiry = clock.now + timedelta(hours=1)
    info, plaintext = await credentials.create_token(
        rt, demo.owner.owner_id, "ci", ["app:read"], expires_at=expiry
    )
    assert info.expires_at == expiry
    assert await credentials.authenticate_token(rt, plaintext) is not None
    clock.advance(hours=1)
    assert await credentials.authenticate_token(rt, plaintext) is None
    (listed,) = await credentials.list_tokens(rt, demo.owner.owner_id)
    assert listed.status(clock.now) == "expired"


async def test_a_foreign_owner_cannot_revoke_or_see_a_token(rt: Runtime, demo: AppFixture) -> None:
    info, plaintext = await credentials.create_token(rt, demo.owner.owner_id, "ci", ["app:read"])
    other = await make_app(rt, name="Other")
    with pytest.raises(AdminError) as caught:
        await credentials.revoke_token(rt, other.owner.owner_id, info.id)
    assert caught.value.is_not_found
    assert caught.value.code == "TOKEN_NOT_FOUND"
    assert await credentials.list_tokens(rt, other.owner.owner_id) == []
    assert await credentials.authenticate_token(rt, plaintext) is not None
    with pytest.raises(AdminError) as caught:
        await credentials.revoke_token(rt, demo.owner.owner_id, "not-a-uuid")
    assert caught.value.code == "TOKEN_NOT_FOUND"


async def test_scopes_are_normalized_and_deduplicated(rt: Runtime, demo: AppFixture) -> None:
    info, _ = await credentials.create_token(
        rt, demo.owner.owner_id, "ci", [" License:Write ", "license:write", "user.reset_hwid"]
    )
    assert info.scopes == ["license:write", "user.reset_hwid"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        pytest.param({"scopes": ["bogus.list"]}, "INVALID_INPUT", id="unknown-resource"),
        pytest.param({"scopes": ["license"]}, "INVALID_INPUT", id="no-action"),
        pytest.param({"scopes": ["license:admin"]}, "INVALID_INPUT", id="bad-shorthand"),
        pytest.param({"scopes": ["license.Ban!"]}, "INVALID_INPUT", id="bad-action"),
        pytest.param({"scopes": ["*"]}, "INVALID_INPUT", id="wildcard"),
        pytest.param({"scopes": []}, "INVALID_INPUT", id="no-scopes"),
        pytest.param({"scopes": "license:read"}, "INVALID_INPUT", id="scopes-string"),
        pytest.param({"name": ""}, "INVALID_INPUT", id="empty-name"),
        pytest.param({"name": "x" * 65}, "INVALID_INPUT", id="long-name"),
        pytest.param({"name": "a\x00b"}, "INVALID_INPUT", id="control-name"),
        pytest.param({"app_ids": []}, "INVALID_INPUT", id="empty-app-list"),
        pytest.param({"app_ids": ["nope"]}, "APP_NOT_FOUND", id="unknown-app"),
        pytest.param({"expires": -1}, "INVALID_INPUT", id="past-expiry"),
        pytest.param({"expires": 0}, "INVALID_INPUT", id="expiry-now"),
        pytest.param({"owner": "99999999"}, "OWNER_NOT_FOUND", id="unknown-owner"),
    ],
)
async def test_invalid_token_requests_change_nothing(
    rt: Runtime, demo: AppFixture, clock: FakeClock, kwargs: dict[str, Any], code: str
) -> None:
    expires = kwargs.get("expires")
    with pytest.raises(AdminError) as caught:
        await credentials.create_token(
            rt,
            kwargs.get("owner", demo.owner.owner_id),
            kwargs.get("name", "ci"),
            kwargs.get("scopes", ["license:read"]),
            kwargs.get("app_ids"),
            None if expires is None else clock.now + timedelta(seconds=expires),
        )
    assert caught.value.code == code
    assert await count(rt, api_tokens) == 0
    assert await count(rt, audit_log) == 0


async def test_another_owners_app_cannot_be_in_the_app_limit(rt: Runtime, demo: AppFixture) -> None:
    other = await make_app(rt, name="Other")
    with pytest.raises(AdminError) as caught:
        await credentials.create_token(
            rt, demo.owner.owner_id, "ci", ["license:read"], [demo.app_id, other.app_id]
        )
    assert caught.value.code == "APP_NOT_FOUND"
    assert await count(rt, api_tokens) == 0


def _principal(scopes: set[str], app_ids: set[str] | None = None) -> TokenPrincipal:
    return TokenPrincipal(
        token_id="t",
        name="n",
        account_id="a",
        owner_account_id="a",
        owner_id="12345678",
        owner_status="active",
        scopes=frozenset(scopes),
        app_ids=None if app_ids is None else frozenset(app_ids),
    )


@pytest.mark.parametrize(
    ("scopes", "app_limit", "capability", "app_id", "allowed"),
    [
        pytest.param({"license:write"}, None, "license.ban", "A", True, id="write-covers-ban"),
        pytest.param({"license:write"}, None, "license.generate", "A", True, id="write-gen"),
        pytest.param({"license:write"}, None, "license.reset_hwid", "A", True, id="write-hwid"),
        pytest.param({"license:write"}, None, "license.list", "A", False, id="write-not-read"),
        pytest.param({"license:write"}, None, "user.ban", "A", False, id="other-resource"),
        pytest.param({"license:read"}, None, "license.list", "A", True, id="read-list"),
        pytest.param({"license:read"}, None, "license.info", "A", True, id="read-info"),
        pytest.param({"license:read"}, None, "license.export", "A", True, id="read-export"),
        pytest.param({"app:read"}, None, "app.usage", "A", True, id="read-usage"),
        pytest.param({"version:read"}, None, "version.test", "A", True, id="read-test"),
        pytest.param({"user:read"}, None, "user.verify_password", "A", True, id="read-verify"),
        pytest.param({"license:read"}, None, "license.ban", "A", False, id="read-not-ban"),
        pytest.param({"license:read"}, None, "license.delete", "A", False, id="read-not-delete"),
        pytest.param({"user.ban"}, None, "user.ban", "A", True, id="exact"),
        pytest.param({"user.ban"}, None, "user.unban", "A", False, id="exact-only"),
        pytest.param({"user.ban"}, None, "user", "A", False, id="malformed-capability"),
        pytest.param({"user:write"}, None, "nothing.ban", "A", False, id="unknown-resource"),
        pytest.param({"license:write"}, {"A"}, "license.ban", "A", True, id="in-app-limit"),
        pytest.param({"license:write"}, {"A"}, "license.ban", "B", False, id="outside-limit"),
        pytest.param({"app:read"}, {"A"}, "app.list", None, True, id="limited-account-read"),
        pytest.param({"token:write"}, {"A"}, "token.create", None, False, id="limited-acct-w"),
        pytest.param({"token:write"}, None, "token.create", None, True, id="account-write"),
    ],
)
def test_token_allows(
    scopes: set[str],
    app_limit: set[str] | None,
    capability: str,
    app_id: str | None,
    allowed: bool,
) -> None:
    assert credentials.token_allows(_principal(scopes, app_limit), capability, app_id) is allowed


async def test_deleting_the_owner_deletes_its_tokens(rt: Runtime, demo: AppFixture) -> None:
    from licentia.store.tables import accounts

    await credentials.create_token(rt, demo.owner.owner_id, "ci", ["app:read"])
    async with rt.db.write() as conn:
        await conn.execute(accounts.delete().where(accounts.c.id == demo.owner.id))
    assert await count(rt, api_tokens) == 0
    assert await count(rt, audit_log) == 1  # the log outlives the owner


# -- the Elite Key -----------------------------------------------------------------------


async def test_rotate_creates_a_key_that_authenticates(
    rt: Runtime, demo: AppFixture, clock: FakeClock
) -> None:
    owner = demo.owner.owner_id
    assert await credentials.get_elite_settings(rt, owner) == credentials.EliteSettings(
        owner, False, None, None, None, None, [], [], [], [], []
    )
    key = await credentials.rotate_elite_key(rt, owner)
    assert ELITE_RE.fullmatch(key)
    assert key not in await every_value(rt)
    assert key[3:] not in await every_value(rt)
    principal = await credentials.authenticate_elite_key(rt, key, ip="203.0.113.7")
    assert principal is not None
    assert principal.account_id == demo.owner.id
    assert principal.owner_id == owner
    assert not principal.suspended
    settings = await credentials.get_elite_settings(rt, owner)
    assert settings.has_key and settings.prefix == key[:8]
    assert settings.created_at == clock.now
    assert settings.last_used_at == clock.now
    assert settings.last_used_ip == "203.0.113.7"
    assert "ek_" not in repr(settings.as_dict()).replace(key[:8], "")


async def test_rotation_invalidates_the_old_key_at_once(rt: Runtime, demo: AppFixture) -> None:
    owner = demo.owner.owner_id
    old = await credentials.rotate_elite_key(rt, owner)
    new = await credentials.rotate_elite_key(rt, owner)
    assert old != new
    assert await credentials.authenticate_elite_key(rt, old) is None
    assert await credentials.authenticate_elite_key(rt, new) is not None
    assert await count(rt, elite_keys) == 1


async def test_delete_removes_the_key_and_keeps_the_settings(rt: Runtime, demo: AppFixture) -> None:
    owner = demo.owner.owner_id
    key = await credentials.rotate_elite_key(rt, owner)
    await credentials.add_elite_rule(rt, owner, "ip_deny", "198.51.100.1")
    assert await credentials.delete_elite_key(rt, owner) is True
    assert await credentials.authenticate_elite_key(rt, key) is None
    assert await credentials.delete_elite_key(rt, owner) is False
    settings = await credentials.get_elite_settings(rt, owner)
    assert not settings.has_key and settings.prefix is None
    assert settings.ip_deny == ["198.51.100.1"]
    caps = [r.capability for r in await audit_rows(rt)]
    assert caps == ["elite-key.rotate", "elite-key.add_rule", "elite-key.delete"]


@pytest.mark.parametrize(
    "candidate",
    [
        pytest.param("", id="empty"),
        pytest.param("ek_" + "A" * 43, id="unknown"),
        pytest.param("ek_" + "A" * 42, id="short"),
        pytest.param("lic_" + "A" * 40, id="api-token"),
    ],
)
async def test_unknown_elite_keys_do_not_authenticate(
    rt: Runtime, demo: AppFixture, candidate: str
) -> None:
    await credentials.rotate_elite_key(rt, demo.owner.owner_id)
    assert await credentials.authenticate_elite_key(rt, candidate) is None


async def test_a_suspended_owners_key_reports_the_suspension(rt: Runtime, demo: AppFixture) -> None:
    key = await credentials.rotate_elite_key(rt, demo.owner.owner_id)
    await admin.set_owner_status(rt, demo.owner.owner_id, "suspended")
    principal = await credentials.authenticate_elite_key(rt, key)
    assert principal is not None and principal.suspended


async def test_capability_toggles(rt: Runtime, demo: AppFixture) -> None:
    owner = demo.owner.owner_id
    settings = await credentials.set_elite_capabilities(
        rt, owner, ["user.delete", "License.Ban", "user.delete"]
    )
    assert settings.disabled_capabilities == ["license.ban", "user.delete"]
    settings = await credentials.update_elite_capabilities(
        rt, owner, disable=["variable.set"], enable=["user.delete"]
    )
    assert settings.disabled_capabilities == ["license.ban", "variable.set"]
    # no change: no audit entry
    await credentials.update_elite_capabilities(rt, owner, disable=["license.ban"])
    rows = [r for r in await audit_rows(rt) if r.capability == "elite-key.set_capabilities"]
    assert len(rows) == 2


@pytest.mark.parametrize(
    "capabilities",
    [
        pytest.param(["ping.ping"], id="ping"),
        pytest.param(["ping"], id="ping-bare"),
        pytest.param(["license.fly"], id="unknown-action"),
        pytest.param(["token.create"], id="not-an-elite-function"),
        pytest.param(["license"], id="no-action"),
        pytest.param("license.ban", id="string"),
    ],
)
async def test_invalid_capability_toggles_change_nothing(
    rt: Runtime, demo: AppFixture, capabilities: Any
) -> None:
    await credentials.set_elite_capabilities(rt, demo.owner.owner_id, ["license.ban"])
    before = await count(rt, audit_log)
    with pytest.raises(AdminError) as caught:
        await credentials.set_elite_capabilities(rt, demo.owner.owner_id, capabilities)
    assert caught.value.code == "INVALID_INPUT"
    settings = await credentials.get_elite_settings(rt, demo.owner.owner_id)
    assert settings.disabled_capabilities == ["license.ban"]
    assert await count(rt, audit_log) == before


@pytest.mark.parametrize(
    ("list_name", "value", "stored"),
    [
        pytest.param("ip_allow", " 203.0.113.7 ", "203.0.113.7", id="ipv4"),
        pytest.param("ip_allow", "10.1.2.3/8", "10.0.0.0/8", id="cidr-host-bits"),
        pytest.param("ip_deny", "2001:DB8::1", "2001:db8::1", id="ipv6"),
        pytest.param("ip_deny", "2001:db8::/32", "2001:db8::/32", id="ipv6-cidr"),
        pytest.param("domain_allow", "Example.COM.", "example.com", id="domain"),
        pytest.param("domain_deny", "*.example.com", "*.example.com", id="wildcard"),
        pytest.param("domain_allow", "bücher.example", "xn--bcher-kva.example", id="idn"),
        pytest.param("domain_allow", "localhost", "localhost", id="single-label"),
    ],
)
async def test_rules_are_validated_and_normalized(
    rt: Runtime, demo: AppFixture, list_name: str, value: str, stored: str
) -> None:
    owner = demo.owner.owner_id
    settings = await credentials.add_elite_rule(rt, owner, list_name, value)
    assert settings.rules(list_name) == [stored]
    again = await credentials.add_elite_rule(rt, owner, list_name, stored)  # idempotent
    assert again.rules(list_name) == [stored]
    rows = await audit_rows(rt)
    assert [r.capability for r in rows] == ["elite-key.add_rule"]
    settings = await credentials.remove_elite_rule(rt, owner, list_name, value)
    assert settings.rules(list_name) == []
    assert (await audit_rows(rt))[-1].capability == "elite-key.remove_rule"


@pytest.mark.parametrize(
    ("list_name", "value"),
    [
        pytest.param("ip_allow", "300.1.1.1", id="bad-ip"),
        pytest.param("ip_allow", "10.0.0.0/33", id="bad-prefix"),
        pytest.param("ip_allow", "example.com", id="host-in-ip-list"),
        pytest.param("ip_deny", "", id="empty-ip"),
        pytest.param("domain_allow", "", id="empty-domain"),
        pytest.param("domain_allow", "*.", id="bare-wildcard"),
        pytest.param("domain_allow", "exa mple.com", id="space"),
        pytest.param("domain_allow", "a..b", id="empty-label"),
        pytest.param("domain_allow", "foo.*.com", id="inner-wildcard"),
        pytest.param("domain_allow", "-bad.com", id="leading-hyphen"),
        pytest.param("domain_allow", "https://example.com", id="url"),
        pytest.param("domain_deny", "x" * 64 + ".com", id="long-label"),
        pytest.param("ip_block", "1.2.3.4", id="unknown-list"),
    ],
)
async def test_invalid_rules_change_nothing(
    rt: Runtime, demo: AppFixture, list_name: str, value: str
) -> None:
    with pytest.raises(AdminError) as caught:
        await credentials.add_elite_rule(rt, demo.owner.owner_id, list_name, value)
    assert caught.value.code == "INVALID_INPUT"
    assert await count(rt, elite_keys) == 0
    assert await count(rt, audit_log) == 0


async def test_removing_an_absent_rule_is_not_found(rt: Runtime, demo: AppFixture) -> None:
    with pytest.raises(AdminError) as caught:
        await credentials.remove_elite_rule(rt, demo.owner.owner_id, "ip_allow", "1.2.3.4")
    assert caught.value.code == "RULE_NOT_FOUND"
    assert await count(rt, audit_log) == 0


async def test_elite_calls_for_an_unknown_owner(rt: Runtime) -> None:
    for call in (
        credentials.rotate_elite_key(rt, "99999999"),
        credentials.get_elite_settings(rt, "99999999"),
        credentials.add_elite_rule(rt, "99999999", "ip_allow", "1.2.3.4"),
    ):
        with pytest.raises(AdminError) as caught:
            await call
        assert caught.value.code == "OWNER_NOT_FOUND"


# -- auditing ----------------------------------------------------------------------------


async def test_every_mutation_is_audited_without_secrets(
    rt: Runtime, demo: AppFixture, clock: FakeClock
) -> None:
    owner = demo.owner.owner_id
    actor = Actor(kind="account", name=demo.owner.id, face="dashboard", ip="192.0.2.9")
    info, token = await credentials.create_token(
        rt, owner, "deploy", ["license:write"], [demo.app_id], actor=actor
    )
    await credentials.revoke_token(rt, owner, info.id)
    key = await credentials.rotate_elite_key(rt, owner)
    await credentials.set_elite_capabilities(rt, owner, ["license.ban"])
    await credentials.add_elite_rule(rt, owner, "domain_allow", "example.com")
    await credentials.remove_elite_rule(rt, owner, "domain_allow", "example.com")
    await credentials.delete_elite_key(rt, owner)

    rows = await audit_rows(rt)
    assert [r.capability for r in rows] == [
        "token.create",
        "token.revoke",
        "elite-key.rotate",
        "elite-key.set_capabilities",
        "elite-key.add_rule",
        "elite-key.remove_rule",
        "elite-key.delete",
    ]
    assert all(r.owner_account_id == demo.owner.id and r.result == "ok" for r in rows)
    assert all(r.created_at == clock.now for r in rows)
    first = rows[0]
    assert (first.actor_kind, first.actor, first.face, first.actor_ip) == (
        "account",
        demo.owner.id,
        "dashboard",
        "192.0.2.9",
    )
    assert (first.target_type, first.target) == ("token", info.id)
    assert all((r.actor_kind, r.face) == ("cli", "cli") for r in rows[1:])
    assert '"changed"' in rows[2].changes
    assert rows[2].changes == '{"elite_key":"changed"}'
    text = "\n".join(str(v) for r in rows for v in r)
    assert token not in text and key not in text
