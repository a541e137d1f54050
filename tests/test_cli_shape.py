"""The command layer's one shape: no SQL in ``kqtools/cli``, one exit vocabulary, loud broken modules.

A command parses, makes one service call and renders; the queries live in ``kqtools/storage``.
"""
from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_kq, write_csv
from kqtools.errors import ExitStatus

CLI = Path(__import__("kqtools.cli", fromlist=["x"]).__file__).parent
# Command modules that still hold SQL; each owner removes their file as they move it into services.
# (every command module passes now and is held to it.)
PENDING: set[str] = set()
# command modules that still return bare numbers (``return 0``) instead of an ExitStatus
PENDING_EXIT = PENDING
SQL_CALLS = ("execute(", ".query(", "execute_returning_dicts", "executemany(", "executescript(")
SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ")

VALID, INVALID = "91110108551385082Q", "91110108551385082A"


def sql_in(path: Path) -> list[str]:
    """Where a command module talks to the database itself: calls, and SQL in string literals."""
    source = path.read_text(encoding="utf-8")
    found = [f"{path.name}: {call}" for call in SQL_CALLS if call in source]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [f"{path.name}:{node.lineno}: {word.strip()} in a string" for word in SQL_WORDS if word in node.value]
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in CLI.glob("*.py")))
def test_no_sql_in_the_command_layer(name):
    if name in PENDING:
        pytest.skip(f"{name}: its owner is moving its queries into a service (PENDING)")
    assert sql_in(CLI / name) == []


def test_the_sql_check_finds_sql(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def f(db):\n    return db.execute(f"SELECT uscc FROM enterprises WHERE x = {1}")\n')
    assert len(sql_in(bad)) == 2


def test_demo_steps_live_outside_the_command_layer():
    from kqtools.cli.demo import STEPS

    assert [s for s in STEPS if s.startswith("kqtools.cli.")] == []


def test_no_bare_exit_codes_in_the_command_layer():
    """Commands return an ExitStatus (``return 0`` reads as a number, not a meaning)."""
    for path in CLI.glob("*.py"):
        if path.name in PENDING_EXIT:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int):
                pytest.fail(f"{path.name}:{node.lineno}: return {node.value.value}: return an ExitStatus")


# ---------------------------------------------------------------- one exit vocabulary
def test_exit_status_values_are_the_documented_ones():
    assert {s.name: int(s) for s in ExitStatus} == {"OK": 0, "ATTENTION": 1, "USAGE": 2, "INTERRUPTED": 130,
                                                   "BROKEN_PIPE": 141}
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for status in ExitStatus:
        assert f"| {int(status)} | `{status.name}` |" in readme, status


EXIT_CASES = {
    # case: (arguments, the status it ends with, words on stderr)
    "done": (["check-uscc", VALID], ExitStatus.OK, ""),
    "needs attention: an invalid code": (["check-uscc", VALID, INVALID], ExitStatus.ATTENTION, ""),
    "usage: no such command": (["no-such-command"], ExitStatus.USAGE, "No such command"),
    "usage: a missing option value": (["enterprises", "list", "--limit"], ExitStatus.USAGE, "requires an argument"),
    "unusable input: no such file": (["import", "enterprises", "no-such-file.csv"], ExitStatus.USAGE, "no such file"),
    "unusable input: a date out of range": (["enterprises", "list", "--as-of", "9999-12-31"], ExitStatus.USAGE,
                                            "too far in the future"),
}


@pytest.mark.parametrize("case", sorted(EXIT_CASES))
def test_exit_status_of_each_documented_case(kq, case):
    args, status, words = EXIT_CASES[case]
    r = kq(*args)
    assert r.returncode == status, r
    assert words in r.stderr and "Traceback" not in r.stderr


