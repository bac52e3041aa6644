"""list sort indexes: licenses and users by (app_id, expires_at IS NULL, expires_at, id) and
(app_id, created_by, created_at, id)

The dashboard's license and user lists sort by expiry (soonest first, lifetime last; the
reverse for descending) and filter by creator (#13 item 3). Without an index in that order a
sorted page sorted every row of the app (a 100,000-user app: about 230 ms per page on
SQLite); with it a page is one index range, read forwards or backwards. The creator index
ends in the list order, so a creator that made few rows (or none) is found without walking
the app's rows newest first (206 ms for a creator of none at 100,000 keys).

Revision ID: 0008
Revises: 0007_offline_tickets
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007_offline_tickets"
branch_labels = None
depends_on = None

TABLES = ("licenses", "users")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(
            f"ix_{table}_app_expiry",
            table,
            ["app_id", sa.text("(expires_at IS NULL)"), "expires_at", "id"],
        )
        op.create_index(
            f"ix_{table}_app_created_by", table, ["app_id", "created_by", "created_at", "id"]
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_index(f"ix_{table}_app_created_by", table_name=table)
        op.drop_index(f"ix_{table}_app_expiry", table_name=table)
