"""priority fee per order: a cap on the settlement's estimate, or an exact fee, in lamports

Revision ID: 0009_priority_fee
Revises: 0008_dca_orders
Create Date: 2026-12-08 01:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_priority_fee'
down_revision: str | None = '0008_dca_orders'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('priority_max_lamports', sa.BigInteger(), nullable=True))
    op.add_column('orders', sa.Column('priority_lamports', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('orders', 'priority_lamports')
    op.drop_column('orders', 'priority_max_lamports')
