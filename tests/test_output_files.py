"""Files kq writes (issue 18 items 1 and 5, issue 11 item 9): private whatever the umask, never
through a symbolic link, replaced whole or not at all, and every failure one line naming the file."""
from __future__ import annotations

import csv
import os
import re
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_kq, write_csv
from kqtools.errors import ExitStatus
from kqtools.uscc import make_uscc
from test_database_file import NO_WRITE, needs_no_write

A, B = "91110108551385082Q", "91310000631696382C"
FIRMS = [[A, "甲公司"], [B, "乙公司"]]
EXPORTS = ["firms.csv", "firms.tsv", "firms.txt", "firms.json", "firms.jsonl", "firms.ndjson", "firms.xlsx"]


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.lstat().st_mode) for p in folder.iterdir()}


def one_line(r, status, *words):
    assert r.returncode == status, r
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("kq: error: "), r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def firms_csv(folder: Path, rows=FIRMS) -> Path:
    folder.mkdir(exist_ok=True)
    return write_csv(folder / "firms.csv", ["统一社会信用代码", "企业名称"], rows)


def batches(db_path: Path) -> int:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM batches").fetchone()[0]


# ---------------------------------------------------------------- private
def test_every_file_kq_writes_is_private_under_umask_022(kq, tmp_path, umask_022):
    """Each writing command: -o in every format, a firm's record, --rejects (CSV and XLSX), and an
    export over a clerk's old world-readable file: all 0600, no temporary file left."""
    out = tmp_path / "out"
    out.mkdir()
    src = firms_csv(tmp_path / "in", FIRMS + [["123", "坏公司"]])
    (out / "old.csv").write_text("old export\n")
    assert stat.S_IMODE((out / "old.csv").stat().st_mode) == 0o644      # what umask 022 gives
    assert kq("import", "enterprises", src, "--rejects", out / "rejects.csv").returncode == 1
    assert kq("import", "enterprises", src, "--rejects", out / "rejects.xlsx").returncode == 1
    for name in EXPORTS + ["old.csv"]:
        assert kq("enterprises", "list", "-o", out / name).returncode == 0, name
    for name in ("firm.json", "firm.xlsx"):
        assert kq("enterprises", "show", A, "-o", out / name).returncode == 0, name
    assert kq("imports", "-o", out / "batches.csv").returncode == 0
    assert kq("check-uscc", A, "-o", out / "codes.jsonl").returncode == 0
    written = modes(out)
    assert set(written) == {*EXPORTS, "old.csv", "rejects.csv", "rejects.xlsx", "firm.json", "firm.xlsx",
                            "batches.csv", "codes.jsonl"}
    assert written == dict.fromkeys(written, 0o600)
    assert "old export" not in (out / "old.csv").read_text(encoding="utf-8-sig")


def test_kq_file_mode_0640_shares_exports_with_a_group(kq, tmp_path, umask_022):
    kq("import", "enterprises", firms_csv(tmp_path / "in"))
    out = tmp_path / "out"
    out.mkdir()
    for name in ("firms.csv", "firms.xlsx"):
        assert kq("enterprises", "list", "-o", out / name, env={"KQ_FILE_MODE": "0640"}).returncode == 0
    assert modes(out) == {"firms.csv": 0o640, "firms.xlsx": 0o640}


