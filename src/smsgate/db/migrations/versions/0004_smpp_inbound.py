"""message parts, held receipts, inbound messages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Who last wrote to a phone: the project an inbound reply belongs to.
    op.create_index("ix_messages_to_id", "messages", ["to", "id"])
    op.create_table(
        "message_parts",
        sa.Column("vendor", sa.String(64), nullable=False),
        sa.Column("vendor_message_id", sa.String(128), nullable=False),
        sa.Column("sms_id", sa.String(40), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("vendor", "vendor_message_id"),
    )
    op.create_index("ix_message_parts_sms_id", "message_parts", ["sms_id"])
    op.create_table(
        "held_receipts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("group_id", sa.String(40), nullable=False),
        sa.Column("vendor", sa.String(64), nullable=False),
        sa.Column("vendor_message_id", sa.String(128), nullable=False),
        sa.Column("project_id", sa.String(40), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("occurred_at", _TS, nullable=True),
        sa.Column("received_at", _TS, nullable=False),
    )
    op.create_index("ix_held_receipts_ref", "held_receipts", ["vendor", "vendor_message_id"])
    op.create_index("ix_held_receipts_group_id", "held_receipts", ["group_id"])
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("vendor", sa.String(64), nullable=False),
        sa.Column("from", sa.String(40), nullable=False),
        sa.Column("to", sa.String(40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("vendor_message_id", sa.String(128), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
    )
    op.create_index("ix_inbound_project_id", "inbound_messages", ["project_id", "id"])
    op.create_table(
        "inbound_parts",
        sa.Column("vendor", sa.String(64), nullable=False),
        sa.Column("from", sa.String(40), nullable=False),
        sa.Column("to", sa.String(40), nullable=False),
        sa.Column("reference", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("vendor", "from", "to", "reference", "total", "number"),
    )


def downgrade() -> None:
    op.drop_table("inbound_parts")
    op.drop_table("inbound_messages")
    op.drop_table("held_receipts")
    op.drop_table("message_parts")
    op.drop_index("ix_messages_to_id", table_name="messages")
