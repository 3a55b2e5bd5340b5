"""one price convention: a sniper's cap is its limit price, in tokenOut per tokenIn like every price

Revision ID: 0006_one_price_convention
Revises: 0005_client_ref
Create Date: 2026-12-08 01:30:00.000000

A sniper order's ``max_price`` (tokenIn per tokenOut) becomes its ``limit_price`` (tokenOut per tokenIn,
1 / max_price, for display: the order's raw ``trigger_min_out`` is what it fires on, and stays as it was).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_one_price_convention'
down_revision: str | None = '0005_client_ref'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE orders SET limit_price = round(1 / max_price, 30) "
        "WHERE order_type = 'sniper' AND max_price IS NOT NULL AND max_price > 0"
    )
    op.drop_column('orders', 'max_price')


def downgrade() -> None:
    op.add_column('orders', sa.Column('max_price', sa.Numeric(precision=60, scale=30), nullable=True))
    op.execute(
        "UPDATE orders SET max_price = round(1 / limit_price, 30), limit_price = NULL "
        "WHERE order_type = 'sniper' AND limit_price IS NOT NULL AND limit_price > 0"
    )
