"""otp

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:40:37.491756
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "otp_prefix_blocks",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "prefix"),
    )
    op.create_table(
        "otp_sends",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("to", sa.String(length=20), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("otp_sends", schema=None) as batch_op:
        batch_op.create_index(
            "ix_otp_sends_prefix", ["project_id", "prefix", "sent_at"], unique=False
        )
        batch_op.create_index("ix_otp_sends_to", ["project_id", "to", "sent_at"], unique=False)

    op.create_table(
        "otp_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("to", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=4), nullable=True),
        sa.Column("service_name", sa.String(length=64), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_length", sa.Integer(), nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("send_count", sa.Integer(), nullable=False),
        sa.Column("sms_id", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("otp_requests", schema=None) as batch_op:
        batch_op.create_index("ix_otp_project_id", ["project_id", "id"], unique=False)
        batch_op.create_index(
            "ix_otp_project_to_state", ["project_id", "to", "state"], unique=False
        )

    op.create_table(
        "project_settings",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("otp", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("project_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_body", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("secret_body")

    op.drop_table("project_settings")
    with op.batch_alter_table("otp_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_otp_project_to_state")
        batch_op.drop_index("ix_otp_project_id")

    op.drop_table("otp_requests")
    with op.batch_alter_table("otp_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_otp_sends_to")
        batch_op.drop_index("ix_otp_sends_prefix")

    op.drop_table("otp_sends")
    op.drop_table("otp_prefix_blocks")
