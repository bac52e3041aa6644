"""Admin services on a real database (SQLite, or PostgreSQL via LICENTIA_TEST_DATABASE_URL)."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from licentia.services import admin, admin_licenses, views_licenses, views_users
from licentia.services.runtime import Runtime
from licentia.store import tables as t

from .conftest import AppFixture, FakeClock, make_app

# -- helpers -----------------------------------------------------------------------------


async def count(rt: Runtime, table: Any, *where: Any) -> int:
    async with rt.db.read() as conn:
        query = select(func.count()).select_from(table)
        for clause in where:
            query = query.where(clause)
        return int((await conn.execute(query)).scalar_one())


async def app_row(rt: Runtime, app_id: str) -> Any:
    async with rt.db.read() as conn:
        return (await conn.execute(select(t.apps).where(t.apps.c.id == app_id))).one()


async def config_rev(rt: Runtime, app_id: str) -> int:
    return int((await app_row(rt, app_id)).config_rev)


async def add_session(rt: Runtime, app_id: str, kind: str, identity_id: str) -> str:
    raw = secrets.token_hex(32)
    id_hash = hashlib.sha256(raw.encode()).hexdigest()
    now = rt.clock()
    async with rt.db.write() as conn:
        await conn.execute(
            t.sessions.insert().values(
                id_hash=id_hash,
                prefix=raw[:8],
                app_id=app_id,
                identity_kind=kind,
                identity_id=identity_id,
                created_at=now,
                last_seen_at=now,
            )
        )
    return id_hash


async def session_row(rt: Runtime, id_hash: str) -> Any:
    async with rt.db.read() as conn:
        return (await conn.execute(select(t.sessions).where(t.sessions.c.id_hash == id_hash))).one()


async def expect_error(code: str, coro: Any) -> admin.AdminError:
    with pytest.raises(admin.AdminError) as info:
        await coro
    assert info.value.code == code, info.value
    return info.value


# -- owners ------------------------------------------------------------------------------


async def test_create_owner(rt: Runtime) -> None:
    owner = await admin.create_owner(rt, "Alice", "correct horse", "alice@example.com")
    assert re.fullmatch(r"[1-9]\d{7}", owner.owner_id)
    assert re.fullmatch(r"[A-Z0-9]{12}", owner.public_id)
    async with rt.db.read() as conn:
        row = (await conn.execute(select(t.accounts).where(t.accounts.c.id == owner.id))).one()
    assert row.username == "Alice"
    assert row.username_norm == "alice"
    assert row.email == "alice@example.com"
    assert row.status == "active"
    assert row.password_hash.startswith("$argon2id$")
    assert await rt.passwords.verify(row.password_hash, "correct horse")


async def test_owner_ids_are_distinct(rt: Runtime) -> None:
    owners = [await admin.create_owner(rt, f"user{i}", "pw") for i in range(5)]
    assert len({o.owner_id for o in owners}) == 5
    assert len({o.public_id for o in owners}) == 5


async def test_owner_username_unique_case_insensitively(rt: Runtime) -> None:
    await admin.create_owner(rt, "Straße", "pw")
    await expect_error("ALREADY_EXISTS", admin.create_owner(rt, "STRASSE", "pw"))
    assert await count(rt, t.accounts) == 1


@pytest.mark.parametrize(
    ("username", "password", "email", "field"),
    [
        pytest.param("", "pw", "", "username", id="empty-username"),
        pytest.param("a" * 65, "pw", "", "username", id="long-username"),
        pytest.param("bad<name", "pw", "", "username", id="unsafe-username"),
        pytest.param("ok", "", "", "password", id="empty-password"),
        pytest.param("ok", "p" * 257, "", "password", id="long-password"),
        pytest.param("ok", "pw", "no-at-sign", "email", id="bad-email"),
        pytest.param("ok", "pw", "a@b@c", "email", id="two-ats"),
    ],
)
async def test_create_owner_validation(
    rt: Runtime, username: str, password: str, email: str, field: str
) -> None:
    error = await expect_error("INVALID_INPUT", admin.create_owner(rt, username, password, email))
    assert error.fields == [field]
    assert await count(rt, t.accounts) == 0


async def test_owner_status_bumps_app_revisions(rt: Runtime, demo: AppFixture) -> None:
    before = await config_rev(rt, demo.app_id)
    owner = await admin.set_owner_status(rt, demo.owner.owner_id, "suspended")
    assert owner.status == "suspended"
    assert await config_rev(rt, demo.app_id) == before + 1
    await admin.set_owner_status(rt, demo.owner.owner_id, "suspended")  # no change
    assert await config_rev(rt, demo.app_id) == before + 1
    await admin.set_owner_status(rt, demo.owner.owner_id, "active")
    assert await config_rev(rt, demo.app_id) == before + 2
    await expect_error("INVALID_INPUT", admin.set_owner_status(rt, demo.owner.owner_id, "gone"))
    await expect_error("OWNER_NOT_FOUND", admin.set_owner_status(rt, "99999999", "active"))


# -- apps --------------------------------------------------------------------------------


async def test_create_app_secret_is_stored_encrypted(rt: Runtime) -> None:
    owner = await admin.create_owner(rt, "vendor", "pw")
    created = await admin.create_app(rt, owner.owner_id, "MyApp")
    assert created.owner_id == owner.owner_id
    assert created.app_name == "MyApp"
    assert re.fullmatch(r"[0-9a-f]{64}", created.secret)
    row = await app_row(rt, created.app_id)
    assert created.secret not in row.secret_enc
    assert created.secret.upper() not in row.secret_enc
    assert row.secret_enc.startswith("v1:")
    assert row.name_norm == "myapp"
    assert row.config_rev == 1
    assert await admin.get_app_secret(rt, created.app_id) == created.secret


async def test_regenerate_secret(rt: Runtime, demo: AppFixture) -> None:
    new = await admin.regenerate_secret(rt, demo.app_id)
    assert new != demo.app.secret
    assert await admin.get_app_secret(rt, demo.app_id) == new
    assert await config_rev(rt, demo.app_id) == 2


async def test_app_name_unique_per_owner(rt: Runtime, demo: AppFixture) -> None:
    await expect_error("ALREADY_EXISTS", admin.create_app(rt, demo.owner.owner_id, "MYAPP"))
    other = await admin.create_owner(rt, "other", "pw")
    await admin.create_app(rt, other.owner_id, "MyApp")  # another owner may reuse the name
    assert await count(rt, t.apps) == 2


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 65, id="too-long"),
        pytest.param("a<b", id="lt"),
        pytest.param("a&b", id="amp"),
        pytest.param("a=b", id="eq"),
        pytest.param("it's", id="apostrophe"),
        pytest.param("a\x01b", id="control"),
        pytest.param("a\u2028b", id="line-separator"),
        pytest.param("a\u0085b", id="nel"),
    ],
)
async def test_app_name_validation(rt: Runtime, name: str) -> None:
    owner = await admin.create_owner(rt, "vendor", "pw")
    error = await expect_error("INVALID_INPUT", admin.create_app(rt, owner.owner_id, name))
    assert error.fields == ["name"]
    assert await count(rt, t.apps) == 0


async def test_create_app_unknown_owner(rt: Runtime) -> None:
    await expect_error("OWNER_NOT_FOUND", admin.create_app(rt, "12345678", "App"))


async def test_find_app(rt: Runtime, demo: AppFixture) -> None:
    found = await admin.find_app(rt, demo.owner.owner_id, "myapp")
    assert found is not None and found.app_id == demo.app_id
    assert await admin.find_app(rt, demo.owner.owner_id, "nope") is None


# -- app settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "stored"),
    [
        pytest.param("is_enabled", "off", False, id="bool-off"),
        pytest.param("hwid_lock", "No", False, id="bool-no"),
        pytest.param("user_panel_enabled", "YES", True, id="bool-yes"),
        pytest.param("require_request_signature", "1", True, id="bool-1"),
        pytest.param("allow_password_change", False, False, id="bool-native"),
        pytest.param("client_create_variables", "true", True, id="bool-true"),
        pytest.param("hash_check", "on", True, id="hash-check"),
        pytest.param("vpn_block", "on", True, id="vpn"),
        pytest.param("auto_update_enabled", "on", True, id="auto-update"),
        pytest.param("hwid_reset_cooldown", "0", 0, id="cooldown-zero"),
        pytest.param("hwid_reset_max_per_30_days", "5", 5, id="resets"),
        pytest.param("session_idle_timeout", "120", 120, id="idle"),
        pytest.param("session_max_lifetime", 7200, 7200, id="lifetime-int"),
        pytest.param("log_retention_days", "30", 30, id="retention"),
        pytest.param("url_prefix", "myapp", "myapp", id="url-prefix"),
        pytest.param("blocked_countries", "us, de,US ,fr", "US,DE,FR", id="countries"),
        pytest.param("blocked_countries", "", "", id="countries-clear"),
        pytest.param("latest_version", "1.2.0", "1.2.0", id="latest"),
        pytest.param("latest_version", "", "", id="latest-off"),
        pytest.param(
            "download_url", "https://example.com/app", "https://example.com/app", id="url"
        ),
        pytest.param("reminder_message", "Please update\nsoon", "Please update\nsoon", id="rem"),
        pytest.param("changelog", "- fixed things", "- fixed things", id="changelog"),
        pytest.param("HWID-LOCK", "false", False, id="dashed-upper-name"),
    ],
)
async def test_set_app_setting(
    rt: Runtime, demo: AppFixture, setting: str, value: Any, stored: Any
) -> None:
    change = await admin.set_app_setting(rt, demo.app_id, setting, value)
    assert change.value == stored
    assert change.warnings == []
    row = await app_row(rt, demo.app_id)
    assert getattr(row, change.setting) == stored
    assert row.config_rev == 2


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        pytest.param("is_enabled", "maybe", id="bool"),
        pytest.param("session_idle_timeout", "0", id="idle-zero"),
        pytest.param("session_idle_timeout", "-5", id="negative"),
        pytest.param("session_idle_timeout", "1.5", id="fraction"),
        pytest.param("hwid_reset_cooldown", "abc", id="not-int"),
        pytest.param("log_retention_days", "99999999", id="too-big"),
        pytest.param("blocked_countries", "USA", id="alpha3"),
        pytest.param("blocked_countries", "U1", id="digit"),
        pytest.param("latest_version", "1.0<2", id="version-unsafe"),
        pytest.param("latest_version", "1" * 33, id="version-long"),
        pytest.param("reminder_message", "Update & restart", id="reminder-amp"),
        pytest.param("reminder_message", "x" * 201, id="reminder-long"),
        pytest.param("reminder_message", "tab\there", id="reminder-tab"),
        pytest.param("changelog", "x" * 4001, id="changelog-long"),
        pytest.param("changelog", "bad\x00", id="changelog-nul"),
        pytest.param("changelog", "bad\u2029", id="changelog-ps"),
        pytest.param("download_url", "https://x\ny", id="url-newline-inside"),
    ],
)
async def test_set_app_setting_refused_changes_nothing(
    rt: Runtime, demo: AppFixture, setting: str, value: str
) -> None:
    before = await app_row(rt, demo.app_id)
    error = await expect_error(
        "INVALID_INPUT", admin.set_app_setting(rt, demo.app_id, setting, value)
    )
    assert error.fields == [setting]
    after = await app_row(rt, demo.app_id)
    assert after == before


async def test_unknown_setting_lists_valid_names(rt: Runtime, demo: AppFixture) -> None:
    error = await expect_error(
        "INVALID_INPUT", admin.set_app_setting(rt, demo.app_id, "colour", "blue")
    )
    assert "hwid_lock" in error.message and "changelog" in error.message
    assert await config_rev(rt, demo.app_id) == 1


async def test_changelog_and_url_outside_subset_warn(rt: Runtime, demo: AppFixture) -> None:
    change = await admin.set_app_setting(rt, demo.app_id, "changelog", "a < b & c")
    assert change.value == "a < b & c"
    assert change.warnings and "<" in change.warnings[0]
    url = await admin.set_app_setting(rt, demo.app_id, "download_url", "https://x/?a=1&b=2")
    assert url.warnings
    assert (await app_row(rt, demo.app_id)).config_rev == 3


async def test_set_app_settings_all_or_nothing(rt: Runtime, demo: AppFixture) -> None:
    with pytest.raises(admin.AdminError):
        await admin.set_app_settings(rt, demo.app_id, {"hwid_lock": "false", "is_enabled": "x"})
    row = await app_row(rt, demo.app_id)
    assert row.hwid_lock is True and row.config_rev == 1
    changes = await admin.set_app_settings(
        rt, demo.app_id, {"hwid_lock": "false", "vpn_block": "true"}
    )
    assert [c.setting for c in changes] == ["hwid_lock", "vpn_block"]
    assert await config_rev(rt, demo.app_id) == 2


async def test_setting_unknown_app(rt: Runtime) -> None:
    await expect_error("APP_NOT_FOUND", admin.set_app_setting(rt, "nope", "hwid_lock", "on"))


# -- subscriptions -----------------------------------------------------------------------


async def test_subscriptions(rt: Runtime, demo: AppFixture) -> None:
    premium = await admin.create_subscription(rt, demo.app_id, "Premium", 5)
    assert (premium.name, premium.level) == ("Premium", 5)
    async with rt.db.read() as conn:
        found = await admin.find_subscription(conn, demo.app_id, "PREMIUM")
    assert found is not None and found.id == premium.id
    await expect_error("ALREADY_EXISTS", admin.create_subscription(rt, demo.app_id, "premium", 1))
    await expect_error("INVALID_INPUT", admin.create_subscription(rt, demo.app_id, "a'b", 1))
    await expect_error("INVALID_INPUT", admin.create_subscription(rt, demo.app_id, "ok", "x"))  # type: ignore[arg-type]
    await expect_error("APP_NOT_FOUND", admin.create_subscription(rt, "missing", "X", 1))
    assert await count(rt, t.subscriptions) == 2


# -- license generation ------------------------------------------------------------------

DEFAULT_KEY = re.compile(r"[A-Z0-9]{5}(-[A-Z0-9]{5}){4}")


async def test_generate_default_mask(rt: Runtime, demo: AppFixture) -> None:
    keys = await admin.generate_licenses(rt, demo.app_id, "default", days=30, count=10)
    assert len(keys) == 10 == len(set(keys))
    assert all(DEFAULT_KEY.fullmatch(k) for k in keys)
    async with rt.db.read() as conn:
        rows = (await conn.execute(select(t.licenses))).all()
    assert {r.key for r in rows} == set(keys)
    assert {r.status for r in rows} == {"unused"}
    assert {r.duration_days for r in rows} == {30}
    assert {r.fixed_expiry for r in rows} == {None}
    assert {r.expires_at for r in rows} == {None}
    assert {r.subscription_id for r in rows} == {demo.subscription.id}
    assert {r.created_by for r in rows} == {"cli"}
    assert len({r.batch_id for r in rows}) == 1


async def test_generate_terms(rt: Runtime, demo: AppFixture) -> None:
    fixed = datetime(2027, 1, 1, tzinfo=UTC)
    [life] = await admin.generate_licenses(rt, demo.app_id, "Default", lifetime=True)
    [dated] = await admin.generate_licenses(
        rt, demo.app_id, "Default", expires=fixed, device_limit=0, note="n"
    )
    life_row = await admin.get_license(rt, demo.app_id, life)
    dated_row = await admin.get_license(rt, demo.app_id, dated)
    assert (life_row.duration_days, life_row.fixed_expiry) == (0, None)
    assert (dated_row.duration_days, dated_row.fixed_expiry) == (None, fixed)
    assert dated_row.device_limit == 0


async def test_generate_mask_positions_and_literals(rt: Runtime, demo: AppFixture) -> None:
    mask = "ab-XXXX*-z9_****xYZ"
    keys = await admin.generate_licenses(
        rt,
        demo.app_id,
        "Default",
        days=1,
        count=200,
        mask=mask,
        use_capital=False,
        use_lowercase=True,
        use_numbers=False,
    )
    assert len(set(keys)) == 200
    for key in keys:
        assert len(key) == len(mask)
        for ch, slot in zip(key, mask, strict=True):
            if slot in "X*":
                assert ch in string.ascii_lowercase
            else:
                assert ch == slot


async def test_generate_uniformity(rt: Runtime, demo: AppFixture) -> None:
    keys = await admin.generate_licenses(
        rt, demo.app_id, "Default", days=1, count=2000, mask="XXXXXXXX", use_capital=False
    )
    counts = Counter("".join(keys))
    assert set(counts) == set(string.digits)
    expected = 2000 * 8 / 10
    assert all(abs(n - expected) < expected * 0.15 for n in counts.values())


async def test_generate_many_reports_each_batch(
    rt: Runtime, demo: AppFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_licenses, "INSERT_BATCH", 1000)
    seen: list[int] = []
    keys = await admin.generate_licenses(
        rt, demo.app_id, "Default", days=30, count=5000, progress=seen.append
    )
    assert len(set(keys)) == 5000
    assert await count(rt, t.licenses) == 5000
    assert seen == [1000, 2000, 3000, 4000, 5000]


async def test_cursor_pages_cover_a_same_second_batch_exactly_once(
    rt: Runtime, demo: AppFixture
) -> None:
    """Every key of one batch shares its created_at: pages then seek on the id alone."""
    keys = await admin.generate_licenses(rt, demo.app_id, "Default", days=30, count=1234)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await views_licenses.list_licenses(rt, demo.app_id, cursor=cursor, limit=500)
        seen += [v.key for v in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 1234 and set(seen) == set(keys)
    everything = await views_licenses.list_licenses(rt, demo.app_id, limit=None)
    assert [v.key for v in everything.items] == seen  # the same order as one read


@pytest.mark.parametrize("candidates", [2000, 1], ids=["from-indexes", "list-walk"])
async def test_user_search_by_username_or_email_prefix(
    rt: Runtime, demo: AppFixture, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    candidates: int,
) -> None:  # fmt: skip
    """Few matches are read through the username/email indexes (SQLite), many by walking the
    list order: both give the same users, newest first, case-insensitively."""
    monkeypatch.setattr(views_users, "SEARCH_CANDIDATES", candidates)
    for name, email in [("Zed1", "a@x.io"), ("zed2", "ZED@Mail.io"), ("other", ""), ("Zed3", "")]:
        await admin.create_user(rt, demo.app_id, name, "pw", "Default", days=1, email=email)
        clock.advance(seconds=1)
    found = await views_users.list_users(rt, demo.app_id, search="ZED")
    assert [u.username for u in found.items] == ["Zed3", "zed2", "Zed1"]
    by_mail = await views_users.list_users(rt, demo.app_id, search="zed@m")
    assert [u.username for u in by_mail.items] == ["zed2"]
    paged = await views_users.list_users(rt, demo.app_id, search="zed", limit=2)
    rest = await views_users.list_users(
        rt, demo.app_id, search="zed", limit=2, cursor=paged.next_cursor
    )
    assert [u.username for u in paged.items + rest.items] == ["Zed3", "zed2", "Zed1"]
    assert (await views_users.list_users(rt, demo.app_id, search="nobody")).items == []


async def test_generate_redraws_collisions(
    rt: Runtime, demo: AppFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await admin.add_license(rt, demo.app_id, "TAKEN-KEY-0001", "Default")
    real = admin_licenses.draw_keys
    calls: list[int] = []

    def rigged(mask: Any, alphabet: str, amount: int) -> list[str]:
        calls.append(amount)
        if len(calls) == 1:  # an existing key and a duplicate inside the batch
            fresh = real(mask, alphabet, amount - 2)
            return ["TAKEN-KEY-0001", *fresh, fresh[0]]
        return real(mask, alphabet, amount)

    monkeypatch.setattr(admin_licenses, "draw_keys", rigged)
    keys = await admin.generate_licenses(rt, demo.app_id, "Default", days=1, count=5)
    assert len(set(keys)) == 5
    assert "TAKEN-KEY-0001" not in keys
    assert calls == [5, 1, 1]  # the in-batch duplicate, then the existing key, redrawn
    assert await count(rt, t.licenses) == 6


async def test_generate_fails_when_mask_cannot_yield_new_keys(
    rt: Runtime, demo: AppFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await admin.add_license(rt, demo.app_id, "SAME", "Default")
    monkeypatch.setattr(admin_licenses, "draw_keys", lambda m, a, n: ["SAME"] * n)
    await expect_error(
        "ALREADY_EXISTS", admin.generate_licenses(rt, demo.app_id, "Default", days=1, count=3)
    )
    assert await count(rt, t.licenses) == 1


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        pytest.param({"mask": "XXXX-XXX"}, ["mask"], id="seven-random"),
        pytest.param({"mask": "XXXXXXXX" + "A" * 57}, ["mask"], id="too-long"),
        pytest.param({"mask": "XXXXX-XXXXX-XXXXX!"}, ["mask"], id="bang"),
        pytest.param({"mask": "XXXXX XXXXX"}, ["mask"], id="space"),
        pytest.param({"mask": "XXXXXXXXé"}, ["mask"], id="non-ascii"),
        pytest.param({"count": 0}, ["count"], id="count-zero"),
        pytest.param({"count": 100_001}, ["count"], id="count-too-big"),
        pytest.param({"device_limit": -1}, ["device_limit"], id="negative-limit"),
        pytest.param({"note": "n" * 501}, ["note"], id="long-note"),
        pytest.param(
            {"use_capital": False, "use_numbers": False},
            ["use_capital", "use_lowercase", "use_numbers"],
            id="no-charset",
        ),
        pytest.param({"days": None}, ["days", "expires", "lifetime"], id="no-term"),
        pytest.param({"lifetime": True}, ["days", "expires", "lifetime"], id="two-terms"),
        pytest.param({"days": 0}, ["days"], id="zero-days"),
    ],
)
async def test_generate_refused_creates_nothing(
    rt: Runtime, demo: AppFixture, kwargs: dict[str, Any], fields: list[str]
) -> None:
    args: dict[str, Any] = {"days": 30, "count": 3, **kwargs}
    error = await expect_error(
        "INVALID_INPUT", admin.generate_licenses(rt, demo.app_id, "Default", **args)
    )
    assert error.fields == fields
    assert await count(rt, t.licenses) == 0


async def test_generate_unknown_subscription_or_app(rt: Runtime, demo: AppFixture) -> None:
    await expect_error(
        "SUBSCRIPTION_NOT_FOUND", admin.generate_licenses(rt, demo.app_id, "Gold", days=1)
    )
    await expect_error("APP_NOT_FOUND", admin.generate_licenses(rt, "nope", "Default", days=1))
    assert await count(rt, t.licenses) == 0


def test_mask_literal_x_is_impossible() -> None:
    compiled = admin.compile_mask("XXXX-****-abcx")
    assert compiled.random_positions == 8
    assert compiled.template == "%s%s%s%s-%s%s%s%s-abcx"
    with pytest.raises(admin.AdminError):
        admin.compile_mask("XXXXXXXX-%s")


# -- single keys and state changes -------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["", "k" * 65, "has space", "bad!", "ключ", "a=b"], ids=lambda k: repr(k)[:12]
)
async def test_add_license_validation(rt: Runtime, demo: AppFixture, key: str) -> None:
    await expect_error("INVALID_INPUT", admin.add_license(rt, demo.app_id, key, "Default"))
    assert await count(rt, t.licenses) == 0


async def test_add_license(rt: Runtime, demo: AppFixture) -> None:
    state = await admin.add_license(rt, demo.app_id, "My-Key_1", "Default", days=7, note="vip")
    assert (state.key, state.status, state.duration_days) == ("My-Key_1", "unused", 7)
    lifetime = await admin.add_license(rt, demo.app_id, "my-key_1", "Default")  # case-sensitive
    assert lifetime.duration_days == 0
    await expect_error("ALREADY_EXISTS", admin.add_license(rt, demo.app_id, "My-Key_1", "Default"))


async def test_ban_is_idempotent_and_ends_sessions(rt: Runtime, demo: AppFixture) -> None:
    lic = await admin.add_license(rt, demo.app_id, "BANME", "Default", days=30)
    live = await add_session(rt, demo.app_id, "license", lic.id)
    other = await add_session(rt, demo.app_id, "license", "someone-else")
    state = await admin.ban_license(rt, demo.app_id, "BANME", reason="chargeback")
    assert state.banned and state.ban_reason == "chargeback"
    ended = await session_row(rt, live)
    assert ended.ended_at == rt.clock() and ended.end_reason == "banned"
    assert (await session_row(rt, other)).ended_at is None
    again = await admin.ban_license(rt, demo.app_id, "BANME", reason="second")
    assert again.banned and again.ban_reason == "chargeback"
    assert not (await admin.unban_license(rt, demo.app_id, "BANME")).banned
    unbanned = await admin.unban_license(rt, demo.app_id, "BANME")
    assert not unbanned.banned and unbanned.ban_reason == ""
    await expect_error("LICENSE_NOT_FOUND", admin.ban_license(rt, demo.app_id, "banme"))


async def test_pause_freezes_time(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    lic = await admin.add_license(rt, demo.app_id, "PAUSE-ME", "Default", days=30)
    expiry = clock.now + timedelta(days=30)
    async with rt.db.write() as conn:  # activated, as a client login would do
        await conn.execute(
            t.licenses.update()
            .where(t.licenses.c.id == lic.id)
            .values(status="active", activated_at=clock.now, expires_at=expiry)
        )
    live = await add_session(rt, demo.app_id, "license", lic.id)
    paused = await admin.pause_license(rt, demo.app_id, "PAUSE-ME")
    assert paused.paused
    assert (await session_row(rt, live)).end_reason == "paused"
    clock.advance(days=3)
    await admin.pause_license(rt, demo.app_id, "PAUSE-ME")  # idempotent: paused_at stays
    clock.advance(days=2)
    resumed = await admin.unpause_license(rt, demo.app_id, "PAUSE-ME")
    assert not resumed.paused
    assert resumed.expires_at == expiry + timedelta(days=5)
    same = await admin.unpause_license(rt, demo.app_id, "PAUSE-ME")
    assert same.expires_at == expiry + timedelta(days=5)


async def test_pause_unused_fixed_date_key_moves_the_date(
    rt: Runtime, demo: AppFixture, clock: FakeClock
) -> None:
    fixed = clock.now + timedelta(days=10)
    [key] = await admin.generate_licenses(rt, demo.app_id, "Default", expires=fixed)
    await admin.pause_license(rt, demo.app_id, key)
    clock.advance(hours=12)
    state = await admin.unpause_license(rt, demo.app_id, key)
    assert state.fixed_expiry == fixed + timedelta(hours=12)
    assert state.expires_at is None


async def test_delete_license(rt: Runtime, demo: AppFixture) -> None:
    lic = await admin.add_license(rt, demo.app_id, "GONE", "Default")
    live = await add_session(rt, demo.app_id, "license", lic.id)
    await admin.delete_license(rt, demo.app_id, "GONE")
    assert await count(rt, t.licenses) == 0
    assert (await session_row(rt, live)).end_reason == "deleted"


async def test_unused_keys(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    keys = await admin.generate_licenses(rt, demo.app_id, "Default", days=1, count=3)
    await admin.ban_license(rt, demo.app_id, keys[0])
    await admin.generate_licenses(rt, demo.app_id, "Default", expires=clock.now - timedelta(days=1))
    assert sorted(await admin.unused_keys(rt, demo.app_id)) == sorted(keys[1:])


# -- users -------------------------------------------------------------------------------


async def test_user_lifecycle(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    user = await admin.create_user(rt, demo.app_id, "Mara", "pw", "Default", days=10)
    assert user.expires_at == clock.now + timedelta(days=10)
    await expect_error(
        "ALREADY_EXISTS", admin.create_user(rt, demo.app_id, "MARA", "pw", "Default")
    )
    s1 = await add_session(rt, demo.app_id, "user", user.id)
    banned = await admin.ban_user(rt, demo.app_id, "mara", reason="spam")
    assert banned.banned and (await session_row(rt, s1)).end_reason == "banned"
    assert (await admin.ban_user(rt, demo.app_id, "mara")).banned
    assert not (await admin.unban_user(rt, demo.app_id, "Mara")).banned
    s2 = await add_session(rt, demo.app_id, "user", user.id)
    await admin.pause_user(rt, demo.app_id, "Mara")
    assert (await session_row(rt, s2)).end_reason == "paused"
    clock.advance(days=1)
    resumed = await admin.unpause_user(rt, demo.app_id, "Mara")
    assert user.expires_at is not None
    assert resumed.expires_at == user.expires_at + timedelta(days=1)
    s3 = await add_session(rt, demo.app_id, "user", user.id)
    await admin.delete_user(rt, demo.app_id, "Mara")
    assert (await session_row(rt, s3)).end_reason == "deleted"
    await expect_error("USER_NOT_FOUND", admin.ban_user(rt, demo.app_id, "Mara"))


async def test_lifetime_user_unpause_keeps_lifetime(rt: Runtime, demo: AppFixture) -> None:
    await admin.create_user(rt, demo.app_id, "life", "pw", "Default")
    await admin.pause_user(rt, demo.app_id, "life")
    assert (await admin.unpause_user(rt, demo.app_id, "life")).expires_at is None


# -- devices -----------------------------------------------------------------------------


async def test_create_device(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    mb = await admin.create_device(
        rt, demo.app_id, "Motherboard", "MB-ABC-1", "Default", days=30, name="rig"
    )
    assert (mb.device_type, mb.name) == ("motherboard", "MB-ABC-1")
    assert mb.expires_at == clock.now + timedelta(days=30)
    cpu = await admin.create_device(
        rt, demo.app_id, "processor", "mb-abc-1", "Default", lifetime=True
    )
    assert cpu.expires_at is None
    await expect_error(
        "ALREADY_EXISTS",
        admin.create_device(rt, demo.app_id, "motherboard", "mb-abc-1", "Default"),
    )
    async with rt.db.read() as conn:
        row = (await conn.execute(select(t.devices).where(t.devices.c.id == mb.id))).one()
    assert row.device_id_norm == "mb-abc-1"


@pytest.mark.parametrize(
    ("device_type", "device_id", "field"),
    [
        pytest.param("gpu", "X1", "device_type", id="type"),
        pytest.param("processor", "", "device_id", id="empty"),
        pytest.param("processor", "x" * 129, "device_id", id="long"),
        pytest.param("processor", "a<b", "device_id", id="unsafe"),
        pytest.param("processor", "a'b", "device_id", id="apostrophe"),
    ],
)
async def test_create_device_validation(
    rt: Runtime, demo: AppFixture, device_type: str, device_id: str, field: str
) -> None:
    error = await expect_error(
        "INVALID_INPUT",
        admin.create_device(rt, demo.app_id, device_type, device_id, "Default", days=1),
    )
    assert error.fields == [field]
    assert await count(rt, t.devices) == 0


async def test_device_state_changes(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    dev = await admin.create_device(rt, demo.app_id, "processor", "CPU-1", "Default", days=5)
    live = await add_session(rt, demo.app_id, "device", dev.id)
    assert (await admin.ban_device(rt, demo.app_id, "PROCESSOR", "cpu-1")).banned
    assert (await session_row(rt, live)).end_reason == "banned"
    assert (await admin.ban_device(rt, demo.app_id, "processor", "CPU-1")).banned
    assert not (await admin.unban_device(rt, demo.app_id, "processor", "CPU-1")).banned
    await admin.pause_device(rt, demo.app_id, "processor", "CPU-1")
    clock.advance(hours=6)
    resumed = await admin.unpause_device(rt, demo.app_id, "processor", "CPU-1")
    assert resumed.expires_at == dev.expires_at + timedelta(hours=6)  # type: ignore[operator]
    await expect_error(
        "DEVICE_NOT_FOUND", admin.ban_device(rt, demo.app_id, "motherboard", "CPU-1")
    )


# -- variables and channels --------------------------------------------------------------


async def test_set_variable_create_and_update(rt: Runtime, demo: AppFixture) -> None:
    var = await admin.set_variable(rt, demo.app_id, "motd", "hello")
    assert (var.created, var.writable, var.auth_required) == (True, True, False)
    ro = await admin.set_variable(rt, demo.app_id, "motd", "bye", writable=False)
    assert (ro.created, ro.value, ro.writable) == (False, "bye", False)
    kept = await admin.set_variable(rt, demo.app_id, "motd", "again")
    assert kept.writable is False  # omitted flags are kept on update
    await admin.set_variable(rt, demo.app_id, "MOTD", "other")  # keys are case-sensitive
    assert await count(rt, t.variables) == 2
    warned = await admin.set_variable(rt, demo.app_id, "html", "<b>hi</b>")
    assert warned.warnings


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        pytest.param("", "v", "key", id="empty-key"),
        pytest.param("k" * 65, "v", "key", id="long-key"),
        pytest.param("bad key", "v", "key", id="space"),
        pytest.param("k", "x" * 4097, "value", id="too-many-bytes"),
        pytest.param("k", "é" * 2049, "value", id="multibyte"),
        pytest.param("k", "nul\x00", "value", id="control"),
        pytest.param("k", "sep\u2028", "value", id="separator"),
    ],
)
async def test_set_variable_validation(
    rt: Runtime, demo: AppFixture, key: str, value: str, field: str
) -> None:
    error = await expect_error("INVALID_INPUT", admin.set_variable(rt, demo.app_id, key, value))
    assert error.fields == [field]
    assert await count(rt, t.variables) == 0


async def test_variable_limits_accept_edges(rt: Runtime, demo: AppFixture) -> None:
    await admin.set_variable(rt, demo.app_id, "a.b-c_D", "é" * 2048)
    await admin.set_variable(rt, demo.app_id, "empty", "")
    await admin.set_variable(rt, demo.app_id, "tabs", "a\tb\r\nc")
    assert await count(rt, t.variables) == 3


async def test_channels(rt: Runtime, demo: AppFixture) -> None:
    channel = await admin.create_channel(rt, demo.app_id, "general", send_delay=5)
    assert (channel.name, channel.send_delay, channel.max_messages) == ("general", 5, 10000)
    await expect_error("ALREADY_EXISTS", admin.create_channel(rt, demo.app_id, "GENERAL"))
    await expect_error("INVALID_INPUT", admin.create_channel(rt, demo.app_id, "no spaces"))
    await expect_error("INVALID_INPUT", admin.create_channel(rt, demo.app_id, "x", send_delay=-1))
    assert await count(rt, t.chat_channels) == 1


async def test_mute_user(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    user = await admin.create_user(rt, demo.app_id, "chatter", "pw", "Default")
    await admin.create_channel(rt, demo.app_id, "general")
    everywhere = await admin.mute_user(rt, demo.app_id, "chatter", reason="spam")
    assert everywhere.channel_id is None and everywhere.expires_at is None
    until = clock.now + timedelta(hours=1)
    one = await admin.mute_user(rt, demo.app_id, "CHATTER", "General", expires_at=until)
    assert one.channel_id is not None and one.expires_at == until
    assert one.user_id == user.id
    await expect_error("CHANNEL_NOT_FOUND", admin.mute_user(rt, demo.app_id, "chatter", "nope"))
    await expect_error("USER_NOT_FOUND", admin.mute_user(rt, demo.app_id, "ghost"))
    assert await admin.unmute_user(rt, demo.app_id, "chatter") == 1
    assert await count(rt, t.chat_mutes) == 1


# -- rules -------------------------------------------------------------------------------


async def test_ip_rules(rt: Runtime, demo: AppFixture) -> None:
    rule = await admin.add_ip_rule(rt, demo.app_id, " 10.1.2.3/8 ", "deny", note="lan")
    assert (rule.value, rule.list, rule.created) == ("10.0.0.0/8", "deny", True)
    single = await admin.add_ip_rule(rt, demo.app_id, "2001:DB8::1", "allow")
    assert single.value == "2001:db8::1"
    again = await admin.add_ip_rule(rt, demo.app_id, "10.0.0.0/8", "deny")
    assert not again.created
    assert await config_rev(rt, demo.app_id) == 3
    await expect_error("INVALID_INPUT", admin.add_ip_rule(rt, demo.app_id, "10.0.0.300"))
    await expect_error("INVALID_INPUT", admin.add_ip_rule(rt, demo.app_id, "1.2.3.4", "block"))
    assert await config_rev(rt, demo.app_id) == 3
    await admin.remove_ip_rule(rt, demo.app_id, "10.0.0.0/8", "deny")
    assert await config_rev(rt, demo.app_id) == 4
    await expect_error("RULE_NOT_FOUND", admin.remove_ip_rule(rt, demo.app_id, "10.0.0.0/8"))


async def test_sid_rules(rt: Runtime, demo: AppFixture) -> None:
    rule = await admin.add_sid_rule(rt, demo.app_id, "S-1-5-21-ABC", "deny")
    assert rule.created
    assert not (await admin.add_sid_rule(rt, demo.app_id, "s-1-5-21-abc", "deny")).created
    await admin.add_sid_rule(rt, demo.app_id, "S-1-5-21-ABC", "allow")
    assert await count(rt, t.sid_rules) == 2
    assert await config_rev(rt, demo.app_id) == 3
    await expect_error("INVALID_INPUT", admin.add_sid_rule(rt, demo.app_id, "a=b", "deny"))


async def test_version_rules(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    until = clock.now + timedelta(days=7)
    grace = await admin.add_version_rule(rt, demo.app_id, "1.0.0", "temporary", until)
    assert (grace.mode, grace.allowed_until) == ("grace", until)
    await admin.add_version_rule(rt, demo.app_id, "0.9", "block")
    await expect_error("ALREADY_EXISTS", admin.add_version_rule(rt, demo.app_id, "v1.0", "allow"))
    await expect_error("INVALID_INPUT", admin.add_version_rule(rt, demo.app_id, "2.0", "grace"))
    await expect_error("INVALID_INPUT", admin.add_version_rule(rt, demo.app_id, "2.0", "maybe"))
    await expect_error(
        "INVALID_INPUT", admin.add_version_rule(rt, demo.app_id, "2.0", "block", until)
    )
    assert await count(rt, t.version_rules) == 2
    assert await config_rev(rt, demo.app_id) == 3
    await admin.remove_version_rule(rt, demo.app_id, "0.9.0")
    assert await count(rt, t.version_rules) == 1


async def test_allowed_hashes(rt: Runtime, demo: AppFixture) -> None:
    digest = "AB" * 32
    added = await admin.add_allowed_hash(rt, demo.app_id, digest)
    assert added.hash == "ab" * 32
    await expect_error("ALREADY_EXISTS", admin.add_allowed_hash(rt, demo.app_id, digest.lower()))
    await expect_error("INVALID_INPUT", admin.add_allowed_hash(rt, demo.app_id, "ab" * 31))
    assert await config_rev(rt, demo.app_id) == 2
    await admin.remove_allowed_hash(rt, demo.app_id, digest)
    assert await count(rt, t.allowed_hashes) == 0


async def test_custom_messages(rt: Runtime, demo: AppFixture) -> None:
    msg = await admin.set_custom_message(rt, demo.app_id, "INVALID_SECRET", "Wrong build, sorry")
    assert not msg.is_default
    ok = await admin.set_custom_message(rt, demo.app_id, "ok.licenses", "Welcome back")
    assert ok.code == "OK.licenses"
    async with rt.db.read() as conn:
        rows = dict(
            (
                await conn.execute(select(t.custom_messages.c.code, t.custom_messages.c.message))
            ).all()
        )
    assert rows == {"INVALID_SECRET": "Wrong build, sorry", "OK.licenses": "Welcome back"}
    # Setting the default text removes the override.
    back = await admin.set_custom_message(
        rt, demo.app_id, "INVALID_SECRET", "Invalid application secret"
    )
    assert back.is_default
    assert await count(rt, t.custom_messages) == 1
    assert await config_rev(rt, demo.app_id) == 4


@pytest.mark.parametrize(
    ("code", "message", "field"),
    [
        pytest.param("OWNER_NOT_FOUND", "x", "code", id="system-only"),
        pytest.param("INTERNAL", "x", "code", id="internal"),
        pytest.param("OK", "x", "code", id="bare-ok"),
        pytest.param("OK.nope", "x", "code", id="unknown-endpoint"),
        pytest.param("NOPE", "x", "code", id="unknown"),
        pytest.param("USER_BANNED", "", "message", id="empty"),
        pytest.param("USER_BANNED", "x" * 201, "message", id="long"),
        pytest.param("USER_BANNED", "a & b", "message", id="unsafe"),
        pytest.param("USER_BANNED", "it's", "message", id="apostrophe"),
    ],
)
async def test_custom_message_validation(
    rt: Runtime, demo: AppFixture, code: str, message: str, field: str
) -> None:
    error = await expect_error(
        "INVALID_INPUT", admin.set_custom_message(rt, demo.app_id, code, message)
    )
    assert error.fields == [field]
    assert await count(rt, t.custom_messages) == 0
    assert await config_rev(rt, demo.app_id) == 1


def test_custom_message_codes() -> None:
    codes = admin.custom_message_codes()
    assert "OWNER_NOT_FOUND" not in codes and "INTERNAL" not in codes and "OK" not in codes
    assert "OK.init" in codes and "USER_MUTED" in codes


async def test_two_apps_are_isolated(rt: Runtime, demo: AppFixture) -> None:
    other = await make_app(rt, name="Other")
    await admin.add_license(rt, demo.app_id, "SHARED", "Default")
    await admin.add_license(rt, other.app_id, "SHARED", "Default")  # same key, other app
    await admin.ban_license(rt, other.app_id, "SHARED")
    assert not (await admin.get_license(rt, demo.app_id, "SHARED")).banned
