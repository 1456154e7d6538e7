"""Report pre-aggregates: agent seconds per state and reason per local day, and which days are rolled up.

Revision ID: 0006
Revises: 0003

Derived data only: dropping these tables loses nothing (`jinqiao report rollup` rebuilds them).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0003"
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
    sa.Column('built_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_report_rollup_days'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('report_rollup_days')
    op.drop_table('report_agent_state_days')