def test_the_scratch_files_of_a_large_first_assign_are_private(tmp_path, umask_022, monkeypatch):
    """The helper processes of a large first `kq assign` write into scratch files: each was created
    0600 (in a 0700 folder) before the helper opened it, and stays so once SQLite has written it."""
    import datetime as dt
    import json

    from kqtools.assignment import Firm, Specialist
    from kqtools.storage import first_run as A_
    from kqtools.storage.assignment import run_assign
    from test_assign_first_run import DAY, build_db, rules_file
    from test_assign_properties import POLICY

    seen = tmp_path / "seen.jsonl"
    recorder = [sys.executable, "-I", "-S", "-c",
                "import io, json, os, runpy, stat, sys\n"
                "task = sys.stdin.read(); out = json.loads(task)['out']\n"
                "mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)\n"
                "before = mode(out)\n"
                "sys.stdin, sys.argv = io.StringIO(task), sys.argv[1:]\n"
                "try:\n"
                "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
                "finally:\n"
                f"    with open({str(seen)!r}, 'a') as fh:\n"
                "        folder = os.path.dirname(out)\n"
                "        fh.write(json.dumps([before, mode(out), os.path.getsize(out), mode(folder),\n"
                "                             sorted(os.listdir(folder))]) + '\\n')\n"]
    monkeypatch.setattr(A_, "PARTS_MIN_DESIGNATIONS", 1)
    monkeypatch.setattr(A_, "_HELPER", recorder)
    specs = [Specialist("S01", "张三", "高新技术处", frozenset({"湖塘镇"}), capacity=100)]
    firms = [Firm(f"91320412MA{i:06d}X", f"企业{i}", "湖塘镇", "hte") for i in range(60)]
    db = build_db(tmp_path / "kq.db", specs, firms)
    try:
        run_assign(db, dt.date.fromisoformat(DAY), rules=rules_file(tmp_path, POLICY), parts=3)
    finally:
        db.conn.close()
    records = [json.loads(line) for line in seen.read_text().splitlines()]
    assert len(records) == 2                                # helpers for ranges 1 and 2
    for before, after, size, folder_mode, names in records:
        assert (before, after, folder_mode) == (0o600, 0o600, 0o700)
        assert size > 0 and all(n.startswith("part") and n.endswith(".db") for n in names), names


# ---------------------------------------------------------------- symbolic links
@pytest.mark.parametrize("dangling", [False, True], ids=["link to a file", "dangling link"])
def test_a_symbolic_link_at_o_is_refused_and_its_target_untouched(kq, tmp_path, dangling):
    kq("import", "enterprises", firms_csv(tmp_path / "in"))
    victim = tmp_path / "victim.txt"
    if not dangling:
        victim.write_text("someone else's file\n")
    for name in ("out.csv", "out.xlsx", "out.json"):
        link = tmp_path / name
        link.symlink_to(victim)
        for args in (["enterprises", "list", "-o", link], ["enterprises", "show", A, "-o", link]):
            if name == "out.csv" and args[1] == "show":
                continue          # a firm's record is .json or .xlsx
            one_line(kq(*args), ExitStatus.USAGE, name, "symbolic link")
            assert link.is_symlink()
        link.unlink()
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_text() == "someone else's file\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_symbolic_link_at_rejects_is_refused_before_the_import(kq, tmp_path, db_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "rejects.csv"
    link.symlink_to(victim)
    src = firms_csv(tmp_path / "in", FIRMS + [["123", "坏公司"]])
    kq("init")
    one_line(kq("import", "enterprises", src, "--rejects", link), ExitStatus.USAGE, "rejects.csv", "symbolic link")
    assert victim.read_text() == "keep me\n" and batches(db_path) == 0   # nothing imported either


@pytest.mark.parametrize("target, words", [
    ("folder.csv", "is a folder"), ("no/such/dir/x.csv", "does not exist"), ("x.pdf", "extension"),
    ("fifo.csv", "not a regular file"), ("readonly.csv", "read-only")])
def test_an_unusable_o_target_is_refused_before_any_work(kq, tmp_path, target, words):
    (tmp_path / "folder.csv").mkdir()
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "readonly.csv").write_text("protected\n")
    (tmp_path / "readonly.csv").chmod(0o444)
    one_line(kq("enterprises", "list", "-o", tmp_path / target), ExitStatus.USAGE, target, words)
    assert (tmp_path / "readonly.csv").read_text() == "protected\n"


def test_a_long_file_name_is_written(kq, tmp_path):
    """The temporary file's name is longer than the target's: it must still fit (255 bytes)."""
    kq("import", "enterprises", firms_csv(tmp_path / "in"))
    out = tmp_path / ("企业名录" * 20 + ".csv")          # 240 + 4 bytes in UTF-8
    assert kq("enterprises", "list", "-o", out).returncode == 0
    assert out.read_text(encoding="utf-8-sig").startswith("uscc,")


