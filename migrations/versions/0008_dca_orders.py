"""dca orders: a schedule of market orders, and each child naming its parent

Revision ID: 0008_dca_orders
Revises: 0007_stop_orders
Create Date: 2026-12-08 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008_dca_orders'
down_revision: str | None = '0007_stop_orders'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('dca_children', sa.Integer(), nullable=True))
    op.add_column('orders', sa.Column('dca_interval_s', sa.Integer(), nullable=True))
    op.add_column('orders', sa.Column('dca_placed', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('orders', sa.Column('dca_next_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('orders', sa.Column('band_min', sa.Numeric(precision=60, scale=30), nullable=True))
    op.add_column('orders', sa.Column('band_max', sa.Numeric(precision=60, scale=30), nullable=True))
    op.add_column('orders', sa.Column('parent_id', postgresql.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key('orders_parent_id_fkey', 'orders', 'orders', ['parent_id'], ['id'])
    op.create_index('ix_orders_dca_due', 'orders', ['dca_next_at'], unique=False,
                    postgresql_where=sa.text("status = 'waiting' AND order_type = 'dca'"))
    op.create_index('ix_orders_parent_id', 'orders', ['parent_id'], unique=False,
                    postgresql_where=sa.text('parent_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_orders_parent_id', table_name='orders', postgresql_where=sa.text('parent_id IS NOT NULL'))
    op.drop_index('ix_orders_dca_due', table_name='orders',
                  postgresql_where=sa.text("status = 'waiting' AND order_type = 'dca'"))
    op.drop_constraint('orders_parent_id_fkey', 'orders', type_='foreignkey')
    for column in ('parent_id', 'band_max', 'band_min', 'dca_next_at', 'dca_placed', 'dca_interval_s', 'dca_children'):
        op.drop_column('orders', column)
