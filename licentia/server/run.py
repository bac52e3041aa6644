"""uvicorn options of `licentia serve` and the open-files limit (issue #14)."""

from __future__ import annotations

import logging
import resource
from typing import Any

from licentia.config import Settings
from licentia.server.protocols import PROTOCOLS

log = logging.getLogger("licentia.server")

#: Soft limit asked for when the hard limit is unlimited (Linux refuses more than `nr_open`).
UNLIMITED_TARGET = 1_048_576


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft `RLIMIT_NOFILE` to the hard limit; return (before, after).

    Every connection holds a file descriptor, and the common default soft limit (1,024) is
    reached by about a thousand idle sockets. An unprivileged process may raise its soft limit
    up to the hard limit (systemd: `LimitNOFILE=`); workers inherit it. A refusal is logged
    and the server runs with the limit it has.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, target, exc)
            return soft, soft
        return soft, target
    return soft, soft


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` that follow the settings."""
    return {
        "loop": "uvloop",
        "http": PROTOCOLS[settings.http],
        "timeout_keep_alive": settings.keepalive_timeout,
        "proxy_headers": False,
        "server_header": False,
        "date_header": False,
    }
