"""Server settings, read from `LICENTIA_*` environment variables by the composition roots.

Nothing reads settings at import time: `create_app(settings)` and the CLI build a `Settings`
and pass it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from licentia.configcheck import normalize_database_url


class RateSpec:
    """A token bucket: `N/SECONDS` (for example `1200/60`); `0` disables it."""

    def __init__(self, capacity: int, period: float) -> None:
        self.capacity = capacity
        self.period = period

    @classmethod
    def parse(cls, text: str) -> RateSpec:
        value = text.strip()
        if value in ("0", "", "off"):
            return cls(0, 1.0)
        count, _, seconds = value.partition("/")
        try:
            capacity = int(count)
            period = float(seconds or "60")
        except ValueError:
            capacity, period = -1, 0.0
        if capacity < 0 or not period > 0:
            raise ValueError(
                f"rate limit must be N/SECONDS (N requests per SECONDS seconds, e.g. 1200/60) "
                f"or 0 to disable, got {text!r}"
            )
        return cls(capacity, period)

    @property
    def enabled(self) -> bool:
        return self.capacity > 0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LICENTIA_", extra="ignore")

    env: Literal["dev", "production"] = "dev"
    data_dir: Path = Path("licentia-data")
    database_url: str = ""
    master_key: str | None = Field(default=None, repr=False)
    redis_url: str = ""
    redis_prefix: str = "licentia:"

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    #: How `serve` speaks HTTP/1.1 (issue #14; see licentia/server/protocols.py).
    http: Literal["httptools", "h11"] = "httptools"
    #: Seconds a connection has to send one whole request, from connecting or its first byte.
    header_timeout: float = Field(default=10.0, ge=0)
    #: Seconds an idle keep-alive connection is kept between two requests.
    keepalive_timeout: float = Field(default=5.0, gt=0)
    #: Connections per worker above which requests are answered "busy"; 0 = no cap.
    max_connections: int = Field(default=1000, ge=0)

    replay_window: int = 300
    replay_backend: Literal["auto", "memory", "database", "redis"] = "auto"
    max_body_bytes: int = 65536

    rate_general: str = "1200/60"
    rate_credentials: str = "120/60"
    rate_identity: str = "60/60"
    #: The identity and SID buckets above are per client address (issue #14: one address
    #: must not lock a user out everywhere); this one caps an identity over all addresses.
    rate_identity_ceiling: str = "600/60"

    trusted_proxies: str = ""
    forwarded_header: str = "x-forwarded-for"
    country_header: str = ""
    geoip_db: str = ""
    vpn_list: str = ""

    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    #: Password hashes computed at once per worker; 0 = the usable cores less one (at least 1).
    hash_concurrency: int = Field(default=0, ge=0)

    db_pool_size: int = 10
    auto_migrate: bool = True
    purge_interval: int = 600
    log_level: str = "info"

    #: Elite Key calls per owner (management A.4 step 7), shared through Redis when set.
    elite_rate: str = "120/60"
    #: Audit entries older than this many days are pruned by the periodic purge (B.20).
    audit_retention_days: int = Field(default=365, ge=1)
    #: Seconds between two flushes of the in-memory client usage counters (B.12).
    usage_flush_interval: float = Field(default=5.0, gt=0)
    #: `GET /metrics` (Prometheus text format) is served only when enabled.
    metrics_enabled: bool = False
    #: When set, `/metrics` asks for `Authorization: Bearer <token>`.
    metrics_token: str | None = Field(default=None, repr=False)
    #: Outbound webhooks (docs/webhooks.md): allow private, loopback and link-local targets.
    webhook_allow_private: bool = False
    #: Seconds between the attempts of one delivery after the first (jittered by +-20%).
    webhook_retry_schedule: str = "5,300,1800,7200,18000,36000,36000"
    #: Seconds one webhook HTTP request may take (connect, send, read).
    webhook_timeout: float = Field(default=10.0, gt=0, le=60)
    #: Seconds a delivery worker sleeps when no delivery is due (`0`: no worker in `serve`).
    webhook_poll_interval: float = Field(default=2.0, ge=0)

    @field_validator(
        "rate_general", "rate_credentials", "rate_identity", "rate_identity_ceiling", "elite_rate"
    )
    @classmethod
    def _check_rate(cls, value: str) -> str:
        RateSpec.parse(value)
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts or any(not p.replace(".", "", 1).isdigit() for p in parts):
            raise ValueError("webhook_retry_schedule: comma-separated seconds, e.g. 5,300,1800")
        return value

    def webhook_retry_delays(self) -> tuple[float, ...]:
        return tuple(float(p) for p in self.webhook_retry_schedule.split(",") if p.strip())

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url.strip())
        return f"sqlite+aiosqlite:///{(self.data_dir / 'licentia.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def rate(
        self, name: Literal["general", "credentials", "identity", "identity_ceiling", "elite"]
    ) -> RateSpec:
        if name == "elite":
            return RateSpec.parse(self.elite_rate)
        return RateSpec.parse(getattr(self, f"rate_{name}"))

    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]
