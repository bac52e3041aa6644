"""Protocol dates (client protocol 0.14)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licentia.domain.timeutil import (
    LIFETIME_DATE,
    LIFETIME_DAYS_LEFT,
    days_left,
    expiry_fields,
    iso_z,
    ms,
    parse_iso,
)

NOW = datetime(2026, 4, 13, 12, 0, 0, tzinfo=UTC)
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        pytest.param(timedelta(hours=23), 1, id="23h"),
        pytest.param(timedelta(seconds=1), 1, id="1s"),
        pytest.param(timedelta(microseconds=1), 1, id="1us"),
        pytest.param(timedelta(days=1), 1, id="exactly-1-day"),
        pytest.param(timedelta(days=1, seconds=1), 2, id="1-day-1s"),
        pytest.param(timedelta(days=30), 30, id="30-days"),
        pytest.param(timedelta(days=29, hours=1), 30, id="29d1h"),
        pytest.param(timedelta(0), 0, id="now"),
        pytest.param(timedelta(seconds=-1), 0, id="1s-past"),
        pytest.param(timedelta(days=-400), 0, id="long-past"),
    ],
)
def test_days_left(delta: timedelta, expected: int) -> None:
    assert days_left(NOW + delta, NOW) == expected


def test_days_left_lifetime() -> None:
    assert days_left(None, NOW) == LIFETIME_DAYS_LEFT == 36500


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_days_left_is_ceil_of_days(seconds: int) -> None:
    expected = max(0, -(-seconds // 86400))
    assert days_left(NOW + timedelta(seconds=seconds), NOW) == expected


def test_expiry_fields() -> None:
    assert expiry_fields(None, NOW) == {
        "expiry_date": LIFETIME_DATE,
        "lifetime": True,
        "days_left": 36500,
    }
    assert LIFETIME_DATE == "9999-12-31T23:59:59Z"
    assert expiry_fields(NOW + timedelta(hours=23), NOW) == {
        "expiry_date": "2026-04-14T11:00:00Z",
        "lifetime": False,
        "days_left": 1,
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(datetime(2026, 4, 29, 7, 7, 0, tzinfo=UTC), "2026-04-29T07:07:00Z", id="utc"),
        pytest.param(
            datetime(2026, 4, 29, 7, 7, 0, 999999, tzinfo=UTC),
            "2026-04-29T07:07:00Z",
            id="fraction-dropped",
        ),
        pytest.param(datetime(2026, 4, 29, 7, 7, 0), "2026-04-29T07:07:00Z", id="naive-is-utc"),
        pytest.param(
            datetime(2026, 4, 29, 9, 7, 0, tzinfo=timezone(timedelta(hours=2))),
            "2026-04-29T07:07:00Z",
            id="offset-converted",
        ),
        pytest.param(
            datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
            "2025-12-31T23:30:00Z",
            id="offset-crosses-year",
        ),
        pytest.param(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), LIFETIME_DATE, id="lifetime"),
        pytest.param(None, "", id="none"),
    ],
)
def test_iso_z(value: datetime | None, text: str) -> None:
    assert iso_z(value) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("2026-04-29T07:07:00Z", datetime(2026, 4, 29, 7, 7, tzinfo=UTC), id="z"),
        pytest.param("2026-04-29T07:07:00z", datetime(2026, 4, 29, 7, 7, tzinfo=UTC), id="lower-z"),
        pytest.param(
            " 2026-04-29T07:07:00Z ", datetime(2026, 4, 29, 7, 7, tzinfo=UTC), id="spaces"
        ),
        pytest.param(
            "2026-04-29T09:07:00+02:00", datetime(2026, 4, 29, 7, 7, tzinfo=UTC), id="offset"
        ),
        pytest.param("2026-04-29T07:07:00", datetime(2026, 4, 29, 7, 7, tzinfo=UTC), id="naive"),
        pytest.param("2026-04-29", datetime(2026, 4, 29, tzinfo=UTC), id="date-only"),
        pytest.param(
            "2026-04-29T07:07:00.250Z",
            datetime(2026, 4, 29, 7, 7, 0, 250000, tzinfo=UTC),
            id="fraction",
        ),
    ],
)
def test_parse_iso(text: str, value: datetime) -> None:
    parsed = parse_iso(text)
    assert parsed == value
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "2026-04-29T25:00:00Z"])
def test_parse_iso_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso(text)


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.just(UTC),
    )
)
def test_iso_z_round_trip(value: datetime) -> None:
    text = iso_z(value)
    assert ISO_Z.fullmatch(text)
    assert parse_iso(text) == value.replace(microsecond=0)
    assert iso_z(parse_iso(text)) == text


def test_ms() -> None:
    assert ms(NOW) == 1776081600000
