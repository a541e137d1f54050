"""``kq demo``: load the bundled demo data into a fresh database and run each capability on it
(:func:`kqtools.storage.demo.run_demo`).

Each capability adds a step: a function ``demo_step(db, echo)`` outside ``kqtools/cli`` (a CLI module
is a command, not a library), listed here in ``STEPS``.
"""
from __future__ import annotations

import click

from ..errors import status_of
from .common import info, settings

STEPS = [  # lists before scoring, so that the scoring's blacklist veto has a list to use
    "kqtools.storage.screening:demo_step",
    "kqtools.storage.scoring:demo_step",
    "kqtools.storage.visits:demo_step",
    "kqtools.storage.job_demo:demo_step",
    "kqtools.storage.request_demo:demo_step",
    "kqtools.storage.ladder_demo:demo_step",     # before the reports: the ladder and targets reports use it
    "kqtools.reports.demo:demo_step",
]


@click.command()
@click.option("--db", "db_path", metavar="PATH", default=None,
              help="Demo database (default kq-demo.db, or the --db given before `demo`; never $KQ_DB). "
                   "Replaced on every run if it is a demo database; any other file is refused.")
@click.option("--force", is_flag=True,
              help="Replace PATH even if it is not a demo database (never a database with imports of its own).")
def demo(db_path, force):
    """Load the bundled demo data into a fresh database and show what kqtools does with it."""
    from ..storage.demo import DEFAULT_PATH, run_demo

    path = db_path or click.get_current_context().find_root().params.get("db_path") or DEFAULT_PATH
    s = settings()
    report = run_demo(path, STEPS, click.echo, info, force=force, busy_timeout_ms=s.busy_timeout_ms,
                      file_mode=s.file_mode)
    return status_of(report.needs_attention)
