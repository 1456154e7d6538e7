"""Active/standby engines: the lease row with its fencing token, and (PostgreSQL) the fence on store writes.

A connection of an HA engine sets `jinqiao.fence` to the token it holds; a trigger refuses writes to the
interaction and agent timelines from a connection whose token is no longer the lease's (a paused old active
that woke up after the standby took over). Connections that never set it (single engine, CLI) are not fenced.

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FENCED_TABLES = ("interactions", "agent_state_changes", "callbacks", "recordings")
FENCE_FUNCTION = """
CREATE OR REPLACE FUNCTION jinqiao_fence() RETURNS trigger AS $$
DECLARE
    mine text := current_setting('jinqiao.fence', true);
    current bigint;
BEGIN
    IF mine IS NULL OR mine = '' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    SELECT token INTO current FROM engine_lease WHERE name = 'active';
    IF current IS NULL OR current <> mine::bigint THEN
        RAISE EXCEPTION 'jinqiao: write refused: fencing token % is no longer the active one (%)', mine, current
            USING ERRCODE = 'P0001';
    END IF;
    RETURN COALESCE(NEW, OLD);
END;
$$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('engine_lease',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('token', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_engine_lease'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FENCE_FUNCTION)
        for table in FENCED_TABLES:
            op.execute(f"CREATE TRIGGER jinqiao_fence_{table} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION jinqiao_fence()")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        for table in FENCED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS jinqiao_fence_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS jinqiao_fence()")
    op.drop_table('engine_lease')
