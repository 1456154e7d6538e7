"""Outbound dialer: attempts written before the dial (state, answer, abandon), dial decisions, number claims.

Revision ID: 0004
Revises: 0003

Existing attempts become finished ones (state "done", not live, not abandoned).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('number_claims',
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('until', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_number_claims'))
    )
    op.create_table('dial_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('allowed', sa.Boolean(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('stage', sa.String(length=12), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_dial_decisions_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dial_decisions'))
    )
    with op.batch_alter_table('dial_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_dial_decisions_number_at', ['number', 'at'], unique=False)

    with op.batch_alter_table('campaign_contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('attempt_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_campaign_contacts_number', ['number'], unique=False)
        batch_op.create_index('ix_campaign_contacts_lease', ['campaign_id', 'status', sa.text('priority DESC'),
                                                             'next_attempt_at', 'id'], unique=False)

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('live', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('live_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('holder', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('purpose', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('state', sa.String(length=12), nullable=False, server_default='done'))
        batch_op.add_column(sa.Column('answered_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('live', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('connected_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('talk_seconds', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('abandoned', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('agent_id', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_contact_attempts_campaign_at', ['campaign_id', 'at'], unique=False)
        batch_op.create_index('ix_contact_attempts_state', ['state'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_attempts_state')
        batch_op.drop_index('ix_contact_attempts_campaign_at')
        batch_op.drop_column('agent_id')
        batch_op.drop_column('abandoned')
        batch_op.drop_column('talk_seconds')
        batch_op.drop_column('ended_at')
        batch_op.drop_column('connected_at')
        batch_op.drop_column('live')
        batch_op.drop_column('answered_at')
        batch_op.drop_column('state')
        batch_op.drop_column('purpose')
        batch_op.drop_column('holder')
        batch_op.drop_column('contact_id')

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('live_at')
        batch_op.drop_column('live')

    with op.batch_alter_table('campaign_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_contacts_lease')
        batch_op.drop_index('ix_campaign_contacts_number')
        batch_op.drop_column('attempt_id')
        batch_op.drop_column('timezone')

    with op.batch_alter_table('dial_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_dial_decisions_number_at')

    op.drop_table('dial_decisions')
    op.drop_table('number_claims')
