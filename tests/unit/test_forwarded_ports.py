"""Forwarding headers may carry a port (`ip:port`, `[v6]:port`); the address is still used."""

from __future__ import annotations

import pytest

from licentia.config import Settings
from licentia.services.netinfo import NetInfo, to_ip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("198.51.100.7", "198.51.100.7", id="v4"),
        pytest.param("198.51.100.7:4711", "198.51.100.7", id="v4-port"),
        pytest.param("2001:db8::1", "2001:db8::1", id="v6"),
        pytest.param("[2001:db8::1]:4711", "2001:db8::1", id="v6-bracket-port"),
        pytest.param("unknown", None, id="unknown"),
        pytest.param("198.51.100.7:x:y", None, id="garbage"),
    ],
)
def test_to_ip(value: str, expected: str | None) -> None:
    ip = to_ip(value)
    assert (str(ip) if ip else None) == expected


def test_client_ip_from_hop_with_port() -> None:
    net = NetInfo(Settings(trusted_proxies="10.0.0.0/8"))
    ip, via = net.client_ip("10.1.2.3", {b"x-forwarded-for": b"203.0.113.9:55000"})
    assert (ip, via) == ("203.0.113.9", True)
