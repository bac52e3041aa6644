"""Network, SID and version verdicts (client protocol 2.0.1, 2.0.2, 2.1 step 8)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licentia.domain.codes import Code
from licentia.domain.rules import network_verdict, sid_verdict, version_verdict

NOW = datetime(2026, 4, 13, 12, 0, 0, tzinfo=UTC)


def nets(*values: str) -> list[Any]:
    return [ipaddress.ip_network(v, strict=False) for v in values]


def verdict(
    ip: str | None,
    *,
    deny: tuple[str, ...] = (),
    allow: tuple[str, ...] = (),
    vpn_block: bool = False,
    vpn: tuple[str, ...] = (),
    countries: frozenset[str] = frozenset(),
    country: str = "",
) -> Code | None:
    return network_verdict(
        ipaddress.ip_address(ip) if ip is not None else None,
        deny=nets(*deny),
        allow=nets(*allow),
        vpn_block=vpn_block,
        vpn=nets(*vpn),
        blocked_countries=countries,
        country=country,
    )


# -- network rules (2.0.1) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "kwargs", "expected"),
    [
        pytest.param("203.0.113.5", {}, None, id="no-rules"),
        pytest.param("203.0.113.5", {"deny": ("203.0.113.5",)}, Code.IP_BLOCKED, id="deny-single"),
        pytest.param("203.0.113.5", {"deny": ("203.0.113.0/24",)}, Code.IP_BLOCKED, id="deny-cidr"),
        pytest.param("203.0.114.5", {"deny": ("203.0.113.0/24",)}, None, id="deny-other"),
        pytest.param("2001:db8::5", {"deny": ("2001:db8::/32",)}, Code.IP_BLOCKED, id="deny-v6"),
        pytest.param("203.0.113.5", {"deny": ("::/0",)}, None, id="deny-v6-does-not-match-v4"),
        pytest.param(
            "203.0.113.5",
            {"deny": ("203.0.113.5",), "allow": ("203.0.113.0/24",)},
            Code.IP_BLOCKED,
            id="deny-wins-over-allow",
        ),
        pytest.param("203.0.113.5", {"allow": ("203.0.113.0/24",)}, None, id="allow-listed"),
        pytest.param(
            "198.51.100.1", {"allow": ("203.0.113.0/24",)}, Code.IP_BLOCKED, id="allow-only"
        ),
        pytest.param(None, {"allow": ("203.0.113.0/24",)}, Code.IP_BLOCKED, id="no-ip-with-allow"),
        pytest.param(None, {"deny": ("0.0.0.0/0",)}, None, id="no-ip-without-allow"),
        pytest.param(
            "203.0.113.5",
            {
                "allow": ("203.0.113.5",),
                "vpn_block": True,
                "vpn": ("203.0.113.0/24",),
                "countries": frozenset({"DE"}),
                "country": "DE",
            },
            None,
            id="allow-listed-skips-vpn-and-country",
        ),
        pytest.param(
            "203.0.113.5",
            {"vpn_block": True, "vpn": ("203.0.113.0/24",)},
            Code.VPN_BLOCKED,
            id="vpn",
        ),
        pytest.param(
            "203.0.113.5",
            {"vpn_block": False, "vpn": ("203.0.113.0/24",)},
            None,
            id="vpn-setting-off",
        ),
        pytest.param("203.0.113.5", {"vpn_block": True, "vpn": ()}, None, id="vpn-without-list"),
        pytest.param(
            "198.51.100.1",
            {"vpn_block": True, "vpn": ("203.0.113.0/24",)},
            None,
            id="vpn-not-listed",
        ),
        pytest.param(
            "203.0.113.5",
            {"countries": frozenset({"DE", "FR"}), "country": "FR"},
            Code.COUNTRY_BLOCKED,
            id="country",
        ),
        pytest.param(
            "203.0.113.5",
            {"countries": frozenset({"DE"}), "country": "de"},
            Code.COUNTRY_BLOCKED,
            id="country-case",
        ),
        pytest.param(
            "203.0.113.5",
            {"countries": frozenset({"DE"}), "country": ""},
            None,
            id="country-unknown",
        ),
        pytest.param(
            "203.0.113.5",
            {"countries": frozenset({"DE"}), "country": "US"},
            None,
            id="country-other",
        ),
        pytest.param("203.0.113.5", {"country": "DE"}, None, id="no-blocked-countries"),
        pytest.param(
            "203.0.113.5",
            {
                "vpn_block": True,
                "vpn": ("203.0.113.0/24",),
                "countries": frozenset({"DE"}),
                "country": "DE",
            },
            Code.VPN_BLOCKED,
            id="vpn-before-country",
        ),
        pytest.param(
            "203.0.113.5",
            {"deny": ("203.0.113.5",), "vpn_block": True, "vpn": ("203.0.113.0/24",)},
            Code.IP_BLOCKED,
            id="deny-before-vpn",
        ),
    ],
)
def test_network_verdict(ip: str | None, kwargs: dict[str, Any], expected: Code | None) -> None:
    assert verdict(ip, **kwargs) == expected


ipv4 = st.ip_addresses(v=4)


@given(ipv4, st.booleans(), st.booleans())
def test_deny_always_wins(ip: Any, in_allow: bool, vpn_block: bool) -> None:
    result = network_verdict(
        ip,
        deny=[ipaddress.ip_network(ip)],
        allow=[ipaddress.ip_network(ip)] if in_allow else [],
        vpn_block=vpn_block,
        vpn=[ipaddress.ip_network("0.0.0.0/0")],
        blocked_countries=frozenset({"DE"}),
        country="DE",
    )
    assert result == Code.IP_BLOCKED


@given(ipv4)
def test_allow_listed_ip_is_never_blocked_by_vpn_or_country(ip: Any) -> None:
    result = network_verdict(
        ip,
        deny=[],
        allow=[ipaddress.ip_network(ip)],
        vpn_block=True,
        vpn=[ipaddress.ip_network("0.0.0.0/0")],
        blocked_countries=frozenset({"DE"}),
        country="DE",
    )
    assert result is None


# -- SID rules (2.0.2) -------------------------------------------------------------------------
# The lists hold normalised (casefolded) SIDs, as the store keeps them in `sid_norm`.


@pytest.mark.parametrize(
    ("sid", "deny", "allow", "expected"),
    [
        pytest.param("HW-1", set(), set(), None, id="no-rules"),
        pytest.param("", set(), set(), None, id="no-sid-no-rules"),
        pytest.param("", {"hw-1"}, set(), None, id="no-sid-deny-only"),
        pytest.param("HW-1", {"hw-1"}, set(), Code.SID_BLOCKED, id="deny-case-insensitive"),
        pytest.param("hw-1", {"hw-1"}, set(), Code.SID_BLOCKED, id="deny-exact"),
        pytest.param("HW-2", {"hw-1"}, set(), None, id="deny-other"),
        pytest.param("Hw-1", set(), {"hw-1"}, None, id="allow-case-insensitive"),
        pytest.param("HW-2", set(), {"hw-1"}, Code.SID_NOT_WHITELISTED, id="allow-other"),
        pytest.param("", set(), {"hw-1"}, Code.SID_NOT_WHITELISTED, id="allow-without-sid"),
        pytest.param("HW-1", {"hw-1"}, {"hw-1"}, Code.SID_BLOCKED, id="deny-before-allow"),
        pytest.param("STRASSE", {"straße".casefold()}, set(), Code.SID_BLOCKED, id="casefold"),
    ],
)
def test_sid_verdict(sid: str, deny: set[str], allow: set[str], expected: Code | None) -> None:
    assert sid_verdict(sid, deny=frozenset(deny), allow=frozenset(allow)) == expected


@given(st.text(min_size=1, max_size=20))
def test_sid_case_insensitive(sid: str) -> None:
    norm = frozenset({sid.casefold()})
    for variant in (sid, sid.upper(), sid.lower(), sid.swapcase()):
        if variant.casefold() == sid.casefold():
            assert sid_verdict(variant, deny=norm, allow=frozenset()) == Code.SID_BLOCKED
            assert sid_verdict(variant, deny=frozenset(), allow=norm) is None


# -- version control (2.1 step 8) --------------------------------------------------------------


def rule(version: str, mode: str, allowed_until: datetime | None = None) -> Any:
    return SimpleNamespace(version=version, mode=mode, allowed_until=allowed_until)


FUTURE = NOW + timedelta(days=7)
PAST = NOW - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("client", "latest", "rules", "expected"),
    [
        pytest.param("1.0.0", "", [rule("1.0.0", "block")], (None, None), id="no-latest-no-check"),
        pytest.param("0.0.1", "", [], (None, None), id="no-latest-old-client"),
        pytest.param("1.4.0", "1.4.0", [], (None, None), id="equal"),
        pytest.param("1.4", "v1.4.0", [], (None, None), id="semver-equal"),
        pytest.param("1.3.0", "1.4.0", [], (Code.UPDATE_REQUIRED, None), id="older"),
        pytest.param("1.5.0", "1.4.0", [], (Code.VERSION_MISMATCH, None), id="newer"),
        pytest.param("1.3.0", "1.4.0", [rule("1.3.0", "allow")], (None, None), id="allow"),
        pytest.param("1.5.0", "1.4.0", [rule("1.5.0", "allow")], (None, None), id="allow-newer"),
        pytest.param(
            "1.3.0",
            "1.4.0",
            [rule("1.3.0", "reminder")],
            (None, {"allowed_until": None}),
            id="reminder",
        ),
        pytest.param(
            "1.3.0",
            "1.4.0",
            [rule("1.3.0", "grace", FUTURE)],
            (None, {"allowed_until": "2026-04-20T12:00:00Z"}),
            id="grace-future",
        ),
        pytest.param(
            "1.3.0",
            "1.4.0",
            [rule("1.3.0", "grace", PAST)],
            (Code.UPDATE_REQUIRED, None),
            id="grace-past",
        ),
        pytest.param(
            "1.3.0",
            "1.4.0",
            [rule("1.3.0", "grace", NOW)],
            (Code.UPDATE_REQUIRED, None),
            id="grace-ends-now",
        ),
        pytest.param(
            "1.3.0",
            "1.4.0",
            [rule("1.3.0", "grace", None)],
            (Code.UPDATE_REQUIRED, None),
            id="grace-no-date",
        ),
        pytest.param(
            "1.3.0", "1.4.0", [rule("1.3.0", "block")], (Code.UPDATE_REQUIRED, None), id="block"
        ),
        pytest.param(
            "1.4.0",
            "1.4.0",
            [rule("1.4.0", "block")],
            (Code.UPDATE_REQUIRED, None),
            id="block-latest",
        ),
        pytest.param(
            "v1.3-beta",
            "1.4.0",
            [rule("1.3.0", "reminder")],
            (None, {"allowed_until": None}),
            id="rule-matches-semver-equal",
        ),
        pytest.param(
            "1.3.1",
            "1.4.0",
            [rule("1.3.0", "allow")],
            (Code.UPDATE_REQUIRED, None),
            id="rule-other-version",
        ),
        pytest.param(
            "1.3.0",
            "1.4.0",
            [rule("1.3", "allow"), rule("1.3.0", "block")],
            (None, None),
            id="first-matching-rule-wins",
        ),
    ],
)
def test_version_verdict(
    client: str, latest: str, rules: list[Any], expected: tuple[Code | None, dict[str, Any] | None]
) -> None:
    assert version_verdict(client, latest, rules, NOW) == expected
