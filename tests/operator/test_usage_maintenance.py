"""Usage counting and flushing, the series shape, metrics, the single purger, audit retention."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from licentia.api.app import LicentiaApp
from licentia.services import admin_apps, audit, maintenance, usage
from licentia.services.audit import Actor
from licentia.services.runtime import Runtime
from licentia.store.tables import audit_log, usage_daily
from tests.conftest import FakeClock, World
from tests.elite.conftest import Bot


async def _stored(rt: Runtime, app_id: str) -> dict[tuple[str, str], int]:
    async with rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(usage_daily.c.day, usage_daily.c.endpoint, usage_daily.c["count"]).where(
                    usage_daily.c.app_id == app_id
                )
            )
        ).all()
    return {(r[0], r[1]): int(r[2]) for r in rows}


async def test_client_calls_are_counted_then_flushed(world: World, bot: Bot) -> None:
    app = world.app
    assert app.usage is not None
    session = await world.init()
    await world.init()
    await world.post("validate-session", {"session_id": session})
    # A request for an unknown app counts nowhere; one with a wrong secret counts for the app.
    await world.post(
        "init",
        {
            "owner_id": world.owner_id,
            "app_name": world.app_name,
            "secret": "wrong",
            "version": "1.0.0",
        },
    )
    assert await _stored(world.rt, world.app_id) == {}  # nothing written on the hot path
    assert app.usage.pending >= 4
    # Reports on this worker include its unflushed counts at once.
    assert (await usage.daily_series(world.rt, world.app_id))[-1]["count"] == 4
    await app.usage.flush(world.rt)
    assert app.usage.pending == 0
    today = world.clock().date().isoformat()
    assert await _stored(world.rt, world.app_id) == {
        (today, "init"): 3,
        (today, "validate-session"): 1,
    }
    series = await usage.daily_series(world.rt, world.app_id)
    assert len(series) == 7 and series[-1] == {"date": today, "count": 4}
    assert [s["count"] for s in series[:-1]] == [0] * 6
    # The Elite Key `app usage` reports the same series.
    data = await bot.ok("app", "usage")
    assert data["series"] == series
    # A second flush with nothing new changes nothing; new calls add up.
    assert await app.usage.flush(world.rt) == 0
    await world.init()
    await app.usage.flush(world.rt)
    assert (await _stored(world.rt, world.app_id))[(today, "init")] == 4


async def test_two_flushers_add_up_and_series_shape(world: World, clock: FakeClock) -> None:
    workers = [usage.UsageCounter(clock) for _ in range(2)]
    for n, counter in enumerate(workers):
        for _ in range(5 + n):
            counter.hit(world.app_id, "login")
        counter.hit(world.app_id, "licenses")
        counter.hit("00000000-0000-0000-0000-000000000000", "login")  # a deleted app: dropped
    written = await asyncio.gather(*(c.flush(world.rt) for c in workers))
    assert sorted(written) == [6, 7]
    today = clock().date()
    assert await _stored(world.rt, world.app_id) == {
        (today.isoformat(), "login"): 11,
        (today.isoformat(), "licenses"): 2,
    }
    three_ago = (today - timedelta(days=3)).isoformat()
    await usage.add_counts(world.rt, {(world.app_id, three_ago, "init"): 9})
    report = await usage.usage_report(world.rt, world.app_id, 30)
    assert len(report) == 30
    assert report[0].date == (today - timedelta(days=29)).isoformat()
    assert [d.date for d in report] == sorted(d.date for d in report)
    assert report[-4].date == three_ago and report[-4].count == 9
    assert report[-1].count == 13 and report[-1].endpoints == {"licenses": 2, "login": 11}
    # The day moves with the runtime clock: tomorrow the series ends on an empty day.
    clock.advance(days=1)
    series = await usage.daily_series(world.rt, world.app_id)
    assert series[-1] == {"date": (today + timedelta(days=1)).isoformat(), "count": 0}
    assert series[-2]["count"] == 13
    with pytest.raises(admin_apps.AdminError) as err:
        await usage.usage_report(world.rt, world.app_id, 0)
    assert err.value.code == "INVALID_INPUT"


async def test_shutdown_flushes(world: World) -> None:
    app = world.app
    assert app.usage is not None
    await world.init()
    await app.shutdown()
    today = world.clock().date().isoformat()
    assert (await _stored(world.rt, world.app_id)) == {(today, "init"): 1}


@pytest.mark.parametrize(
    "settings_overrides", [{"metrics_enabled": True, "metrics_token": "scrape-me"}]
)
async def test_metrics_enabled_with_token(world: World, client: httpx.AsyncClient) -> None:
    await world.init()
    await client.get("/api/manage/v1/apps")
    assert (await client.get("/metrics")).status_code == 401
    bad = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    response = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'licentia_http_requests_total{face="client",endpoint="init",status="200"} 1' in text
    assert 'face="manage",endpoint="/api/manage/v1/apps",status="401"' in text
    assert (
        'licentia_http_request_duration_seconds_bucket{face="client",endpoint="init",le="+Inf"} 1'
        in text
    )
    assert "# TYPE licentia_http_request_duration_seconds histogram" in text
    for name in (
        "licentia_db_pool_checked_out",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "licentia_usage_pending_requests",
    ):
        assert f"\n{name} " in text


@pytest.mark.parametrize("settings_overrides", [{"metrics_enabled": True}])
async def test_metrics_enabled_without_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "process_start_time_seconds" in response.text


async def test_metrics_off_by_default(app: LicentiaApp, client: httpx.AsyncClient) -> None:
    assert app.metrics is None
    assert (await client.get("/metrics")).status_code == 404


async def test_only_one_purger_at_a_time(world: World) -> None:
    rt = world.rt
    async with maintenance.purge_lock(rt) as held:
        assert held is True
        # Another worker (here: another lock holder) skips its round.
        assert await maintenance.purge_exclusive(rt) is None
    report = await maintenance.purge_exclusive(rt)
    assert report is not None
    # Two concurrent rounds: exactly one runs.
    results = await asyncio.gather(*(maintenance.purge_exclusive(rt) for _ in range(2)))
    assert sum(r is not None for r in results) >= 1


async def test_audit_retention(world: World, clock: FakeClock) -> None:
    rt = world.rt
    owner = await admin_apps.get_owner(rt, world.owner_id)
    actor = Actor(kind="system", name="test", face="cli")

    async def entry(capability: str) -> None:
        await audit.record_standalone(
            rt, actor, owner_account_id=owner.id, capability=capability, result="ok"
        )

    real_now = clock.now
    clock.now = real_now - timedelta(days=rt.settings.audit_retention_days + 1)
    await entry("license.ban")
    clock.now = real_now - timedelta(days=rt.settings.audit_retention_days - 1)
    await entry("license.unban")
    clock.now = real_now
    report = await maintenance.purge_exclusive(rt)
    assert report is not None and report.audit_entries >= 1

    async def capabilities() -> list[Any]:
        async with rt.db.read() as conn:
            return list(
                (
                    await conn.execute(
                        select(audit_log.c.capability)
                        .where(audit_log.c.owner_account_id == owner.id)
                        .order_by(audit_log.c.id)
                    )
                ).scalars()
            )

    assert await capabilities() == ["license.unban"]
    async with rt.db.read() as conn:
        old = (
            await conn.execute(
                select(func.count())
                .select_from(audit_log)
                .where(audit_log.c.created_at < real_now - timedelta(days=365))
            )
        ).scalar_one()
    assert old == 0


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {"elite_rate": "2/60"},
        {
            "elite_rate": "2/60",
            "redis_url": "redis://127.0.0.1:6379/0",
            "redis_prefix": f"licentia-t-{secrets.token_hex(4)}:",
        },
    ],
    ids=["memory", "redis"],
)
async def test_elite_owner_rate_is_an_operator_setting(
    app: LicentiaApp, bot: Bot, settings_overrides: dict[str, Any]
) -> None:
    from licentia.services.ratelimit import MemoryRateLimiter, RedisRateLimiter

    expected = RedisRateLimiter if "redis_url" in settings_overrides else MemoryRateLimiter
    assert isinstance(app._elite_limiter.target, expected)
    for _ in range(2):
        assert (await bot.call("app", "list", app_name="")).status_code == 200
    limited = await bot.call("app", "list", app_name="")
    assert limited.status_code == 429 and limited.json()["code"] == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1
