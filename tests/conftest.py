"""Shared test helpers: a fresh database file per test, and ``kq`` run as a real subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_NEUTRAL_DIR = tempfile.mkdtemp(prefix="kq-tests-")


class KqResult:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr

    def jsonl(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return f"<kq rc={self.returncode} stdout={self.stdout[:500]!r} stderr={self.stderr[:500]!r}>"


def run_kq(*args, db=None, input=None, env=None, cwd=None, timeout=120) -> KqResult:
    """Run ``python -m kqtools ARGS`` in a subprocess (stdout is a pipe, so output is jsonl)."""
    full_env = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    full_env.pop("KQ_DB", None)
    if db is not None:
        full_env["KQ_DB"] = str(db)
    if isinstance(input, str):
        input = input.encode("utf-8")
    # run from a neutral directory: `python -m` puts the working directory first on sys.path, and the
    # tests are meant to exercise the installed package, not the source tree beside them
    proc = subprocess.run([sys.executable, "-m", "kqtools", *map(str, args)], input=input, capture_output=True,
                          env=full_env, cwd=cwd or _NEUTRAL_DIR, timeout=timeout)
    return KqResult(subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                                proc.stderr.decode("utf-8", "replace")))


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "kq.db"


@pytest.fixture
def kq(db_path):
    """``kq("import", "enterprises", path)`` against this test's own database file."""
    def _run(*args, **kwargs):
        kwargs.setdefault("db", db_path)
        return run_kq(*args, **kwargs)
    return _run


@pytest.fixture
def db(db_path):
    """The same database opened in-process (sqlite_utils.Database), migrated."""
    from kqtools.storage import open_db

    database = open_db(str(db_path))
    yield database
    database.conn.close()


def write_csv(path: Path, header: list[str], rows: list[list], encoding="utf-8") -> Path:
    import csv

    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def import_rows(db, kind: str, rows: list[dict], name: str = "test.jsonl"):
    """Import plain dicts through the real pipeline (JSONL in memory); returns the ImportResult."""
    import io

    from kqtools.importer import run_import
    from kqtools.readers import open_table

    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    return run_import(db, open_table(io.BytesIO(data), name, "jsonl"), kind)
