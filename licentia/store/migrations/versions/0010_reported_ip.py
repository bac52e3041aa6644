"""reported IP on auth events, country on client sessions

The client's advisory body `ip` (client protocol 0.5) was kept on the session opened by
`init` only: the IP a login reported was dropped. Auth events now keep it next to the real
client IP, so the dashboard's support console can show what the program said at login.
Sessions keep the country of the address that opened them, for the "Online now" list (the
country is known at request time only: a GeoIP database or a proxy's country header).
Three indexes serve the support console's per-customer reads: auth events and client logs
by identity, audit entries by target; three more the sales numbers: (app_id, banned,
expires_at) on users and licenses, (app_id, activated_at) on licenses, so they count index
ranges instead of reading 100,000 rows (`banned` second, so a list filtered by expiry
alone keeps its list-order index).

Revision ID: 0010_reported_ip
Revises: 0009_webhooks_outbox
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_reported_ip"
down_revision = "0009_webhooks_outbox"
branch_labels = None
depends_on = None


#: The sales numbers count these ranges instead of reading every key and user.
RANGE_INDEXES = (
    ("users", "ix_users_app_banned_expires", ["banned", "expires_at"]),
    ("licenses", "ix_licenses_app_banned_expires", ["banned", "expires_at"]),
    ("licenses", "ix_licenses_app_activated", ["activated_at"]),
)


def upgrade() -> None:
    with op.batch_alter_table("auth_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reported_ip", sa.String(length=64), server_default="", nullable=False)
        )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("country", sa.String(length=2), server_default="", nullable=False)
        )
    op.create_index(
        "ix_auth_events_app_identity", "auth_events", ["app_id", "identity", "created_at"]
    )
    op.create_index("ix_audit_log_target", "audit_log", ["owner_account_id", "target", "id"])
    op.create_index(
        "ix_client_logs_app_identity",
        "client_logs",
        ["app_id", "identity_kind", "identity_name", "created_at"],
    )
    for table, name, columns in RANGE_INDEXES:
        op.create_index(name, table, ["app_id", *columns])


def downgrade() -> None:
    for table, name, _columns in RANGE_INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_index("ix_client_logs_app_identity", table_name="client_logs")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_auth_events_app_identity", table_name="auth_events")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("country")
    with op.batch_alter_table("auth_events", schema=None) as batch_op:
        batch_op.drop_column("reported_ip")
