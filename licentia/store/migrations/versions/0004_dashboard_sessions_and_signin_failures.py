"""dashboard sessions, sign-in failures and TOTP steps

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licentia.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_signin_failures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_signin_failures")),
    )
    with op.batch_alter_table("dashboard_signin_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dashboard_signin_failures_subject", ["scope", "subject", "created_at"], unique=False
        )

    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("stage", sa.String(length=16), server_default="full", nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("totp_pending_enc", sa.Text(), nullable=True),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("user_agent", sa.String(length=256), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_dashboard_sessions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_dashboard_sessions")),
    )
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_dashboard_sessions_account", ["account_id"], unique=False)

    op.create_table(
        "dashboard_totp_steps",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_dashboard_totp_steps_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_dashboard_totp_steps")),
    )


def downgrade() -> None:
    op.drop_table("dashboard_totp_steps")
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_sessions_account")

    op.drop_table("dashboard_sessions")
    with op.batch_alter_table("dashboard_signin_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_signin_failures_subject")

    op.drop_table("dashboard_signin_failures")
