"""limit and sniper orders: trigger floors, expiry, and the watchers' indexes

Revision ID: 0003_waiting_orders
Revises: 0002
Create Date: 2026-12-04 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003_waiting_orders'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE_BEFORE = "status NOT IN ('confirmed', 'failed')"
_ACTIVE_AFTER = "status NOT IN ('confirmed', 'failed', 'expired', 'cancelled')"


def upgrade() -> None:
    op.add_column('orders', sa.Column('limit_price', sa.Numeric(precision=60, scale=30), nullable=True))
    op.add_column('orders', sa.Column('max_price', sa.Numeric(precision=60, scale=30), nullable=True))
    op.add_column('orders', sa.Column('trigger_min_out', sa.Numeric(precision=20, scale=0), nullable=True))
    op.add_column('orders', sa.Column('execute_min_out', sa.Numeric(precision=20, scale=0), nullable=True))
    op.add_column('orders', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('orders', sa.Column('triggered_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_orders_waiting_pair', 'orders', ['token_in', 'token_out'], unique=False,
                    postgresql_where=sa.text("status = 'waiting'"))
    op.create_index('ix_orders_waiting_expiry', 'orders', ['expires_at'], unique=False,
                    postgresql_where=sa.text("status = 'waiting'"))
    # Expired and cancelled orders are finished too: the index of unfinished orders leaves them out.
    op.drop_index('ix_orders_active', table_name='orders', postgresql_where=sa.text(_ACTIVE_BEFORE))
    op.create_index('ix_orders_active', 'orders', ['created_at'], unique=False,
                    postgresql_where=sa.text(_ACTIVE_AFTER))


def downgrade() -> None:
    op.drop_index('ix_orders_active', table_name='orders', postgresql_where=sa.text(_ACTIVE_AFTER))
    op.create_index('ix_orders_active', 'orders', ['created_at'], unique=False,
                    postgresql_where=sa.text(_ACTIVE_BEFORE))
    op.drop_index('ix_orders_waiting_expiry', table_name='orders', postgresql_where=sa.text("status = 'waiting'"))
    op.drop_index('ix_orders_waiting_pair', table_name='orders', postgresql_where=sa.text("status = 'waiting'"))
    op.drop_column('orders', 'triggered_at')
    op.drop_column('orders', 'expires_at')
    op.drop_column('orders', 'execute_min_out')
    op.drop_column('orders', 'trigger_min_out')
    op.drop_column('orders', 'max_price')
    op.drop_column('orders', 'limit_price')
