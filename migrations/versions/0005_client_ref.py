"""client reference: an order keeps the client's own reference, as given

Revision ID: 0005_client_ref
Revises: 0004_route_plans
Create Date: 2026-12-07 20:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_client_ref'
down_revision: str | None = '0004_route_plans'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('client_ref', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('orders', 'client_ref')
