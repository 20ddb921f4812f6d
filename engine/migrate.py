"""``ioc db upgrade``: run the Alembic migrations programmatically."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from engine.config import REPO_ROOT
from engine.db import get_engine


def alembic_config() -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    return cfg


def upgrade(revision: str = "head") -> None:
    cfg = alembic_config()
    with get_engine().begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
