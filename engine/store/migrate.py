"""Schema migrations: run Alembic programmatically on the scripts shipped inside this package.

`jinqiao db upgrade|current|downgrade` and the daemon's start-up check all come through here, so
migrations work from any directory and from an installed package (no alembic.ini needed).
"""
from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from engine.store.database import driver_errors
from engine.store.errors import SchemaOutdated

log = logging.getLogger(__name__)
SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> AlembicConfig:
    """An Alembic config that runs on `engine` (passed through `attributes`, not a URL string)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this engine."""
    head = ScriptDirectory(str(SCRIPTS)).get_current_head()
    assert head is not None, "no migration scripts shipped"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with driver_errors(), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    command.downgrade(alembic_config(engine), revision)


def check_schema_current(engine: Engine) -> None:
    """Raise SchemaOutdated, naming the command to run, unless the schema is at the shipped head
    (StoreUnavailable when the database cannot be reached)."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    url = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise SchemaOutdated(f"the database {url} has no Jinqiao schema yet: run `jinqiao db upgrade`")
    scripts = ScriptDirectory(str(SCRIPTS))
    known = {rev.revision for rev in scripts.walk_revisions()}
    if current not in known:
        raise SchemaOutdated(
            f"the database {url} is at revision {current}, newer than this engine knows (head {head}): "
            "upgrade the engine, or run `jinqiao db downgrade` with the newer engine"
        )
    raise SchemaOutdated(f"the database {url} is at revision {current}, the engine needs {head}: run `jinqiao db upgrade`")
