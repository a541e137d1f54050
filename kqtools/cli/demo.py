"""``kq demo``: load the bundled demo data into a fresh database and run each capability on it.

Each capability adds a step: a function ``demo_step(db, echo)`` in its CLI module,
listed in ``STEPS``. A step that is not there yet is skipped.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import click

from .common import ATTENTION, OK, KqError, info, require_db_dir

# (kind, file in fixtures/demo): the formats clerks really send
DEMO_FILES = [
    ("enterprises", "enterprises.csv"),       # GBK CSV exported by Excel, Chinese headers
    ("designations", "designations.xlsx"),    # workbook with a title row and Excel date cells
    ("metrics", "metrics.xlsx"),              # two years of metrics
    ("credit", "credit.jsonl"),               # credit records from another system
    ("specialists", "specialists.csv"),
    ("visits", "visits.jsonl"),
]
STEPS = [  # lists before scoring, so that the scoring's blacklist veto has a list to use
    "kqtools.cli.lists:demo_step",
    "kqtools.cli.score:demo_step",
    "kqtools.cli.specialists:demo_step",
    "kqtools.cli.jobs:demo_step",
]


def demo_dir():
    from importlib import resources

    return resources.files("kqtools.fixtures").joinpath("demo")


@click.command()
@click.option("--db", "db_path", metavar="PATH", default="kq-demo.db", show_default=True,
              help="Demo database (replaced on every run).")
def demo(db_path):
    """Load the bundled demo data into a fresh database and show what kqtools does with it."""
    from ..importer import run_import
    from ..readers import open_table
    from ..storage import open_db

    require_db_dir(db_path)
    for suffix in ("", "-wal", "-shm"):
        Path(db_path + suffix).unlink(missing_ok=True)
    db = open_db(db_path)
    echo = click.echo
    echo(f"kq demo: fresh database {db_path}")
    folder = demo_dir()
    problems = 0
    for kind, name in DEMO_FILES:
        entry = folder.joinpath(name)
        if not entry.is_file():
            info(f"demo: {name} missing from the package")
            problems += 1
            continue
        with entry.open("rb") as fh:
            result = run_import(db, open_table(fh, name), kind)
        enc = f", {result.encoding}" if result.encoding else ""
        echo(f"  imported {kind:<13} from {name:<20} ({result.format}{enc}): {result.read} read, "
             f"{result.inserted} inserted, {result.rejected} rejected")
        for r in result.rejects[:10]:
            echo(f"    line {r.line}: {r.field or 'row'}: {r.reason}")
        if len(result.rejects) > 10:
            echo(f"    … and {len(result.rejects) - 10} more (kq --db {db_path} rejects {result.batch})")
    for step in STEPS:
        module, attr = step.split(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        echo("")
        try:
            fn(db, echo)
        except KqError as exc:
            info(f"demo step {module}: {exc.format_message()}")
            problems += 1
    echo("")
    echo(f"Explore it: kq --db {db_path} enterprises list | head; kq --db {db_path} imports")
    return ATTENTION if problems else OK
