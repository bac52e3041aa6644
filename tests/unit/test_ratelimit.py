"""Token buckets (client protocol 0.15): in process and through a real Redis."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licentia.config import RateSpec
from licentia.services import ratelimit
from licentia.services.ratelimit import MemoryRateLimiter, RedisRateLimiter

from ._helpers import drive
from .conftest import RedisHandle


class FakeTime:
    """Stands in for the `time` module inside `licentia.services.ratelimit` (the event loop keeps
    the real clock)."""

    def __init__(self, start: float = 1_776_081_600.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(ratelimit, "time", fake)
    return fake


# -- RateSpec ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "capacity", "period", "enabled"),
    [
        ("1200/60", 1200, 60.0, True),
        ("5/1.5", 5, 1.5, True),
        ("7", 7, 60.0, True),
        ("0", 0, 1.0, False),
        ("off", 0, 1.0, False),
        ("", 0, 1.0, False),
    ],
)
def test_rate_spec_parse(text: str, capacity: int, period: float, enabled: bool) -> None:
    spec = RateSpec.parse(text)
    assert (spec.capacity, spec.period, spec.enabled) == (capacity, period, enabled)


@pytest.mark.parametrize("text", ["-1/60", "5/0", "5/-1", "x/60"])
def test_rate_spec_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        RateSpec.parse(text)


# -- MemoryRateLimiter -------------------------------------------------------------------------


def test_memory_capacity_then_retry_after(fake_time: FakeTime) -> None:
    limiter = MemoryRateLimiter()
    spec = RateSpec(3, 60)  # one token per 20 s
    assert [drive(limiter.hit("general", "1.2.3.4", spec)) for _ in range(3)] == [0, 0, 0]
    assert drive(limiter.hit("general", "1.2.3.4", spec)) == 20
    fake_time.advance(10)
    assert drive(limiter.hit("general", "1.2.3.4", spec)) == 10
    fake_time.advance(10)
    assert drive(limiter.hit("general", "1.2.3.4", spec)) == 0
    assert drive(limiter.hit("general", "1.2.3.4", spec)) == 20


def test_memory_refill_is_capped_at_capacity(fake_time: FakeTime) -> None:
    limiter = MemoryRateLimiter()
    spec = RateSpec(2, 10)
    drive(limiter.hit("b", "k", spec))
    fake_time.advance(3600)
    assert [drive(limiter.hit("b", "k", spec)) for _ in range(3)] == [0, 0, 5]


def test_memory_buckets_and_keys_are_independent(fake_time: FakeTime) -> None:
    limiter = MemoryRateLimiter()
    spec = RateSpec(1, 60)
    assert drive(limiter.hit("general", "a", spec)) == 0
    assert drive(limiter.hit("general", "a", spec)) > 0
    assert drive(limiter.hit("general", "b", spec)) == 0
    assert drive(limiter.hit("credentials", "a", spec)) == 0


def test_memory_retry_after_is_at_least_one(fake_time: FakeTime) -> None:
    limiter = MemoryRateLimiter()
    spec = RateSpec(1000, 1)  # refills a token every millisecond
    assert all(drive(limiter.hit("b", "k", spec)) == 0 for _ in range(1000))
    assert drive(limiter.hit("b", "k", spec)) == 1
    fake_time.advance(0.0009)
    assert drive(limiter.hit("b", "k", spec)) == 1


def test_memory_disabled_spec_never_limits(fake_time: FakeTime) -> None:
    limiter = MemoryRateLimiter()
    spec = RateSpec.parse("0")
    assert all(drive(limiter.hit("b", "k", spec)) == 0 for _ in range(100))
    assert limiter._buckets == {}


def test_memory_is_bounded(fake_time: FakeTime) -> None:
    limiter = MemoryRateLimiter(max_keys=10)
    spec = RateSpec(5, 60)
    for n in range(25):
        drive(limiter.hit("b", str(n), spec))
    assert len(limiter._buckets) <= 10


@settings(max_examples=200)
@given(
    capacity=st.integers(min_value=1, max_value=50),
    period=st.floats(min_value=0.01, max_value=3600, allow_nan=False),
    steps=st.lists(st.floats(min_value=0, max_value=120, allow_nan=False), min_size=1, max_size=60),
)
def test_memory_bucket_properties(capacity: int, period: float, steps: list[float]) -> None:
    fake = FakeTime()
    with patch.object(ratelimit, "time", fake):
        limiter = MemoryRateLimiter()
        spec = RateSpec(capacity, period)
        rate = capacity / period
        elapsed = 0.0
        passed = 0
        for step in steps:
            fake.advance(step)
            elapsed += step
            wait = drive(limiter.hit("b", "k", spec))
            assert wait == 0 or wait >= 1
            passed += wait == 0
            # Never more than the initial burst plus what refilled meanwhile.
            assert passed <= capacity + elapsed * rate + 1e-6
            if wait:
                # Waiting the advertised time is enough for the next request to pass.
                fake.advance(wait)
                elapsed += wait
                assert drive(limiter.hit("b", "k", spec)) == 0
                passed += 1


# -- RedisRateLimiter (real Redis) -------------------------------------------------------------


async def test_redis_capacity_then_retry_after(
    redis_handle: RedisHandle, fake_time: FakeTime
) -> None:
    limiter = RedisRateLimiter(redis_handle.client, prefix=redis_handle.prefix)
    spec = RateSpec(3, 60)
    assert [await limiter.hit("general", "1.2.3.4", spec) for _ in range(3)] == [0, 0, 0]
    assert await limiter.hit("general", "1.2.3.4", spec) == 20
    fake_time.advance(10)
    assert await limiter.hit("general", "1.2.3.4", spec) == 10
    fake_time.advance(10)
    assert await limiter.hit("general", "1.2.3.4", spec) == 0
    assert await limiter.hit("general", "1.2.3.4", spec) == 20


async def test_redis_keys_expire_and_are_prefixed(
    redis_handle: RedisHandle, fake_time: FakeTime
) -> None:
    limiter = RedisRateLimiter(redis_handle.client, prefix=redis_handle.prefix)
    await limiter.hit("general", "k", RateSpec(3, 60))
    key = f"{redis_handle.prefix}general:k"
    assert await redis_handle.client.exists(key) == 1
    assert 0 < await redis_handle.client.ttl(key) <= 120


async def test_redis_bucket_is_shared_between_limiters(
    redis_handle: RedisHandle, fake_time: FakeTime
) -> None:
    first = RedisRateLimiter(redis_handle.client, prefix=redis_handle.prefix)
    second = RedisRateLimiter(redis_handle.client, prefix=redis_handle.prefix)
    spec = RateSpec(2, 60)
    assert await first.hit("b", "k", spec) == 0
    assert await second.hit("b", "k", spec) == 0
    assert await first.hit("b", "k", spec) == 30
    assert await second.hit("b", "other", spec) == 0


async def test_redis_retry_after_is_at_least_one(
    redis_handle: RedisHandle, fake_time: FakeTime
) -> None:
    limiter = RedisRateLimiter(redis_handle.client, prefix=redis_handle.prefix)
    spec = RateSpec(100, 1)
    for _ in range(100):
        assert await limiter.hit("b", "k", spec) == 0
    assert await limiter.hit("b", "k", spec) == 1


async def test_redis_disabled_spec_never_touches_redis(redis_handle: RedisHandle) -> None:
    limiter = RedisRateLimiter(redis_handle.client, prefix=redis_handle.prefix)
    assert all([await limiter.hit("b", "k", RateSpec.parse("0")) == 0 for _ in range(5)])
    assert [
        key async for key in redis_handle.client.scan_iter(match=redis_handle.prefix + "*")
    ] == []
