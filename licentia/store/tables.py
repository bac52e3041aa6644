"""Database schema (SQLAlchemy Core). Migrations in `store/migrations` create exactly this.

Conventions: ids are UUID strings; names that clients send keep a `*_norm` twin (case-folded)
for case-insensitive uniqueness and lookup; every timestamp is a `UTCDateTime`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)

from licentia.store.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(36)
_BIG = BigInteger().with_variant(Integer, "sqlite")


def _app_fk() -> Column[str]:
    return Column("app_id", ID, ForeignKey("apps.id", ondelete="CASCADE"), nullable=False)


def _serial() -> Column[int]:
    return Column("id", _BIG, primary_key=True, autoincrement=True)


# Accounts: owners now; staff and resellers later share this table.
accounts = Table(
    "accounts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("public_id", String(12), nullable=False, unique=True),
    Column("owner_id", String(8), unique=True),  # 8-digit id that clients send in init
    Column("username", String(64), nullable=False),
    Column("username_norm", String(64), nullable=False, unique=True),
    Column("email", String(254), nullable=False, server_default=""),
    Column("password_hash", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("plan_label", String(64), nullable=False, server_default="Licentia"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
    Column("last_login_ip", String(64)),
    # (migration 0003) initial passwords of staff and reseller accounts (management A.7)
    Column("must_change_password", Boolean, nullable=False, server_default=false()),
    Column("temporary_password_expires_at", UTCDateTime),
    Column("totp_secret_enc", Text),  # dashboard second factor, encrypted with the master key
    Column("compat_initial_password", Boolean, nullable=False, server_default=false()),
    Column("is_operator", Boolean, nullable=False, server_default=false()),
)

apps = Table(
    "apps",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("name_norm", String(64), nullable=False),
    Column("secret_enc", Text, nullable=False),  # the whsec_ signing secret, encrypted
    Column("is_enabled", Boolean, nullable=False, server_default=true()),
    Column("user_panel_enabled", Boolean, nullable=False, server_default=false()),
    Column("hwid_reset_cooldown", Integer, nullable=False, server_default=text("86400")),
    Column("hwid_reset_max_per_30_days", Integer, nullable=False, server_default=text("3")),
    Column("url_prefix", String(128), nullable=False, server_default=""),
    Column("hwid_lock", Boolean, nullable=False, server_default=true()),
    Column("session_idle_timeout", Integer, nullable=False, server_default=text("3600")),
    Column("session_max_lifetime", Integer, nullable=False, server_default=text("86400")),
    Column("require_request_signature", Boolean, nullable=False, server_default=false()),
    Column("allow_password_change", Boolean, nullable=False, server_default=true()),
    Column("client_create_variables", Boolean, nullable=False, server_default=false()),
    Column("hash_check", Boolean, nullable=False, server_default=false()),
    Column("vpn_block", Boolean, nullable=False, server_default=false()),
    Column("blocked_countries", String(1024), nullable=False, server_default=""),
    Column("log_retention_days", Integer, nullable=False, server_default=text("90")),
    Column("latest_version", String(32), nullable=False, server_default=""),
    Column("download_url", Text, nullable=False, server_default=""),
    Column("auto_update_enabled", Boolean, nullable=False, server_default=false()),
    Column("reminder_message", String(200), nullable=False, server_default=""),
    Column("changelog", Text, nullable=False, server_default=""),
    # (migration 0007) lifetime of offline session tickets in seconds; 0 = no tickets
    Column("offline_ticket_ttl", Integer, nullable=False, server_default=text("0")),
    # Bumped by every change to the app's settings or rules; lets workers cache rules safely.
    Column("config_rev", Integer, nullable=False, server_default=text("1")),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("owner_account_id", "name_norm", name="uq_apps_owner_name"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("name", String(64), nullable=False),
    Column("name_norm", String(64), nullable=False),
    Column("level", Integer, nullable=False, server_default=text("1")),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("app_id", "name_norm", name="uq_subscriptions_app_name"),
)

licenses = Table(
    "licenses",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("key", String(128), nullable=False),
    Column("subscription_id", ID, ForeignKey("subscriptions.id"), nullable=False),
    # Term: a duration that starts at first use (0 = lifetime) or a fixed expiry date.
    Column("duration_days", Integer),
    Column("fixed_expiry", UTCDateTime),
    Column("device_limit", Integer, nullable=False, server_default=text("1")),
    Column("note", String(500), nullable=False, server_default=""),
    Column("email", String(254), nullable=False, server_default=""),
    Column("status", String(8), nullable=False, server_default="unused"),  # unused|active|used
    Column("banned", Boolean, nullable=False, server_default=false()),
    Column("ban_reason", String(500), nullable=False, server_default=""),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("paused_at", UTCDateTime),
    Column("expires_at", UTCDateTime),  # set at activation/redemption; NULL = lifetime
    Column("activated_at", UTCDateTime),
    Column("used_by_user_id", ID),
    Column("used_by_username", String(64)),
    Column("last_login_at", UTCDateTime),
    Column("last_ip", String(64), nullable=False, server_default=""),
    Column("last_sid", String(128), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("batch_id", ID),
    UniqueConstraint("app_id", "key", name="uq_licenses_app_key"),
    Index("ix_licenses_app_created", "app_id", "created_at", "id"),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("username", String(64), nullable=False),
    Column("username_norm", String(64), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("email", String(254), nullable=False, server_default=""),
    Column("subscription_id", ID, ForeignKey("subscriptions.id"), nullable=False),
    Column("expires_at", UTCDateTime),  # NULL = lifetime
    Column("device_limit", Integer, nullable=False, server_default=text("1")),
    Column("linked_license_key", String(128), nullable=False, server_default=""),
    Column("banned", Boolean, nullable=False, server_default=false()),
    Column("ban_reason", String(500), nullable=False, server_default=""),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("paused_at", UTCDateTime),
    Column("note", String(500), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("last_login_at", UTCDateTime),
    Column("last_ip", String(64), nullable=False, server_default=""),
    Column("last_sid", String(128), nullable=False, server_default=""),
    Column("password_changed_at", UTCDateTime),
    UniqueConstraint("app_id", "username_norm", name="uq_users_app_username"),
    Index("ix_users_app_created", "app_id", "created_at", "id"),
)
# The dashboard's user search by email prefix (an expression index: emails keep their case).
Index("ix_users_app_email", users.c.app_id, func.lower(users.c.email))
# (migration 0008) the license and user lists sorted by expiry (lifetime last, so the "is
# lifetime" flag leads) and filtered by creator, newest first (#13 item 3).
for _table in (licenses, users):
    Index(
        f"ix_{_table.name}_app_expiry",
        _table.c.app_id,
        _table.c.expires_at.is_(None),
        _table.c.expires_at,
        _table.c.id,
    )
    Index(
        f"ix_{_table.name}_app_created_by",
        _table.c.app_id,
        _table.c.created_by,
        _table.c.created_at,
        _table.c.id,
    )
# The sales numbers (migration 0009): banned, expiring and expired users and keys counted as
# ranges of (app_id, banned, expires_at), read from the index alone. `banned` comes second so
# a list filtered by expiry alone (no `banned` term) keeps walking the list-order index.
Index("ix_users_app_banned_expires", users.c.app_id, users.c.banned, users.c.expires_at)
Index("ix_licenses_app_banned_expires", licenses.c.app_id, licenses.c.banned, licenses.c.expires_at)
Index("ix_licenses_app_activated", licenses.c.app_id, licenses.c.activated_at)

# SID bindings of users and licenses (client protocol 2.0.3).
bindings = Table(
    "bindings",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("holder_kind", String(8), nullable=False),  # user|license
    Column("holder_id", ID, nullable=False),
    Column("sid", String(128), nullable=False),
    Column("sid_norm", String(128), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("last_ip", String(64), nullable=False, server_default=""),
    UniqueConstraint("holder_kind", "holder_id", "sid_norm", name="uq_bindings_holder_sid"),
)

devices = Table(
    "devices",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("device_type", String(16), nullable=False),
    Column("device_id", String(128), nullable=False),
    Column("device_id_norm", String(128), nullable=False),
    Column("name", String(128), nullable=False, server_default=""),
    Column("email", String(254), nullable=False, server_default=""),
    Column("note", String(500), nullable=False, server_default=""),
    Column("subscription_id", ID, ForeignKey("subscriptions.id"), nullable=False),
    Column("expires_at", UTCDateTime),  # NULL = lifetime
    Column("activated", Boolean, nullable=False, server_default=false()),
    Column("activated_at", UTCDateTime),
    Column("hwid", String(128), nullable=False, server_default=""),
    Column("last_ip", String(64), nullable=False, server_default=""),
    Column("last_login_at", UTCDateTime),
    Column("banned", Boolean, nullable=False, server_default=false()),
    Column("ban_reason", String(500), nullable=False, server_default=""),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("paused_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False, server_default=""),
    UniqueConstraint("app_id", "device_type", "device_id_norm", name="uq_devices_app_type_id"),
    Index("ix_devices_app_created", "app_id", "created_at", "id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 hex of the session id
    Column("prefix", String(8), nullable=False),
    _app_fk(),
    Column("identity_kind", String(8), nullable=False, server_default="none"),
    Column("identity_id", ID),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("end_reason", String(32), nullable=False, server_default=""),
    Column("client_ip", String(64), nullable=False, server_default=""),
    Column("reported_ip", String(64), nullable=False, server_default=""),
    Column("client_version", String(32), nullable=False, server_default=""),
    Column("client_hash", String(128), nullable=False, server_default=""),
    Column("sid", String(128), nullable=False, server_default=""),
    Column("country", String(2), nullable=False, server_default=""),  # of the opening address
    Index("ix_sessions_identity", "identity_kind", "identity_id"),
    Index("ix_sessions_app_last_seen", "app_id", "last_seen_at"),
    Index("ix_sessions_app_created", "app_id", "created_at", "id_hash"),
)

variables = Table(
    "variables",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("key", String(64), nullable=False),
    Column("value", Text, nullable=False, server_default=""),
    Column("writable", Boolean, nullable=False, server_default=true()),
    Column("auth_required", Boolean, nullable=False, server_default=false()),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("app_id", "key", name="uq_variables_app_key"),
)

client_logs = Table(
    "client_logs",
    metadata,
    _serial(),
    _app_fk(),
    Column("session_prefix", String(8), nullable=False, server_default=""),
    Column("identity_kind", String(8), nullable=False, server_default="none"),
    Column("identity_name", String(128), nullable=False, server_default=""),
    Column("client_ip", String(64), nullable=False, server_default=""),
    Column("reported_ip", String(64), nullable=False, server_default=""),
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_client_logs_app_created", "app_id", "created_at"),
    # One customer's logs on the support console (migration 0009).
    Index("ix_client_logs_app_identity", "app_id", "identity_kind", "identity_name", "created_at"),
)

auth_events = Table(
    "auth_events",
    metadata,
    _serial(),
    Column("app_id", ID, ForeignKey("apps.id", ondelete="CASCADE")),  # NULL: app unresolved
    Column("endpoint", String(32), nullable=False),
    Column("code", String(40), nullable=False),
    Column("identity", String(128), nullable=False, server_default=""),
    Column("client_ip", String(64), nullable=False, server_default=""),
    Column("reported_ip", String(64), nullable=False, server_default=""),  # the body `ip`
    Column("country", String(2), nullable=False, server_default=""),
    Column("sid", String(128), nullable=False, server_default=""),
    Column("client_version", String(32), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_auth_events_app_created", "app_id", "created_at"),
    # One customer's recent events on the support console (migration 0009).
    Index("ix_auth_events_app_identity", "app_id", "identity", "created_at"),
)

chat_channels = Table(
    "chat_channels",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("name", String(64), nullable=False),
    Column("name_norm", String(64), nullable=False),
    Column("send_delay", Integer, nullable=False, server_default=text("2")),
    Column("max_messages", Integer, nullable=False, server_default=text("10000")),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("app_id", "name_norm", name="uq_chat_channels_app_name"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    _serial(),
    Column("channel_id", ID, ForeignKey("chat_channels.id", ondelete="CASCADE"), nullable=False),
    _app_fk(),
    Column("user_id", ID, nullable=False),
    Column("username", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("client_ip", String(64), nullable=False, server_default=""),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_chat_messages_channel_id", "channel_id", "id"),
    Index("ix_chat_messages_channel_user", "channel_id", "user_id", "id"),
)

chat_mutes = Table(
    "chat_mutes",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("user_id", ID, nullable=False),
    Column("channel_id", ID, ForeignKey("chat_channels.id", ondelete="CASCADE")),  # NULL: app-wide
    Column("reason", String(500), nullable=False, server_default=""),
    Column("expires_at", UTCDateTime),  # NULL: permanent
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_chat_mutes_user", "user_id"),
)

ip_rules = Table(
    "ip_rules",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("value", String(64), nullable=False),
    Column("list", String(5), nullable=False),  # allow|deny
    Column("note", String(500), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("app_id", "list", "value", name="uq_ip_rules_app_list_value"),
)

sid_rules = Table(
    "sid_rules",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("sid", String(128), nullable=False),
    Column("sid_norm", String(128), nullable=False),
    Column("list", String(5), nullable=False),  # allow|deny
    Column("note", String(500), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("app_id", "list", "sid_norm", name="uq_sid_rules_app_list_sid"),
)

version_rules = Table(
    "version_rules",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("version", String(32), nullable=False),
    Column("mode", String(8), nullable=False),  # allow|reminder|grace|block
    Column("allowed_until", UTCDateTime),
    Column("note", String(500), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
)

allowed_hashes = Table(
    "allowed_hashes",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("hash", String(64), nullable=False),
    Column("note", String(500), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("app_id", "hash", name="uq_allowed_hashes_app_hash"),
)

custom_messages = Table(
    "custom_messages",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("code", String(40), nullable=False),
    Column("message", String(200), nullable=False),
    UniqueConstraint("app_id", "code", name="uq_custom_messages_app_code"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(16), primary_key=True),
    Column("public_der_b64", String(64), nullable=False),
    Column("private_enc", Text, nullable=False),
    Column("status", String(8), nullable=False),  # active|pending|retired
    Column("created_at", UTCDateTime, nullable=False),
    Column("activated_at", UTCDateTime),
    # At most one active key, even when several processes start at once.
    Index(
        "uq_signing_keys_active",
        "status",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)

# Nonces seen by the client API (client protocol 0.7), shared by every worker process.
replay_cache = Table(
    "replay_cache",
    metadata,
    Column("nonce", String(128), primary_key=True),
    Column("request_id", String(128), nullable=False, server_default=""),
    Column("body_sha256", String(64), nullable=False),
    Column("status", Integer),
    Column("response_body", Text),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_replay_cache_expires", "expires_at"),
)

# -- management credentials and audit (migration 0002) -----------------------------------

# API tokens of the native management API (management B.1). The token is shown once; only its
# HMAC-SHA256 digest (keyed with a subkey of the master key) is kept.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("prefix", String(8), nullable=False),  # first 8 characters, for display
    Column("digest", String(64), nullable=False, unique=True),
    Column("scopes", Text, nullable=False),  # JSON list of capability names and shorthands
    Column("app_ids", Text),  # JSON list of app ids; NULL = every app of the owner
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("expires_at", UTCDateTime),  # NULL = never
    Column("revoked_at", UTCDateTime),
    # (migration 0003) the owner whose objects the token reaches; NULL = the account itself.
    # A staff member's or reseller's token acts within that owner and that membership's rights.
    Column("owner_account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE")),
    Index("ix_api_tokens_account", "account_id"),
)

# Elite Key settings, one row per owner (management A.2, B.2). The row outlives a deleted key
# (digest NULL) so capability toggles and IP/domain lists are kept.
elite_keys = Table(
    "elite_keys",
    metadata,
    Column(
        "owner_account_id",
        ID,
        ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("digest", String(64), unique=True),  # NULL = no key
    Column("prefix", String(8)),
    Column("created_at", UTCDateTime),  # when the current key was created
    Column("last_used_at", UTCDateTime),
    Column("last_used_ip", String(64)),
    Column("disabled_capabilities", Text, nullable=False, server_default="[]"),
    Column("ip_allow", Text, nullable=False, server_default="[]"),
    Column("ip_deny", Text, nullable=False, server_default="[]"),
    Column("domain_allow", Text, nullable=False, server_default="[]"),
    Column("domain_deny", Text, nullable=False, server_default="[]"),
)

# Append-only audit log (management B.20). No foreign keys: entries outlive owners and apps.
audit_log = Table(
    "audit_log",
    metadata,
    _serial(),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor_kind", String(16), nullable=False),  # account|token|elite-key|cli|portal|system
    Column("actor", String(128), nullable=False, server_default=""),
    Column("face", String(16), nullable=False),  # rest|dashboard|cli|elite-key|portal
    Column("actor_ip", String(64), nullable=False, server_default=""),
    Column("owner_account_id", ID),
    Column("app_id", ID),
    Column("capability", String(64), nullable=False),  # name.action
    Column("target_type", String(32), nullable=False, server_default=""),
    Column("target", String(256), nullable=False, server_default=""),
    Column("changes", Text),  # JSON {"field": [before, after]}; secrets only as "changed"
    Column("details", Text),  # JSON of further facts (Elite Key: domain, url_prefix)
    Column("result", String(40), nullable=False, server_default="ok"),
    Column("request_id", String(128), nullable=False, server_default=""),
    Index("ix_audit_log_owner_created", "owner_account_id", "created_at"),
    Index("ix_audit_log_capability", "capability"),
    # The support console's "audit entries about this customer" (migration 0009).
    Index("ix_audit_log_target", "owner_account_id", "target", "id"),
)


# -- staff, resellers, batches and usage (migration 0003) --------------------------------

# Staff roles (management B.18): capability lists with an app scope, per owner.
staff_roles = Table(
    "staff_roles",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("name_norm", String(64), nullable=False),
    Column("permissions", Text, nullable=False, server_default="[]"),  # JSON capability names
    Column("app_ids", Text),  # JSON list of app ids; NULL = every app of the owner
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("owner_account_id", "name_norm", name="uq_staff_roles_owner_name"),
)

# Staff members: an account working for an owner under a role (B.18).
staff_members = Table(
    "staff_members",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("role_id", ID, ForeignKey("staff_roles.id"), nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("owner_account_id", "account_id", name="uq_staff_members_owner_account"),
    Index("ix_staff_members_account", "account_id"),
)

# Rate plans (B.19): what a reseller may generate and what each key costs.
rate_plans = Table(
    "rate_plans",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("name_norm", String(64), nullable=False),
    Column("allow_ban", Boolean, nullable=False, server_default=false()),  # ban/unban own keys
    Column("allow_reset_hwid", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("owner_account_id", "name_norm", name="uq_rate_plans_owner_name"),
)

# One priced product of a rate plan: a subscription with a term. term_kind: duration (term_days
# from first use), fixed (expires term_days after generation) or lifetime (term_days 0).
rate_plan_prices = Table(
    "rate_plan_prices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("rate_plan_id", ID, ForeignKey("rate_plans.id", ondelete="CASCADE"), nullable=False),
    _app_fk(),
    Column(
        "subscription_id", ID, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("term_kind", String(8), nullable=False),
    Column("term_days", Integer, nullable=False, server_default=text("0")),
    Column("price", Integer, nullable=False),
    UniqueConstraint(
        "rate_plan_id", "subscription_id", "term_kind", "term_days", name="uq_rate_plan_prices_item"
    ),
)

# Resellers (B.19). points_balance never goes below zero: every change is a conditional
# UPDATE plus a coin_ledger row in the same transaction.
resellers = Table(
    "resellers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("rate_plan_id", ID, ForeignKey("rate_plans.id")),
    Column("points_balance", BigInteger, nullable=False, server_default=text("0")),
    Column("is_active", Boolean, nullable=False, server_default=true()),
    Column("app_ids", Text),  # JSON list of app ids; NULL = every app the rate plan prices
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("owner_account_id", "account_id", name="uq_resellers_owner_account"),
    Index("ix_resellers_account", "account_id"),
)

coin_ledger = Table(
    "coin_ledger",
    metadata,
    _serial(),
    Column("reseller_id", ID, ForeignKey("resellers.id", ondelete="CASCADE"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("description", String(200), nullable=False, server_default=""),
    Column("actor", String(128), nullable=False, server_default=""),
    Column("batch_id", ID),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_coin_ledger_reseller", "reseller_id", "id"),
)

# Bulk generations (B.6): the batch id stamped on its licenses, and the optional idempotency
# key that makes a retried call return the original batch (24 hours, per owner).
license_batches = Table(
    "license_batches",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("owner_account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("idempotency_key", String(128)),
    Column("request_digest", String(64), nullable=False, server_default=""),
    Column("count", Integer, nullable=False),
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "owner_account_id", "idempotency_key", name="uq_license_batches_owner_idempotency"
    ),
)
Index("ix_licenses_batch", licenses.c.batch_id)

# Client API requests per app, UTC day and endpoint (B.12 usage; Elite Key `app usage`).
usage_daily = Table(
    "usage_daily",
    metadata,
    Column("app_id", ID, ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("endpoint", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False, server_default=text("0")),
)

# -- dashboard (migration 0004) -----------------------------------------------------------

# Signed-in dashboard browsers. The cookie carries 256 random bits; only their SHA-256 is
# stored, so a leaked table cannot be replayed as cookies. `stage` is `totp` between the
# password step and the second factor, `full` once signed in.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String(16), nullable=False, server_default="full"),
    Column("csrf_token", String(64), nullable=False),
    # A TOTP secret being set up (encrypted), kept until the confirmation code arrives.
    Column("totp_pending_enc", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ip", String(64), nullable=False, server_default=""),
    Column("user_agent", String(256), nullable=False, server_default=""),
    Index("ix_dashboard_sessions_account", "account_id"),
)

# Failed dashboard sign-ins, per account name (`account`, the normalised username, known or
# not) and per client address (`ip`); recent rows decide the lockout.
dashboard_signin_failures = Table(
    "dashboard_signin_failures",
    metadata,
    _serial(),
    Column("scope", String(16), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_dashboard_signin_failures_subject", "scope", "subject", "created_at"),
)

# The last TOTP time step accepted per account, so one code cannot be used twice.
dashboard_totp_steps = Table(
    "dashboard_totp_steps",
    metadata,
    Column("account_id", ID, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("last_step", BigInteger, nullable=False),
)

# -- portal (migration 0005) --------------------------------------------------------------

# Signed-in end users of an app's self-service portal (management B.22): a user (by
# username and password) or a key-only license. The cookie carries 256 random bits; only
# their SHA-256 is stored.
portal_sessions = Table(
    "portal_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    _app_fk(),
    Column("identity_kind", String(8), nullable=False),  # user|license
    Column("identity_id", ID, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ip", String(64), nullable=False, server_default=""),
    Column("user_agent", String(256), nullable=False, server_default=""),
    Index("ix_portal_sessions_app", "app_id"),
    Index("ix_portal_sessions_identity", "identity_kind", "identity_id"),
)

# Failed portal sign-ins: per app, name (or "any license key") and client address
# (`name`, a SHA-256 hex subject), and per client address (`ip`); recent rows decide the lockout.
portal_signin_failures = Table(
    "portal_signin_failures",
    metadata,
    _serial(),
    Column("scope", String(16), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_portal_signin_failures_subject", "scope", "subject", "created_at"),
)

# Self-service HWID resets: the cooldown and the 30-day maximum are counted from these rows.
portal_resets = Table(
    "portal_resets",
    metadata,
    _serial(),
    _app_fk(),
    Column("identity_kind", String(8), nullable=False),  # user|license
    Column("identity_id", ID, nullable=False),
    Column("identity_name", String(128), nullable=False),  # username or license key
    Column("created_at", UTCDateTime, nullable=False),
    Column("ip", String(64), nullable=False, server_default=""),
    Index("ix_portal_resets_identity", "identity_kind", "identity_id", "created_at"),
    Index("ix_portal_resets_app", "app_id", "created_at"),
)

# -- event outbox and webhooks (migration 0009_webhooks_outbox) ----------------------------
# events: domain events, written in the change's transaction (services/events.py; id = the
# webhook-id); deliveries: one per event and endpoint, claimed by lease; attempts: every POST.

events = Table(
    "events",
    metadata,
    Column("id", String(40), primary_key=True),  # evt_<26 base32 chars>
    _app_fk(),
    Column("type", String(48), nullable=False),
    Column("data", Text, nullable=False),  # JSON object
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_events_app_created", "app_id", "created_at"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", ID, primary_key=True),
    _app_fk(),
    Column("url", String(2048), nullable=False),
    Column("secret_enc", Text, nullable=False),  # the whsec_ signing secret, encrypted
    Column("event_types", Text, nullable=False, server_default="*"),  # "*" or comma list
    Column("format", String(16), nullable=False, server_default="standard"),  # |discord
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("description", String(256), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_webhook_endpoints_app", "app_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _serial(),
    Column("event_id", String(40), ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column(
        "endpoint_id", ID, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    ),
    Column("status", String(16), nullable=False, server_default="pending"),  # |delivered|failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("lease_token", String(32)),
    Column("last_status_code", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    _serial(),
    Column(
        "delivery_id", _BIG, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False
    ),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", Integer),
    Column("ok", Boolean, nullable=False, server_default=false()),
    Column("latency_ms", Integer, nullable=False, server_default=text("0")),
    Column("error", String(256), nullable=False, server_default=""),
    Column("response_excerpt", Text, nullable=False, server_default=""),
    Index("ix_webhook_attempts_delivery", "delivery_id", "attempted_at"),
)