def test_broken_pipe_ends_with_exit_141_quietly(tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text(f"{VALID}\n" * 50_000)
    proc = subprocess.run(["bash", "-c", f"{sys.executable} -m kqtools --db {tmp_path / 'kq.db'} check-uscc - "
                           f"< {codes} | head -n 1; echo rc=${{PIPESTATUS[0]}} >&2"], capture_output=True, text=True)
    assert proc.stdout.count("\n") == 1
    assert proc.stderr.strip() == f"rc={int(ExitStatus.BROKEN_PIPE)}"


def test_ctrl_c_ends_with_exit_130_and_one_line(tmp_path):
    db = tmp_path / "kq.db"
    proc = subprocess.Popen([sys.executable, "-m", "kqtools", "--db", str(db), "import", "enterprises", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.time() + 60
    while not Path(str(db) + "-wal").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)   # the command is running: it opened the database, next it waits for stdin
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    proc.stdin.close()
    assert proc.returncode == ExitStatus.INTERRUPTED, err
    assert b"Traceback" not in err and b"aborted" in err


# ---------------------------------------------------------------- a broken command module
@pytest.fixture
def broken_command(tmp_path, monkeypatch):
    (tmp_path / "kq_broken_command.py").write_text("from kqtools import no_such_name  # a bug\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from kqtools import cli

    monkeypatch.setitem(cli.COMMANDS, "broken", ("kq_broken_command", "broken", "A command whose module has a bug."))
    yield
    sys.modules.pop("kq_broken_command", None)


def test_a_broken_command_module_is_reported_not_hidden(kq, broken_command):
    r = kq("broken", subprocess=False)      # the broken module is patched into this process
    assert r.returncode == ExitStatus.USAGE
    assert "No such command" not in r.stderr
    assert "cannot be loaded" in r.stderr and "ImportError" in r.stderr and "no_such_name" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_a_broken_command_module_shows_its_traceback_with_debug(kq, broken_command):
    r = kq("--debug", "broken", subprocess=False)
    assert "Traceback" in r.stderr and "kq_broken_command.py" in r.stderr and "no_such_name" in r.stderr
    assert r.returncode != ExitStatus.OK


def test_other_commands_still_work_beside_a_broken_one(kq, broken_command):
    assert kq("check-uscc", VALID, subprocess=False).returncode == ExitStatus.OK
    assert "broken" in kq("--help", subprocess=False).stdout


# ---------------------------------------------------------------- in process, many times
def test_run_is_callable_many_times_in_one_process(kq, tmp_path):
    src = write_csv(tmp_path / "f.csv", ["uscc", "name"], [[VALID, "甲公司"]])
    for _ in range(3):
        assert kq("import", "enterprises", src).returncode in (ExitStatus.OK,)
        assert [r["uscc"] for r in kq("enterprises", "list").jsonl()] == [VALID]
    other = tmp_path / "other.db"
    assert run_kq("enterprises", "list", db=other).jsonl() == []     # each run its own settings and database
    assert run_kq("--db", other, "enterprises", "list", db=tmp_path / "kq.db").jsonl() == []


def test_a_flag_wins_over_the_variable_before_or_after_the_command(tmp_path):
    src = write_csv(tmp_path / "f.csv", ["uscc", "name"], [[VALID, "甲公司"]])
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert run_kq("import", "enterprises", src, db=a).returncode == 0
    assert len(run_kq("--db", a, "enterprises", "list", db=b).jsonl()) == 1
    assert len(run_kq("enterprises", "list", "--db", a, db=b).jsonl()) == 1
    assert run_kq("enterprises", "list", db=b).jsonl() == []


def test_no_database_connection_is_left_open_after_a_command(kq, db_path):
    """In process, a command's connection is closed when it ends (nothing holds the file)."""
    import gc

    assert kq("init").returncode == 0
    gc.disable()                     # a connection closed only by the garbage collector would stay open
    try:
        kq("enterprises", "list", subprocess=False)
        fds = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
               if os.path.exists(f"/proc/self/fd/{fd}")]
    finally:
        gc.enable()
    assert not [f for f in fds if f.startswith(str(db_path))]
