"""Client IP, country and VPN/proxy lists (client protocol 0.9, 2.0.1)."""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import time
from typing import Any

from licentia.config import Settings

log = logging.getLogger("licentia.net")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: list[str]) -> list[IPNetwork]:
    out: list[IPNetwork] = []
    for value in values:
        text = value.strip()
        if not text or text.startswith("#"):
            continue
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            log.warning("ignoring invalid network %r", text)
    return out


def in_networks(ip: IPAddress, networks: list[IPNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


@functools.lru_cache(maxsize=4096)  # every request parses its peer address: the same few
def to_ip(value: str) -> IPAddress | None:
    """An address from `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`; None otherwise."""
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class NetInfo:
    """Operator network configuration: trusted proxies, forwarding header, country, VPN list."""

    def __init__(self, settings: Settings) -> None:
        self.trusted = parse_networks(settings.trusted_proxy_list())
        self.forwarded_header = settings.forwarded_header.lower().encode()
        self.country_header = settings.country_header.lower().encode()
        self._vpn_path = settings.vpn_list
        self._vpn: list[IPNetwork] = []
        self._vpn_mtime = 0.0
        self._vpn_checked = 0.0
        self._geo: Any = None
        if settings.geoip_db:
            try:
                import maxminddb

                self._geo = maxminddb.open_database(settings.geoip_db)
            except Exception:
                log.warning("GeoIP database could not be opened; country rules need a header")

    def client_ip(self, peer: str, headers: dict[bytes, bytes]) -> tuple[str, bool]:
        """The client IP and whether the request came through a trusted proxy."""
        peer_ip = to_ip(peer)
        if peer_ip is None or not self.trusted or not in_networks(peer_ip, self.trusted):
            return (str(peer_ip) if peer_ip else peer), False
        raw = headers.get(self.forwarded_header)
        if not raw:
            return str(peer_ip), True
        hops = [h.strip() for h in raw.decode("latin-1").split(",") if h.strip()]
        for hop in reversed(hops):
            hop_ip = to_ip(hop)
            if hop_ip is None:
                break
            if not in_networks(hop_ip, self.trusted):
                return str(hop_ip), True
        return str(peer_ip), True

    def country(self, ip: str, headers: dict[bytes, bytes], via_proxy: bool) -> str:
        if via_proxy and self.country_header:
            value = headers.get(self.country_header, b"").decode("latin-1").strip().upper()
            if len(value) == 2 and value.isalpha():
                return value
        if self._geo is not None:
            try:
                record = self._geo.get(ip)
            except ValueError:
                return ""
            if isinstance(record, dict):
                country = record.get("country") or record.get("registered_country") or {}
                code = country.get("iso_code") if isinstance(country, dict) else None
                if isinstance(code, str):
                    return code.upper()
        return ""

    def vpn_networks(self) -> list[IPNetwork]:
        """The VPN/proxy CIDR list, reloaded when its file changes (checked every 30 s)."""
        if not self._vpn_path:
            return []
        now = time.monotonic()
        if now >= self._vpn_checked:
            self._vpn_checked = now + 30
            try:
                mtime = os.stat(self._vpn_path).st_mtime
                if mtime != self._vpn_mtime:
                    with open(self._vpn_path, encoding="utf-8") as handle:
                        self._vpn = parse_networks(handle.read().splitlines())
                    self._vpn_mtime = mtime
            except OSError:
                log.warning("VPN list %s cannot be read", self._vpn_path)
        return self._vpn
