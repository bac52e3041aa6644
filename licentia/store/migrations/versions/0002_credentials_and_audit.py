"""credentials (API tokens, Elite Keys) and the audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licentia.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), server_default="", nullable=False),
        sa.Column("face", sa.String(length=16), nullable=False),
        sa.Column("actor_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("owner_account_id", sa.String(length=36), nullable=True),
        sa.Column("app_id", sa.String(length=36), nullable=True),
        sa.Column("capability", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), server_default="", nullable=False),
        sa.Column("target", sa.String(length=256), server_default="", nullable=False),
        sa.Column("changes", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("result", sa.String(length=40), server_default="ok", nullable=False),
        sa.Column("request_id", sa.String(length=128), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_capability", ["capability"], unique=False)
        batch_op.create_index(
            "ix_audit_log_owner_created", ["owner_account_id", "created_at"], unique=False
        )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("app_ids", sa.Text(), nullable=True),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_api_tokens_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_tokens_digest")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_api_tokens_account", ["account_id"], unique=False)

    op.create_table(
        "elite_keys",
        sa.Column("owner_account_id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("prefix", sa.String(length=8), nullable=True),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", licentia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_ip", sa.String(length=64), nullable=True),
        sa.Column("disabled_capabilities", sa.Text(), server_default="[]", nullable=False),
        sa.Column("ip_allow", sa.Text(), server_default="[]", nullable=False),
        sa.Column("ip_deny", sa.Text(), server_default="[]", nullable=False),
        sa.Column("domain_allow", sa.Text(), server_default="[]", nullable=False),
        sa.Column("domain_deny", sa.Text(), server_default="[]", nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["accounts.id"],
            name=op.f("fk_elite_keys_owner_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_account_id", name=op.f("pk_elite_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_elite_keys_digest")),
    )


def downgrade() -> None:
    op.drop_table("elite_keys")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_api_tokens_account")

    op.drop_table("api_tokens")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_owner_created")
        batch_op.drop_index("ix_audit_log_capability")

    op.drop_table("audit_log")
