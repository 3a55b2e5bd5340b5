"""stop orders: stops, trailing stops and OCOs fire on a fall

Revision ID: 0007_stop_orders
Revises: 0006_one_price_convention
Create Date: 2026-12-08 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_stop_orders'
down_revision: str | None = '0006_one_price_convention'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('stop_price', sa.Numeric(precision=60, scale=30), nullable=True))
    op.add_column('orders', sa.Column('trigger_max_out', sa.Numeric(precision=20, scale=0), nullable=True))
    op.add_column('orders', sa.Column('trail_bps', sa.Integer(), nullable=True))
    op.add_column('orders', sa.Column('trail_peak_out', sa.Numeric(precision=20, scale=0), nullable=True))


def downgrade() -> None:
    for column in ('trail_peak_out', 'trail_bps', 'trigger_max_out', 'stop_price'):
        op.drop_column('orders', column)
