"""Shared test helpers: a fresh database file per test, and ``kq`` run in this process or as a real one.

``run_kq`` runs the command line in this process by default (``kqtools.cli.run`` under click's
``CliRunner``: the test's environment, stdin bytes, a neutral working directory; stdout is not a
terminal, so records come out as JSONL). ``run_kq(..., subprocess=True)`` and the ``kq_proc``
fixture start ``python -m kqtools`` instead, for tests where the process boundary is the point:
pipes and ``| head``, signals, racing processes, start-up cost, a closed stdin. Set
``KQ_TEST_SUBPROCESS=1`` to run every command in its own process (slower; the suite as before).
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess as sp
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
# the developer tools (tools/synth.py): importable as `synth`; the repository root itself stays off
# sys.path, so the tests exercise the installed package, not the source tree beside them
sys.path.insert(0, str(TOOLS))

_NEUTRAL_DIR = tempfile.mkdtemp(prefix="kq-tests-")
atexit.register(shutil.rmtree, _NEUTRAL_DIR, True)
ALL_IN_PROCESSES = bool(os.environ.get("KQ_TEST_SUBPROCESS"))

# hypothesis profiles, chosen by $HYPOTHESIS_PROFILE (default: `ci` when $CI is set, else `dev`).
# dev: explore as each test says, no deadline (a shared 2-core machine makes timings meaningless).
# ci: the same examples on every run (derandomized: a failure reproduces), its seed printed, and
# no too-slow health check. A test's own @settings(max_examples=…) wins over either.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


class KqResult:
    """What a ``kq`` run left: exit status, stdout and stderr as text."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def jsonl(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return f"<kq rc={self.returncode} stdout={self.stdout[:500]!r} stderr={self.stderr[:500]!r}>"


def run_kq(*args, db=None, input=None, env=None, cwd=None, timeout=120, subprocess=None) -> KqResult:
    """Run ``kq ARGS`` against ``db`` (``$KQ_DB``): in this process, or in its own process when
    ``subprocess`` is true (or not given and ``$KQ_TEST_SUBPROCESS`` is set); ``subprocess=False``
    for a test that changes this process (monkeypatches a command). ``timeout``: a subprocess only."""
    args = [str(a) for a in args]
    if isinstance(input, str):
        input = input.encode("utf-8")
    if subprocess or (subprocess is None and ALL_IN_PROCESSES):
        return _run_process(args, db, input, env, cwd, timeout)
    return _run_in_process(args, db, input, env, cwd)


#: the variables that choose kq's language, its default format, time zone and table width: unset for
#: every command unless the test gives them, so the suite speaks English and draws the same tables
#: whatever the machine's locale, a developer's KQ_* settings or the runner (pytest-xdist's workers
#: export COLUMNS=80)
LANGUAGE_VARIABLES = ("KQ_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "KQ_FORMAT", "KQ_TZ", "COLUMNS", "LINES")


def _run_process(args, db, input, env, cwd, timeout) -> KqResult:
    full_env = {**{k: v for k, v in os.environ.items() if k not in LANGUAGE_VARIABLES}, "PYTHONIOENCODING": "utf-8",
                **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    full_env.pop("KQ_DB", None)
    if db is not None:
        full_env["KQ_DB"] = str(db)
    # run from a neutral directory: `python -m` puts the working directory first on sys.path, and the
    # tests are meant to exercise the installed package, not the source tree beside them
    proc = sp.run([sys.executable, "-m", "kqtools", *args], input=input, capture_output=True,
                  env=full_env, cwd=cwd or _NEUTRAL_DIR, timeout=timeout)
    return KqResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def _run_in_process(args, db, input, env, cwd) -> KqResult:
    from click.testing import CliRunner

    from kqtools.cli import run

    overrides = {"PYTHONIOENCODING": "utf-8", **dict.fromkeys(LANGUAGE_VARIABLES), **(env or {}),
                 "KQ_DB": str(db) if db is not None else None}
    try:
        runner = CliRunner(mix_stderr=False)   # click 8.1
    except TypeError:
        runner = CliRunner()                   # click 8.2+: stderr always apart
    here = os.getcwd()
    os.chdir(cwd or _NEUTRAL_DIR)
    try:
        with runner.isolation(input=input or b"", env=overrides) as streams:
            out, err = streams[0], streams[1]
            try:
                code = run(args)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:  # --debug lets the error through: a process would print it and exit 1
                traceback.print_exc(file=sys.stderr)
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            stdout, stderr = out.getvalue(), err.getvalue()
    finally:
        os.chdir(here)
    return KqResult(int(code), stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """The bundled demo data, loaded and worked on once per test process (kq demo): for tests that
    only read it; a test that writes takes ``copy``."""
    from kqtools.errors import ExitStatus

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    r = run_kq("demo", "--db", path)
    assert r.returncode in (ExitStatus.OK, ExitStatus.ATTENTION), r
    return path


@pytest.fixture
def copy(demo, tmp_path) -> Path:
    """A copy of the demo database of its own for this test."""
    target = tmp_path / "kq.db"
    shutil.copy(demo, target)
    return target


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "kq.db"


@pytest.fixture
def kq(db_path):
    """``kq("import", "enterprises", path)`` against this test's own database file, in this process."""
    def _run(*args, **kwargs):
        kwargs.setdefault("db", db_path)
        return run_kq(*args, **kwargs)
    return _run


@pytest.fixture
def kq_proc(db_path):
    """As ``kq``, but each command in its own ``python -m kqtools`` process."""
    def _run(*args, **kwargs):
        kwargs.setdefault("db", db_path)
        return run_kq(*args, subprocess=True, **kwargs)
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
