"""Client IP, country and the VPN list (client protocol 0.9, 2.0.1)."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from licentia.config import Settings
from licentia.services import netinfo
from licentia.services.netinfo import NetInfo, parse_networks, to_ip

PROXIES = "10.0.0.0/8, 192.0.2.1, 2001:db8:ffff::/48"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read LICENTIA_* variables; the operator's own must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("LICENTIA_") and not name.startswith("LICENTIA_TEST_"):
            monkeypatch.delenv(name)


def make(**overrides: Any) -> NetInfo:
    values: dict[str, Any] = {"data_dir": Path("unused"), "database_url": "sqlite+aiosqlite://"}
    values.update(overrides)
    return NetInfo(Settings(**values))


def xff(value: str, name: bytes = b"x-forwarded-for") -> dict[bytes, bytes]:
    return {name: value.encode("latin-1")}


# -- client IP (0.9) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        pytest.param("203.0.113.5", {}, ("203.0.113.5", False), id="plain"),
        pytest.param(
            "203.0.113.5", xff("198.51.100.7"), ("203.0.113.5", False), id="header-ignored"
        ),
        pytest.param(
            "10.0.0.1", xff("198.51.100.7"), ("10.0.0.1", False), id="proxy-not-configured"
        ),
        pytest.param("::ffff:203.0.113.5", {}, ("203.0.113.5", False), id="v4-mapped-normalised"),
        pytest.param("testclient", {}, ("testclient", False), id="not-an-ip"),
    ],
)
def test_client_ip_without_trusted_proxies(
    peer: str, headers: dict[bytes, bytes], expected: tuple[str, bool]
) -> None:
    assert make().client_ip(peer, headers) == expected


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        pytest.param(
            "203.0.113.5", xff("198.51.100.7"), ("203.0.113.5", False), id="untrusted-peer"
        ),
        pytest.param("10.1.2.3", {}, ("10.1.2.3", True), id="trusted-no-header"),
        pytest.param("10.1.2.3", xff(""), ("10.1.2.3", True), id="trusted-empty-header"),
        pytest.param("10.1.2.3", xff("198.51.100.7"), ("198.51.100.7", True), id="one-hop"),
        pytest.param(
            "10.1.2.3",
            xff("198.51.100.7, 10.9.9.9"),
            ("198.51.100.7", True),
            id="skips-trusted-hops",
        ),
        pytest.param(
            "10.1.2.3",
            xff("6.6.6.6, 198.51.100.7, 192.0.2.1"),
            ("198.51.100.7", True),
            id="rightmost-untrusted-not-spoofed-leftmost",
        ),
        pytest.param(
            "10.1.2.3",
            xff("10.2.2.2,10.3.3.3"),
            ("10.1.2.3", True),
            id="all-hops-trusted-gives-peer",
        ),
        pytest.param(
            "10.1.2.3", xff("198.51.100.7, garbage"), ("10.1.2.3", True), id="unparsable-hop-stops"
        ),
        pytest.param(
            "10.1.2.3", xff(" 2001:db8::7 ,2001:db8:ffff::1"), ("2001:db8::7", True), id="ipv6-hops"
        ),
        pytest.param(
            "10.1.2.3",
            xff("::ffff:198.51.100.7"),
            ("198.51.100.7", True),
            id="mapped-hop-normalised",
        ),
        pytest.param(
            "::ffff:10.1.2.3", xff("198.51.100.7"), ("198.51.100.7", True), id="mapped-peer"
        ),
        pytest.param(
            "2001:db8:ffff::9", xff("198.51.100.7"), ("198.51.100.7", True), id="v6-proxy"
        ),
        pytest.param(
            "192.0.2.1", xff("198.51.100.7"), ("198.51.100.7", True), id="single-address-proxy"
        ),
        pytest.param(
            "192.0.2.2", xff("198.51.100.7"), ("192.0.2.2", False), id="neighbour-not-trusted"
        ),
    ],
)
def test_client_ip_with_trusted_proxies(
    peer: str, headers: dict[bytes, bytes], expected: tuple[str, bool]
) -> None:
    assert make(trusted_proxies=PROXIES).client_ip(peer, headers) == expected


def test_configured_forwarding_header() -> None:
    info = make(trusted_proxies="10.0.0.0/8", forwarded_header="CF-Connecting-IP")
    headers = {**xff("6.6.6.6"), **xff("198.51.100.7", b"cf-connecting-ip")}
    assert info.client_ip("10.0.0.1", headers) == ("198.51.100.7", True)
    assert info.client_ip("10.0.0.1", xff("6.6.6.6")) == ("10.0.0.1", True)


# -- country -----------------------------------------------------------------------------------


def test_country_header_only_through_trusted_proxy() -> None:
    info = make(trusted_proxies="10.0.0.0/8", country_header="CF-IPCountry")
    headers = {b"cf-ipcountry": b"de"}
    assert info.country("198.51.100.7", headers, via_proxy=True) == "DE"
    assert info.country("198.51.100.7", headers, via_proxy=False) == ""


@pytest.mark.parametrize("value", [b"", b"DEU", b"D", b"1A", b"XX1", b" "])
def test_country_header_must_be_two_letters(value: bytes) -> None:
    info = make(trusted_proxies="10.0.0.0/8", country_header="cf-ipcountry")
    assert info.country("198.51.100.7", {b"cf-ipcountry": value}, via_proxy=True) == ""


def test_country_header_trimmed() -> None:
    info = make(trusted_proxies="10.0.0.0/8", country_header="cf-ipcountry")
    assert info.country("198.51.100.7", {b"cf-ipcountry": b" fr "}, via_proxy=True) == "FR"


def test_no_country_header_configured() -> None:
    info = make(trusted_proxies="10.0.0.0/8")
    assert info.country("198.51.100.7", {b"cf-ipcountry": b"DE"}, via_proxy=True) == ""


def test_full_request_path_through_proxy() -> None:
    info = make(trusted_proxies="10.0.0.0/8", country_header="cf-ipcountry")
    headers = {**xff("198.51.100.7"), b"cf-ipcountry": b"NL"}
    ip, via_proxy = info.client_ip("10.0.0.1", headers)
    assert (ip, info.country(ip, headers, via_proxy)) == ("198.51.100.7", "NL")
    ip, via_proxy = info.client_ip("203.0.113.5", headers)  # direct: header is a forgery
    assert (ip, info.country(ip, headers, via_proxy)) == ("203.0.113.5", "")


# -- VPN list ----------------------------------------------------------------------------------


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 5000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(netinfo, "time", fake)
    return fake


def write_list(path: Path, text: str, mtime: float) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_vpn_list_loads_and_reloads(tmp_path: Path, fake_time: FakeMonotonic) -> None:
    path = tmp_path / "vpn.txt"
    write_list(path, "# VPN ranges\n198.51.100.0/24\n\n2001:db8::/32\n", 1_000_000)
    info = make(vpn_list=str(path))
    assert info.vpn_networks() == [
        ipaddress.ip_network("198.51.100.0/24"),
        ipaddress.ip_network("2001:db8::/32"),
    ]

    write_list(path, "203.0.113.0/24\n", 1_000_100)
    fake_time.now += 29
    assert len(info.vpn_networks()) == 2  # checked at most every 30 s
    fake_time.now += 2
    assert info.vpn_networks() == [ipaddress.ip_network("203.0.113.0/24")]


def test_vpn_list_unchanged_mtime_not_reread(tmp_path: Path, fake_time: FakeMonotonic) -> None:
    path = tmp_path / "vpn.txt"
    write_list(path, "198.51.100.0/24\n", 1_000_000)
    info = make(vpn_list=str(path))
    assert len(info.vpn_networks()) == 1
    write_list(path, "198.51.100.0/24\n203.0.113.0/24\n", 1_000_000)
    fake_time.now += 31
    assert len(info.vpn_networks()) == 1


def test_vpn_list_unreadable_keeps_last_list(
    tmp_path: Path, fake_time: FakeMonotonic, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "vpn.txt"
    write_list(path, "198.51.100.0/24\n", 1_000_000)
    info = make(vpn_list=str(path))
    assert len(info.vpn_networks()) == 1
    path.unlink()
    fake_time.now += 31
    with caplog.at_level(logging.WARNING, logger="licentia.net"):
        assert len(info.vpn_networks()) == 1
    assert "cannot be read" in caplog.text


def test_vpn_list_missing_from_start(tmp_path: Path, fake_time: FakeMonotonic) -> None:
    assert make(vpn_list=str(tmp_path / "absent.txt")).vpn_networks() == []
    assert make().vpn_networks() == []


def test_parse_networks_skips_comments_and_garbage(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="licentia.net"):
        networks = parse_networks(["# c", "", "  10.0.0.1  ", "10.0.0.5/8", "nonsense", "::1"])
    assert networks == [
        ipaddress.ip_network("10.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    ]
    assert "nonsense" in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("2001:DB8::1", "2001:db8::1"),
        ("x", None),
    ],
)
def test_to_ip(value: str, expected: str | None) -> None:
    ip = to_ip(value)
    assert (str(ip) if ip is not None else None) == expected
