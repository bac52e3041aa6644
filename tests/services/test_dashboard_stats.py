"""The overview numbers: per-UTC-day series from auth events, sessions and usage counts."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from licentia.services import dashboard_stats
from licentia.services.admin_common import AdminError
from licentia.services.runtime import Runtime
from licentia.store.tables import auth_events, sessions, usage_daily
from tests.services.conftest import START, AppFixture, FakeClock, make_app

TODAY = START.date()  # 2026-04-13, the clock reads 12:00 UTC


def at(days_ago: int, hour: int = 10) -> datetime:
    day = TODAY - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)


async def _events(rt: Runtime, app_id: str | None, rows: list[tuple[int, str, str]]) -> None:
    async with rt.db.write() as conn:
        await conn.execute(
            auth_events.insert(),
            [
                {"app_id": app_id, "endpoint": ep, "code": code, "created_at": at(ago)}
                for ago, ep, code in rows
            ],
        )


async def _session(
    rt: Runtime, app_id: str, opened: datetime, seen: datetime, identity: str | None = ""
) -> None:
    """One session of a signed-in user (a new one unless `identity` names it); `None`: an
    app start that only ran init (no identity)."""
    async with rt.db.write() as conn:
        await conn.execute(
            sessions.insert().values(
                id_hash=secrets.token_hex(32),
                prefix="abcd1234",
                app_id=app_id,
                identity_kind="none" if identity is None else "user",
                identity_id=None if identity is None else identity or str(uuid.uuid4()),
                created_at=opened,
                last_seen_at=seen,
            )
        )


def _by_day(series: list[dashboard_stats.DayCount]) -> dict[str, int]:
    return {p.day: p.count for p in series if p.count}


async def test_empty_app_has_zero_series(rt: Runtime, demo: AppFixture) -> None:
    stats = await dashboard_stats.overview_stats(rt, demo.app_id, 7)
    assert stats.first_day == (TODAY - timedelta(days=6)).isoformat()
    assert stats.last_day == TODAY.isoformat()
    for series in (stats.api_calls, stats.registrations, stats.logins, stats.active_sessions):
        assert [p.day for p in series][-1] == TODAY.isoformat()
        assert len(series) == 7 and all(p.count == 0 for p in series)
    assert stats.failures == [] and stats.failed_calls == 0 and stats.auth_calls == 0
    assert stats.log_retention_days == 90


async def test_series_count_per_utc_day(rt: Runtime, demo: AppFixture) -> None:
    other = await make_app(rt, name="Other")
    await _events(
        rt,
        demo.app_id,
        [
            (0, "register", "OK"),
            (0, "register", "OK"),
            (0, "register", "USERNAME_TAKEN"),
            (1, "login", "OK"),
            (1, "licenses", "OK"),
            (1, "device-auth", "OK"),
            (1, "login", "INVALID_PASSWORD"),
            (1, "login", "INVALID_PASSWORD"),
            (2, "init", "OK"),  # neither a login nor a registration
            (2, "extend", "OK"),
            (6, "login", "OK"),
            (7, "login", "OK"),  # outside the 7 days
            (20, "register", "OK"),
        ],
    )
    await _events(rt, other.app_id, [(0, "register", "OK"), (0, "login", "BANNED")])
    await _events(rt, None, [(0, "login", "OK")])  # app unresolved: nobody's
    # Sessions: open 3 days ago, last seen yesterday (3 days); today only; long gone. The chart
    # counts people: an app start is not counted, a second session of one user counts once.
    alice = str(uuid.uuid4())
    await _session(rt, demo.app_id, at(3), at(1, 23), alice)
    await _session(rt, demo.app_id, at(2), at(1), alice)
    await _session(rt, demo.app_id, at(5), at(0), None)
    await _session(rt, demo.app_id, at(0, 1), at(0, 2))
    await _session(rt, demo.app_id, at(40), at(9))
    await _session(rt, demo.app_id, at(12), at(0))  # opened before the range, seen today
    await _session(rt, other.app_id, at(0), at(0))
    async with rt.db.write() as conn:
        await conn.execute(
            usage_daily.insert(),
            [
                {
                    "app_id": demo.app_id,
                    "day": at(0).date().isoformat(),
                    "endpoint": "init",
                    "count": 5,
                },
                {
                    "app_id": demo.app_id,
                    "day": at(0).date().isoformat(),
                    "endpoint": "login",
                    "count": 3,
                },
                {
                    "app_id": demo.app_id,
                    "day": at(5).date().isoformat(),
                    "endpoint": "init",
                    "count": 2,
                },
                {
                    "app_id": other.app_id,
                    "day": at(0).date().isoformat(),
                    "endpoint": "init",
                    "count": 9,
                },
            ],
        )

    week = await dashboard_stats.overview_stats(rt, demo.app_id, 7)
    d = lambda ago: at(ago).date().isoformat()  # noqa: E731
    assert _by_day(week.registrations) == {d(0): 2}
    assert _by_day(week.logins) == {d(1): 3, d(6): 1}
    assert _by_day(week.api_calls) == {d(0): 8, d(5): 2}
    assert _by_day(week.active_sessions) == {
        d(0): 2,
        d(1): 2,
        d(2): 2,
        d(3): 2,
        d(4): 1,
        d(5): 1,
        d(6): 1,
    }
    assert week.failed_calls == 3 and week.auth_calls == 11
    assert [(f.code, f.count) for f in week.failures] == [
        ("INVALID_PASSWORD", 2),
        ("USERNAME_TAKEN", 1),
    ]
    assert week.failures[0].share == pytest.approx(2 / 3)

    month = await dashboard_stats.overview_stats(rt, demo.app_id, 30)
    assert len(month.logins) == 30
    assert _by_day(month.registrations) == {d(0): 2, d(20): 1}
    assert _by_day(month.logins) == {d(1): 3, d(6): 1, d(7): 1}
    assert (
        _by_day(month.active_sessions)[d(9)] == 2
    )  # the old session's last day, and the 12-day one


async def test_day_boundaries_are_utc(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    midnight = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    async with rt.db.write() as conn:
        await conn.execute(
            auth_events.insert(),
            [
                {"app_id": demo.app_id, "endpoint": "login", "code": "OK", "created_at": midnight},
                {
                    "app_id": demo.app_id,
                    "endpoint": "login",
                    "code": "OK",
                    "created_at": midnight - timedelta(microseconds=1),
                },
                # In the future of the clock: not in any day yet.
                {
                    "app_id": demo.app_id,
                    "endpoint": "login",
                    "code": "OK",
                    "created_at": midnight + timedelta(days=1),
                },
            ],
        )
    stats = await dashboard_stats.overview_stats(rt, demo.app_id, 7)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert _by_day(stats.logins) == {TODAY.isoformat(): 1, yesterday: 1}


async def test_many_codes_fold_into_other(rt: Runtime, demo: AppFixture) -> None:
    codes = [f"CODE_{n:02d}" for n in range(11)]
    await _events(rt, demo.app_id, [(0, "login", c) for c in codes] + [(0, "login", "CODE_00")])
    stats = await dashboard_stats.overview_stats(rt, demo.app_id, 7)
    assert stats.failures[0].code == "CODE_00"
    assert len(stats.failures) == dashboard_stats.TOP_CODES + 1
    assert stats.failures[-1].code == dashboard_stats.OTHER and stats.failures[-1].count == 3
    assert sum(f.share for f in stats.failures) == pytest.approx(1.0)


async def test_bad_range_and_unknown_app(rt: Runtime, demo: AppFixture) -> None:
    with pytest.raises(AdminError) as bad:
        await dashboard_stats.overview_stats(rt, demo.app_id, 12)
    assert bad.value.code == "INVALID_INPUT"
    with pytest.raises(AdminError) as missing:
        await dashboard_stats.overview_stats(rt, "no-such-app", 7)
    assert missing.value.is_not_found


async def test_integration_info(rt: Runtime, demo: AppFixture) -> None:
    info = await dashboard_stats.integration_info(rt, demo.app_id)
    assert info.owner_id == demo.owner.owner_id and info.app_name == "MyApp"
    assert info.latest_version == ""
    with pytest.raises(AdminError):
        await dashboard_stats.integration_info(rt, "no-such-app")
