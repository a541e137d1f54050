"""``kq init``."""
from __future__ import annotations

import click

from ..errors import ExitStatus
from .common import chosen_db_path, db_option, get_db, info


@click.command()
@click.option("--force-init", is_flag=True,
              help="Adopt an SQLite database of another program (tables, but no kq schema history): "
                   "kq's tables are added beside its own.")
@db_option
def init(force_init):
    """Create the database, or bring it to the latest version. Safe to run again."""
    from ..storage import init_db

    path = chosen_db_path()
    report = init_db(get_db(migrate=False, readonly=False, force_init=force_init), path)
    info(f"{path}: schema version {report.version}"
         + (f" (applied {', '.join(report.applied)})" if report.applied else " (up to date)"))
    return ExitStatus.OK
