"""Hang-up facts: the SIP status of a call's end and the IVR node where the caller left.

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sip_status', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ivr_exit_node', sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_column('ivr_exit_node')
        batch_op.drop_column('sip_status')
