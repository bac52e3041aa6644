"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licentia.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("public_id", sa.String(length=12), nullable=False),
        sa.Column("owner_id", sa.String(length=8), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("username_norm", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), server_default="", nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("plan_label", sa.String(length=64), server_default="Licentia", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_login_ip", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("owner_id", name=op.f("uq_accounts_owner_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_accounts_public_id")),
        sa.UniqueConstraint("username_norm", name=op.f("uq_accounts_username_norm")),
    )
    op.create_table(
        "replay_cache",
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=128), server_default="", nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("expires_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_replay_cache")),
    )
    with op.batch_alter_table("replay_cache", schema=None) as batch_op:
        batch_op.create_index("ix_replay_cache_expires", ["expires_at"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("public_der_b64", sa.String(length=64), nullable=False),
        sa.Column("private_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_index(
        "uq_signing_keys_active",
        "signing_keys",
        ["status"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "apps",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_account_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_norm", sa.String(length=64), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("user_panel_enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "hwid_reset_cooldown", sa.Integer(), server_default=sa.text("(86400)"), nullable=False
        ),
        sa.Column(
            "hwid_reset_max_per_30_days", sa.Integer(), server_default=sa.text("3"), nullable=False
        ),
        sa.Column("url_prefix", sa.String(length=128), server_default="", nullable=False),
        sa.Column("hwid_lock", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "session_idle_timeout", sa.Integer(), server_default=sa.text("(3600)"), nullable=False
        ),
        sa.Column(
            "session_max_lifetime", sa.Integer(), server_default=sa.text("(86400)"), nullable=False
        ),
        sa.Column(
            "require_request_signature", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("allow_password_change", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "client_create_variables", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("hash_check", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("vpn_block", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("blocked_countries", sa.String(length=1024), server_default="", nullable=False),
        sa.Column(
            "log_retention_days", sa.Integer(), server_default=sa.text("(90)"), nullable=False
        ),
        sa.Column("latest_version", sa.String(length=32), server_default="", nullable=False),
        sa.Column("download_url", sa.Text(), server_default="", nullable=False),
        sa.Column("auto_update_enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reminder_message", sa.String(length=200), server_default="", nullable=False),
        sa.Column("changelog", sa.Text(), server_default="", nullable=False),
        sa.Column("config_rev", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["accounts.id"],
            name=op.f("fk_apps_owner_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
        sa.UniqueConstraint("owner_account_id", "name_norm", name="uq_apps_owner_name"),
    )
    op.create_table(
        "allowed_hashes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_allowed_hashes_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allowed_hashes")),
        sa.UniqueConstraint("app_id", "hash", name="uq_allowed_hashes_app_hash"),
    )
    op.create_table(
        "auth_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("app_id", sa.String(length=36), nullable=True),
        sa.Column("endpoint", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("identity", sa.String(length=128), server_default="", nullable=False),
        sa.Column("client_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("country", sa.String(length=2), server_default="", nullable=False),
        sa.Column("sid", sa.String(length=128), server_default="", nullable=False),
        sa.Column("client_version", sa.String(length=32), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_auth_events_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_events")),
    )
    with op.batch_alter_table("auth_events", schema=None) as batch_op:
        batch_op.create_index("ix_auth_events_app_created", ["app_id", "created_at"], unique=False)

    op.create_table(
        "bindings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("holder_kind", sa.String(length=8), nullable=False),
        sa.Column("holder_id", sa.String(length=36), nullable=False),
        sa.Column("sid", sa.String(length=128), nullable=False),
        sa.Column("sid_norm", sa.String(length=128), nullable=False),
        sa.Column("first_seen_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_ip", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_bindings_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bindings")),
        sa.UniqueConstraint("holder_kind", "holder_id", "sid_norm", name="uq_bindings_holder_sid"),
    )
    op.create_table(
        "chat_channels",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_norm", sa.String(length=64), nullable=False),
        sa.Column("send_delay", sa.Integer(), server_default=sa.text("2"), nullable=False),
        sa.Column("max_messages", sa.Integer(), server_default=sa.text("(10000)"), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_chat_channels_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_channels")),
        sa.UniqueConstraint("app_id", "name_norm", name="uq_chat_channels_app_name"),
    )
    op.create_table(
        "client_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("session_prefix", sa.String(length=8), server_default="", nullable=False),
        sa.Column("identity_kind", sa.String(length=8), server_default="none", nullable=False),
        sa.Column("identity_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("client_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("reported_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_client_logs_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_logs")),
    )
    with op.batch_alter_table("client_logs", schema=None) as batch_op:
        batch_op.create_index("ix_client_logs_app_created", ["app_id", "created_at"], unique=False)

    op.create_table(
        "custom_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_custom_messages_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_messages")),
        sa.UniqueConstraint("app_id", "code", name="uq_custom_messages_app_code"),
    )
    op.create_table(
        "ip_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("list", sa.String(length=5), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_ip_rules_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_rules")),
        sa.UniqueConstraint("app_id", "list", "value", name="uq_ip_rules_app_list_value"),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("identity_kind", sa.String(length=8), server_default="none", nullable=False),
        sa.Column("identity_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), server_default="", nullable=False),
        sa.Column("client_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("reported_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("client_version", sa.String(length=32), server_default="", nullable=False),
        sa.Column("client_hash", sa.String(length=128), server_default="", nullable=False),
        sa.Column("sid", sa.String(length=128), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_sessions_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_app_last_seen", ["app_id", "last_seen_at"], unique=False)
        batch_op.create_index(
            "ix_sessions_identity", ["identity_kind", "identity_id"], unique=False
        )

    op.create_table(
        "sid_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("sid", sa.String(length=128), nullable=False),
        sa.Column("sid_norm", sa.String(length=128), nullable=False),
        sa.Column("list", sa.String(length=5), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_sid_rules_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sid_rules")),
        sa.UniqueConstraint("app_id", "list", "sid_norm", name="uq_sid_rules_app_list_sid"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_norm", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_subscriptions_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("app_id", "name_norm", name="uq_subscriptions_app_name"),
    )
    op.create_table(
        "variables",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), server_default="", nullable=False),
        sa.Column("writable", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("auth_required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_variables_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variables")),
        sa.UniqueConstraint("app_id", "key", name="uq_variables_app_key"),
    )
    op.create_table(
        "version_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("allowed_until", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_version_rules_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_rules")),
    )
    op.create_table(
        "chat_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("channel_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("client_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_chat_messages_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["chat_channels.id"],
            name=op.f("fk_chat_messages_channel_id_chat_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index("ix_chat_messages_channel_id", ["channel_id", "id"], unique=False)
        batch_op.create_index(
            "ix_chat_messages_channel_user", ["channel_id", "user_id", "id"], unique=False
        )

    op.create_table(
        "chat_mutes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("channel_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("expires_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_chat_mutes_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["chat_channels.id"],
            name=op.f("fk_chat_mutes_channel_id_chat_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_mutes")),
    )
    with op.batch_alter_table("chat_mutes", schema=None) as batch_op:
        batch_op.create_index("ix_chat_mutes_user", ["user_id"], unique=False)

    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("device_type", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("device_id_norm", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("email", sa.String(length=254), server_default="", nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("activated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("activated_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("hwid", sa.String(length=128), server_default="", nullable=False),
        sa.Column("last_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("last_login_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("banned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("ban_reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_devices_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_devices_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint(
            "app_id", "device_type", "device_id_norm", name="uq_devices_app_type_id"
        ),
    )
    op.create_table(
        "licenses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.Column("fixed_expiry", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("device_limit", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("email", sa.String(length=254), server_default="", nullable=False),
        sa.Column("status", sa.String(length=8), server_default="unused", nullable=False),
        sa.Column("banned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("ban_reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("activated_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_by_user_id", sa.String(length=36), nullable=True),
        sa.Column("used_by_username", sa.String(length=64), nullable=True),
        sa.Column("last_login_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("last_sid", sa.String(length=128), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_licenses_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_licenses_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
        sa.UniqueConstraint("app_id", "key", name="uq_licenses_app_key"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("username_norm", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=254), server_default="", nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("device_limit", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("linked_license_key", sa.String(length=128), server_default="", nullable=False),
        sa.Column("banned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("ban_reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("last_login_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("last_sid", sa.String(length=128), server_default="", nullable=False),
        sa.Column(
            "password_changed_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_users_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_users_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("app_id", "username_norm", name="uq_users_app_username"),
    )


def downgrade() -> None:

    op.drop_table("users")
    op.drop_table("licenses")
    op.drop_table("devices")
    with op.batch_alter_table("chat_mutes", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_mutes_user")

    op.drop_table("chat_mutes")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_channel_user")
        batch_op.drop_index("ix_chat_messages_channel_id")

    op.drop_table("chat_messages")
    op.drop_table("version_rules")
    op.drop_table("variables")
    op.drop_table("subscriptions")
    op.drop_table("sid_rules")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_identity")
        batch_op.drop_index("ix_sessions_app_last_seen")

    op.drop_table("sessions")
    op.drop_table("ip_rules")
    op.drop_table("custom_messages")
    with op.batch_alter_table("client_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_client_logs_app_created")

    op.drop_table("client_logs")
    op.drop_table("chat_channels")
    op.drop_table("bindings")
    with op.batch_alter_table("auth_events", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_events_app_created")

    op.drop_table("auth_events")
    op.drop_table("allowed_hashes")
    op.drop_table("apps")
    op.drop_index("uq_signing_keys_active", table_name="signing_keys")
    op.drop_table("signing_keys")
    with op.batch_alter_table("replay_cache", schema=None) as batch_op:
        batch_op.drop_index("ix_replay_cache_expires")

    op.drop_table("replay_cache")
    op.drop_table("accounts")