# ---------------------------------------------------------------- whole or not at all
def many_firms(n: int) -> list[list[str]]:
    return [[make_uscc("91", "320412", f"MA{i:06d}"), f"常州示例{i:05d}精密机械制造有限公司"] for i in range(n)]


def run_with_file_size_limit(limit: int, *args, db, tmpdir: Path | None = None,
                             command=("-m", "kqtools")) -> subprocess.CompletedProcess:
    """``kq ARGS`` in a process whose files cannot grow past ``limit`` bytes (RLIMIT_FSIZE): a write
    past it fails with EFBIG, as a full disk fails with ENOSPC (Python ignores SIGXFSZ)."""
    def limit_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "KQ_DB": str(db)}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return subprocess.run([sys.executable, *command, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=db.parent, timeout=300, preexec_fn=limit_size)


@pytest.mark.parametrize("name", ["firms.csv", "firms.jsonl", "firms.xlsx"])
def test_a_full_disk_leaves_the_old_file_intact_and_names_the_file(kq, tmp_path, db_path, name):
    assert kq("import", "enterprises", firms_csv(tmp_path / "in", many_firms(3000))).returncode == 0
    out = tmp_path / "out"
    out.mkdir()
    old = out / name
    old.write_bytes(b"the export of last month\n")
    new = out / ("new-" + name)
    scratch = tmp_path / "tmp"          # XlsxWriter's own temporary files go to $TMPDIR
    scratch.mkdir()
    for target in (old, new):
        r = run_with_file_size_limit(40_000, "enterprises", "list", "-o", target, db=db_path, tmpdir=scratch)
        one_line(r, ExitStatus.USAGE, str(target), "cannot write", "file too large")
    assert old.read_bytes() == b"the export of last month\n"
    assert list(scratch.iterdir()) == []
    assert "was left as it was" in r.stderr or "nothing was written" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == [name]      # no partial file, no temporary file
    # the same export without the limit is whole: every firm, and the old file replaced
    assert kq("enterprises", "list", "-o", old).returncode == 0
    if name.endswith(".csv"):
        with old.open(encoding="utf-8-sig", newline="") as fh:
            assert len(list(csv.reader(fh))) == 3001


@needs_no_write
def test_rejects_that_cannot_be_written_after_the_import_say_it_was_committed(tmp_path):
    """The rejects folder is not writable (checked only when the file is written): the import
    itself was committed, and kq says so in one line, exit 1, after printing the summary."""
    db = tmp_path / "kq.db"
    assert run_kq("init", db=db).returncode == 0
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o555)
    src = firms_csv(tmp_path / "in", FIRMS + [["123", "坏公司"]])
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "KQ_DB": str(db)}
    try:
        r = subprocess.run([*NO_WRITE, sys.executable, "-m", "kqtools", "import", "enterprises", str(src),
                            "--rejects", str(folder / "rejects.csv")], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=120)
    finally:
        folder.chmod(0o755)
    assert r.returncode == ExitStatus.ATTENTION, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("kq: error: ") and "rejects.csv: cannot write" in last and "permission denied" in last
    assert "the import itself was committed (batch 1" in last and "kq rejects 1" in last
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    import json

    assert json.loads(r.stdout)["inserted"] == 2            # the summary is printed all the same
    assert batches(db) == 1 and list(folder.iterdir()) == []


