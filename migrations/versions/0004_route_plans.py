"""route plans: each routing decision keeps its plan (legs, floors) and the candidates it weighed

Revision ID: 0004_route_plans
Revises: 0003_waiting_orders
Create Date: 2026-12-04 18:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004_route_plans'
down_revision: str | None = '0003_waiting_orders'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('routes', sa.Column('plan', postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column('routes', 'plan')
