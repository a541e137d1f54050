"""``kq init``."""
from __future__ import annotations

import click

from .common import chosen_db_path, db_option, info


@click.command()
@db_option
def init():
    """Create the database, or bring it to the latest version. Safe to run again."""
    from ..storage import apply_migrations, current_version, open_db

    path = chosen_db_path()
    db = open_db(path, migrate=False)
    applied = apply_migrations(db)
    info(f"{path}: schema version {current_version(db)}"
         + (f" (applied {', '.join(applied)})" if applied else " (up to date)"))
    return 0
