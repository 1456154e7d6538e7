"""Report pre-aggregates per local day: agent seconds per state and reason, call counts, and which days are rolled up.

Revision ID: 0007
Revises: 0006

Derived data only: dropping these tables loses nothing (`jinqiao report rollup` rebuilds them).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('report_agent_state_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('agent_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'agent_id', 'state', 'reason', name=op.f('pk_report_agent_state_days'))
    )
    op.create_table('report_rollup_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('service_level_s', sa.Float(), nullable=False),
    sa.Column('short_abandon_s', sa.Float(), nullable=False),
    sa.Column('built_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_report_rollup_days'))
    )
    op.create_table('report_daily_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('k1', sa.String(length=200), nullable=False),
    sa.Column('k2', sa.Text(), nullable=False),
    sa.Column('k3', sa.String(length=200), nullable=False),
    sa.Column('n0', sa.Integer(), nullable=False),
    sa.Column('n1', sa.Integer(), nullable=False),
    sa.Column('n2', sa.Integer(), nullable=False),
    sa.Column('n3', sa.Integer(), nullable=False),
    sa.Column('n4', sa.Integer(), nullable=False),
    sa.Column('n5', sa.Integer(), nullable=False),
    sa.Column('n6', sa.Integer(), nullable=False),
    sa.Column('n7', sa.Integer(), nullable=False),
    sa.Column('x0', sa.Float(), nullable=False),
    sa.Column('x1', sa.Float(), nullable=False),
    sa.Column('x2', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_daily_counts'))
    )
    with op.batch_alter_table('report_daily_counts', schema=None) as batch_op:
        batch_op.create_index('ix_report_daily_counts_kind_day', ['kind', 'day'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('report_daily_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_report_daily_counts_kind_day')

    op.drop_table('report_daily_counts')
    op.drop_table('report_rollup_days')
    op.drop_table('report_agent_state_days')
