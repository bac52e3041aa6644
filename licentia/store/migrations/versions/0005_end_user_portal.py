"""end-user portal: portal sessions, sign-in failures and self-service HWID resets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licentia.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_signin_failures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_signin_failures")),
    )
    with op.batch_alter_table("portal_signin_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_portal_signin_failures_subject", ["scope", "subject", "created_at"], unique=False
        )

    op.create_table(
        "portal_resets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("identity_kind", sa.String(length=8), nullable=False),
        sa.Column("identity_id", sa.String(length=36), nullable=False),
        sa.Column("identity_name", sa.String(length=128), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_portal_resets_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_resets")),
    )
    with op.batch_alter_table("portal_resets", schema=None) as batch_op:
        batch_op.create_index("ix_portal_resets_app", ["app_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_portal_resets_identity",
            ["identity_kind", "identity_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "portal_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("identity_kind", sa.String(length=8), nullable=False),
        sa.Column("identity_id", sa.String(length=36), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("user_agent", sa.String(length=256), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_portal_sessions_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_portal_sessions")),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_portal_sessions_app", ["app_id"], unique=False)
        batch_op.create_index(
            "ix_portal_sessions_identity", ["identity_kind", "identity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_sessions_identity")
        batch_op.drop_index("ix_portal_sessions_app")

    op.drop_table("portal_sessions")
    with op.batch_alter_table("portal_resets", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_resets_identity")
        batch_op.drop_index("ix_portal_resets_app")

    op.drop_table("portal_resets")
    with op.batch_alter_table("portal_signin_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_signin_failures_subject")

    op.drop_table("portal_signin_failures")
