"""credentials kept encrypted: entities.credentials holds, encrypted (engine.secrets), a camera's source URL when
it carries a password or a token (rtsp://admin:p/ss@w0rd@host/…, http://host/snap.jpg?pwd=…); the camera's
attributes keep only the masked copy that anyone may see. Existing cameras are converted.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""
import sqlalchemy as sa

from alembic import op
from engine import credentials, secrets

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ENTITIES = sa.table("entities", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                    sa.column("attributes", sa.JSON), sa.column("credentials", sa.Text))


def upgrade() -> None:
    with op.batch_alter_table("entities") as batch:
        batch.add_column(sa.Column("credentials", sa.Text(), nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(ENTITIES.c.id, ENTITIES.c.attributes).where(ENTITIES.c.kind == "camera")).all():
        attributes = dict(row.attributes or {})
        source = attributes.get("source")
        if isinstance(source, str) and credentials.has_secret(source):
            attributes["source"] = credentials.masked(source)
            conn.execute(ENTITIES.update().where(ENTITIES.c.id == row.id).values(
                attributes=attributes, credentials=secrets.encrypt(source)))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(ENTITIES.c.id, ENTITIES.c.attributes, ENTITIES.c.credentials)
                        .where(ENTITIES.c.credentials.is_not(None))).all()
    for row in rows:
        attributes = {**(row.attributes or {}), "source": secrets.decrypt(row.credentials)}
        conn.execute(ENTITIES.update().where(ENTITIES.c.id == row.id).values(attributes=attributes))
    with op.batch_alter_table("entities") as batch:
        batch.drop_column("credentials")
