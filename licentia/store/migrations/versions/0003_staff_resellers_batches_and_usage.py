"""staff, resellers, batches and usage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licentia.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_plans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_account_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_norm", sa.String(length=64), nullable=False),
        sa.Column("allow_ban", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("allow_reset_hwid", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["accounts.id"],
            name=op.f("fk_rate_plans_owner_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_plans")),
        sa.UniqueConstraint("owner_account_id", "name_norm", name="uq_rate_plans_owner_name"),
    )
    op.create_table(
        "staff_roles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_account_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_norm", sa.String(length=64), nullable=False),
        sa.Column("permissions", sa.Text(), server_default="[]", nullable=False),
        sa.Column("app_ids", sa.Text(), nullable=True),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["accounts.id"],
            name=op.f("fk_staff_roles_owner_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_roles")),
        sa.UniqueConstraint("owner_account_id", "name_norm", name="uq_staff_roles_owner_name"),
    )
    op.create_table(
        "license_batches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("owner_account_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("request_digest", sa.String(length=64), server_default="", nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_license_batches_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["accounts.id"],
            name=op.f("fk_license_batches_owner_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_batches")),
        sa.UniqueConstraint(
            "owner_account_id", "idempotency_key", name="uq_license_batches_owner_idempotency"
        ),
    )
    op.create_table(
        "resellers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_account_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("rate_plan_id", sa.String(length=36), nullable=True),
        sa.Column("points_balance", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("app_ids", sa.Text(), nullable=True),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_resellers_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["accounts.id"],
            name=op.f("fk_resellers_owner_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rate_plan_id"], ["rate_plans.id"], name=op.f("fk_resellers_rate_plan_id_rate_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resellers")),
        sa.UniqueConstraint("owner_account_id", "account_id", name="uq_resellers_owner_account"),
    )
    with op.batch_alter_table("resellers", schema=None) as batch_op:
        batch_op.create_index("ix_resellers_account", ["account_id"], unique=False)

    op.create_table(
        "staff_members",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_account_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("role_id", sa.String(length=36), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_staff_members_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["accounts.id"],
            name=op.f("fk_staff_members_owner_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["staff_roles.id"], name=op.f("fk_staff_members_role_id_staff_roles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint(
            "owner_account_id", "account_id", name="uq_staff_members_owner_account"
        ),
    )
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.create_index("ix_staff_members_account", ["account_id"], unique=False)

    op.create_table(
        "usage_daily",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("endpoint", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_usage_daily_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("app_id", "day", "endpoint", name=op.f("pk_usage_daily")),
    )
    op.create_table(
        "coin_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("reseller_id", sa.String(length=36), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.Column("actor", sa.String(length=128), server_default="", nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", licentia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reseller_id"],
            ["resellers.id"],
            name=op.f("fk_coin_ledger_reseller_id_resellers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coin_ledger")),
    )
    with op.batch_alter_table("coin_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_coin_ledger_reseller", ["reseller_id", "id"], unique=False)

    op.create_table(
        "rate_plan_prices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rate_plan_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("term_kind", sa.String(length=8), nullable=False),
        sa.Column("term_days", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_rate_plan_prices_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rate_plan_id"],
            ["rate_plans.id"],
            name=op.f("fk_rate_plan_prices_rate_plan_id_rate_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_rate_plan_prices_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_plan_prices")),
        sa.UniqueConstraint(
            "rate_plan_id",
            "subscription_id",
            "term_kind",
            "term_days",
            name="uq_rate_plan_prices_item",
        ),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "temporary_password_expires_at",
                licentia.store.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("totp_secret_enc", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "compat_initial_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("is_operator", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_account_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_owner_account_id_accounts"),
            "accounts",
            ["owner_account_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index("ix_licenses_batch", ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_licenses_batch")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_api_tokens_owner_account_id_accounts"), type_="foreignkey"
        )
        batch_op.drop_column("owner_account_id")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("is_operator")
        batch_op.drop_column("compat_initial_password")
        batch_op.drop_column("totp_secret_enc")
        batch_op.drop_column("temporary_password_expires_at")
        batch_op.drop_column("must_change_password")

    op.drop_table("rate_plan_prices")
    with op.batch_alter_table("coin_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_coin_ledger_reseller")

    op.drop_table("coin_ledger")
    op.drop_table("usage_daily")
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_members_account")

    op.drop_table("staff_members")
    with op.batch_alter_table("resellers", schema=None) as batch_op:
        batch_op.drop_index("ix_resellers_account")

    op.drop_table("resellers")
    op.drop_table("license_batches")
    op.drop_table("staff_roles")
    op.drop_table("rate_plans")
