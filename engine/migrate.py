"""``ioc db upgrade``: run the Alembic migrations programmatically."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from alembic import command
from engine.config import REPO_ROOT
from engine.db import get_engine


def alembic_config() -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    return cfg


def upgrade(revision: str = "head", engine: Engine | None = None) -> None:
    """Migrate the configured database, or ``engine``'s, to ``revision``."""
    cfg = alembic_config()
    with (engine or get_engine()).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def head() -> str:
    """The revision this code's migrations end at."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None
    return found


def current(connection: Connection) -> str | None:
    """The revision a database is at (None: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()
