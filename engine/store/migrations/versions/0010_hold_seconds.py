"""Hold time on interactions (from CHANNEL_HOLD / CHANNEL_UNHOLD), its daily rollup sum, and the caller index FCR reads.

Revision ID: 0010
Revises: 0009
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_seconds', sa.Float(), nullable=True))
        batch_op.create_index('ix_interactions_caller_arrived', ['caller', 'arrived_at'], unique=False)
    with op.batch_alter_table('report_daily_counts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('x3', sa.Float(), nullable=False, server_default='0'))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('report_daily_counts', schema=None) as batch_op:
        batch_op.drop_column('x3')
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_caller_arrived')
        batch_op.drop_column('hold_seconds')
