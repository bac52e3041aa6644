"""Network, SID and version rules (client protocol 2.0.1, 2.0.2, 2.1 step 8): pure verdicts."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from licentia.domain.codes import Code
from licentia.domain.timeutil import iso_z
from licentia.domain.versions import compare_versions

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _in(ip: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def network_verdict(
    ip: IPAddress | None,
    *,
    deny: list[IPNetwork],
    allow: list[IPNetwork],
    vpn_block: bool,
    vpn: list[IPNetwork],
    blocked_countries: frozenset[str],
    country: str,
) -> Code | None:
    if ip is None:
        return Code.IP_BLOCKED if allow else None
    if _in(ip, deny):
        return Code.IP_BLOCKED
    if allow:
        if not _in(ip, allow):
            return Code.IP_BLOCKED
        return None  # an allow-listed IP skips the VPN and country checks
    if vpn_block and vpn and _in(ip, vpn):
        return Code.VPN_BLOCKED
    if blocked_countries and country and country.upper() in blocked_countries:
        return Code.COUNTRY_BLOCKED
    return None


def sid_verdict(sid: str, *, deny: frozenset[str], allow: frozenset[str]) -> Code | None:
    norm = sid.casefold()
    if sid and norm in deny:
        return Code.SID_BLOCKED
    if allow and (not sid or norm not in allow):
        return Code.SID_NOT_WHITELISTED
    return None


class _Rule(Protocol):
    version: str
    mode: str
    allowed_until: datetime | None


def version_verdict(
    client_version: str,
    latest: str,
    rules: list[Any],
    now: datetime,
) -> tuple[Code | None, dict[str, Any] | None]:
    """(failure code or None, grace/reminder info) for init's version control.

    The second value is None (no update notice), or `{"allowed_until": <str|None>}` for a
    reminder (None) or an active grace period (its end date).
    """
    if not latest:
        return None, None
    for rule in rules:
        if compare_versions(rule.version, client_version) != 0:
            continue
        if rule.mode == "allow":
            return None, None
        if rule.mode == "reminder":
            return None, {"allowed_until": None}
        if rule.mode == "grace":
            if rule.allowed_until is not None and rule.allowed_until > now:
                return None, {"allowed_until": iso_z(rule.allowed_until)}
            return Code.UPDATE_REQUIRED, None
        return Code.UPDATE_REQUIRED, None
    order = compare_versions(client_version, latest)
    if order == 0:
        return None, None
    if order < 0:
        return Code.UPDATE_REQUIRED, None
    return Code.VERSION_MISMATCH, None