def test_a_workbook_that_fails_as_it_is_closed_leaves_the_old_file_and_no_noise(tmp_path):
    """The last step of an .xlsx, zipping its parts (XlsxWriter's close()), fails: sixty small sheets
    stay under the size limit each, the workbook does not. One error naming the file, the old file
    as it was, and nothing on stderr (the abandoned zip writer must not complain when freed)."""
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"last month's workbook")
    script = ("import sys\n"
              "from kqtools.files import OutputFileError\n"
              "from kqtools.output import write_xlsx\n"
              "rows = [{'uscc': f'9132041{i:011d}', 'name': f'常州示例{i}有限公司'} for i in range(40)]\n"
              "try:\n"
              "    write_xlsx(sys.argv[1], {f'专员{s}': (['uscc', 'name'], rows) for s in range(60)})\n"
              "except OutputFileError as exc:\n"
              "    print(exc)\n")
    r = run_with_file_size_limit(60_000, target, db=tmp_path / "unused.db", command=("-c", script))
    assert r.stdout.strip() == (f"{target}: cannot write: file too large (the file system's or this process's "
                                f"file-size limit) ({target} was left as it was)"), r
    assert r.stderr == ""
    assert target.read_bytes() == b"last month's workbook" and [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


@pytest.mark.parametrize("name", ["x.csv", "x.tsv", "x.json", "x.jsonl", "x.xlsx"])
def test_o_says_how_many_rows_it_wrote(kq, tmp_path, name):
    kq("import", "enterprises", firms_csv(tmp_path / "in", FIRMS + [[make_uscc("91", "320412", "MA000001"), "丙公司"]]))
    r = kq("enterprises", "list", "-o", tmp_path / name)
    assert r.returncode == 0 and r.stderr.strip() == f"wrote 3 rows to {tmp_path / name}", r


def test_sheet_names_are_made_valid_and_distinct(tmp_path):
    """Excel's rules: at most 31 characters, none of [ ] : * ? / \\, unique whatever the case."""
    import python_calamine

    from kqtools.output import write_xlsx

    titles = ["湖塘镇/雪堰镇", "A[1]:*?", "a[1]:*?", "", "专员" * 20, "专员" * 20 + "乙", "Sheet", "a/b", "a:b", "a?b"]
    path = tmp_path / "names.xlsx"
    write_xlsx(str(path), {t: (["uscc"], [{"uscc": A}]) for t in titles})
    assert python_calamine.CalamineWorkbook.from_path(str(path)).sheet_names == [
        "湖塘镇_雪堰镇", "A_1____", "a_1____~2", "Sheet", "专员" * 15 + "专", "专员" * 14 + "专~2", "Sheet~2",
        "a_b", "a_b~2", "a_b~3"]


def test_a_workbook_sets_the_width_of_every_column(tmp_path):
    import zipfile

    from kqtools.output import write_xlsx

    path = tmp_path / "w.xlsx"
    write_xlsx(str(path), {"firms": (["uscc", "name", "district"], [{"uscc": A, "name": "甲公司"}])})
    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    cols = re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', sheet)
    covered = {c for lo, hi, _w in cols for c in range(int(lo), int(hi) + 1)}
    assert covered == {1, 2, 3}                      # fitted to the content: tests/test_xlsx_cells.py


def test_a_firm_record_is_one_readable_json_document(kq, tmp_path):
    kq("import", "enterprises", firms_csv(tmp_path / "in"))
    out = tmp_path / "firm.json"
    assert kq("enterprises", "show", A, "-o", out).returncode == 0
    text = out.read_text(encoding="utf-8")
    record = kq("enterprises", "show", A, "-f", "json").json()
    assert json_text(record) == text and record["enterprise"]["name"] == "甲公司"


def json_text(document) -> str:
    import json

    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def test_a_workbook_has_a_bold_frozen_header_and_counts_an_empty_sheet_as_no_rows(tmp_path):
    import zipfile

    from kqtools.output import write_xlsx

    path = tmp_path / "h.xlsx"
    assert write_xlsx(str(path), {"firms": (["uscc", "name"], [{"uscc": A, "name": "甲公司"}]),
                                  "empty": (["uscc"], [])}) == 1
    book = zipfile.ZipFile(path)
    assert '<pane ySplit="1" topLeftCell="A2"' in book.read("xl/worksheets/sheet1.xml").decode()
    assert "<b/>" in book.read("xl/styles.xml").decode()
