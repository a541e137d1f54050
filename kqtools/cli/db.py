"""``kq init``."""
from __future__ import annotations

import click

from .common import db_option, get_db, info


@click.command()
@db_option
def init():
    """Create the database, or bring it to the latest version. Safe to run again."""
    from ..storage import apply_migrations, current_version, db_path, open_db

    ctx = click.get_current_context()
    path = db_path(ctx.meta.get("kq.db"))
    db = open_db(path, migrate=False)
    applied = apply_migrations(db)
    info(f"{path}: schema version {current_version(db)}"
         + (f" (applied {', '.join(applied)})" if applied else " (up to date)"))
    return 0
