"""Bind the listening socket first, then announce, then hand the socket to uvicorn.

`licentia serve` used to print `Licentia on http://...` (and `"serving": true`) before uvicorn
tried to bind, so a taken port announced a server that then died with `[Errno 98]`. Here the
CLI binds the socket itself: a taken port is a clear `PORT_IN_USE` error before anything is
announced, and uvicorn (one process or its worker supervisor) serves on that very socket.
"""

from __future__ import annotations

import errno
import inspect
import socket
import sys
from typing import Any

from licentia.cli._support import CliFailure

#: uvicorn's exit status when its server did not start.
STARTUP_FAILURE = 3


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), inheritable by worker processes; CliFailure when the
    address cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        sock = socket.socket(family=family)
    except OSError as exc:
        raise CliFailure("BIND", f"cannot listen on {where}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliFailure(
                "PORT_IN_USE",
                f"cannot listen on {where}: the port is already in use (another Licentia "
                "or another program); stop it or choose another port with --port or "
                "LICENTIA_PORT",
            ) from None
        if exc.errno == errno.EACCES:
            raise CliFailure(
                "BIND",
                f"cannot listen on {where}: permission denied (ports below 1024 need root "
                "or CAP_NET_BIND_SERVICE; use a port such as 8080 behind a reverse proxy)",
            ) from None
        detail = exc.strerror or str(exc)
        raise CliFailure(
            "BIND", f"cannot listen on {where}: {detail} (check --host or LICENTIA_HOST)"
        ) from None
    sock.set_inheritable(True)
    return sock


def run(sock: socket.socket, app: str, **options: Any) -> None:
    """`uvicorn.run(app, **options)`, but serving on the already bound `sock`."""
    from uvicorn import Config, Server
    from uvicorn.supervisors import Multiprocess

    config = Config(app, **options)
    server = Server(config=config)
    try:
        if config.workers > 1:
            supervisor_options: dict[str, Any] = {"sockets": [sock]}
            if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn < 0.30
                supervisor_options["target"] = server.run
            Multiprocess(config, **supervisor_options).run()
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    if config.workers <= 1 and not server.started:
        sys.exit(STARTUP_FAILURE)
