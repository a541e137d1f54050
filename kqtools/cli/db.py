"""``kq init``."""
from __future__ import annotations

import click

from ..errors import ExitStatus
from ..i18n import _
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
    if report.applied:
        info(_("{path}: schema version {version} (applied {migrations})").format(
            path=path, version=report.version, migrations=", ".join(report.applied)))
    else:
        info(_("{path}: schema version {version} (up to date)").format(path=path, version=report.version))
    return ExitStatus.OK
