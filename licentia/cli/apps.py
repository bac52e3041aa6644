"""CLI commands for apps and their configuration and content.

Variables, chat, IP/SID/VPN/country rules, versions, hashes, custom messages, client logs.
"""

from __future__ import annotations
