"""What one client API call carries into the service layer (no web framework types)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from licentia.services.appconfig import AppConfig
from licentia.store.engine import HotConn

FailureEffect = Callable[[HotConn], Awaitable[None]]


@dataclass
class Call:
    endpoint: str  # canonical endpoint name
    body: dict[str, Any]
    raw_body: bytes
    client_ip: str
    reported_ip: str = ""
    country: str = ""
    request_id: str = ""
    nonce: str = ""
    timestamp: int | None = None
    signature: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    # Set as soon as the request's app is known: custom messages apply from then on.
    app: AppConfig | None = None
    client_version: str = ""
    # Auth event bookkeeping (client protocol 2.0.6).
    wants_event: bool = False
    event_written: bool = False
    # Writes that must persist even though the call fails (for example ending a session
    # whose identity was banned); run by the pipeline after the failed transaction.
    on_failure: list[FailureEffect] = field(default_factory=list)
    # Domain events this call adds to those of its outcome (services/client_events.py).
    events: list[str] = field(default_factory=list)
