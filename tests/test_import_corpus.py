"""The hostile-input corpus (tests/corpus/) and a fuzz test, run through ``kq import`` in process.

For every file: the exit code; no traceback; a message naming the file and, where there is one, the
line (and the column of a rejected cell); and the database either unchanged or changed by exactly
the valid rows. The database starts with a few firms, metrics, designations and credit records, so
that a file which overwrote or wiped stored values would show.
"""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CORPUS = Path(__file__).resolve().parent / "corpus"
A, B, C, D = "91110108551385082Q", "91310000631696382C", "9144030071526726XG", "91440300708461136T"
TABLES = {"enterprises": "enterprises", "metrics": "metrics", "designations": "designations",
          "credit": "credit_records", "specialists": "specialists", "visits": "visits"}
SEED = {
    "enterprises": "统一社会信用代码,企业名称,所属区域,企业规模,成立日期,联系电话\n"
                   f"{A},甲公司,高新区,规上,2010-01-01,13812345678\n{B},乙公司,经开区,规下,2011-01-01,\n",
    "metrics": f"统一社会信用代码,年度,用地面积,营业收入,实缴税收\n{A},2024,10,1000,50\n",
    "designations": f"统一社会信用代码,荣誉类型,认定日期\n{A},高新技术企业,2023-11-06\n",
    "credit": f"统一社会信用代码,信用类型,纳税信用等级,年度\n{A},纳税信用等级,A,2023\n",
}


def kq_in_process(args: list, stdin: bytes = b"") -> tuple[int, str, str]:
    """``kq ARGS`` in this process (kqtools.cli.run under click's stream isolation)."""
    from click.testing import CliRunner

    from kqtools.cli import run

    runner = CliRunner()
    with runner.isolation(input=stdin, env={"KQ_DB": None, "KQ_DEBUG": None}) as (out, err, _):
        code = run([str(a) for a in args])
    return code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace")


def kq_process(args: list) -> tuple[int, str, str]:
    """``kq ARGS`` in a child process, for files whose failure mode is the death of the process."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    p = subprocess.run([sys.executable, "-m", "kqtools", *map(str, args)], capture_output=True, text=True,
                       preexec_fn=limit, timeout=120)
    return p.returncode, p.stdout, p.stderr


def seeded_db(folder: Path) -> Path:
    db = folder / "kq.db"
    for kind, text in SEED.items():
        src = folder / f"seed-{kind}.csv"
        src.write_text(text, encoding="utf-8")
        code, _, err = kq_in_process(["--db", db, "import", kind, src])
        assert code == 0, err
    return db


def dump(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db)
    try:
        return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in
                (*TABLES.values(), "batches", "rejects")}
    finally:
        conn.close()


@dataclass
class Case:
    file: str
    kind: str
    exit: int
    says: str = ""                      # a regular expression the error line(s) must match
    lines: tuple[int, ...] = ()         # lines the message(s) name
    columns: tuple[str, ...] = ()       # columns named by reject lines
    check: tuple[str, list] | None = None   # (SQL, its rows) after the import
    args: tuple = ()
    process: bool = False
    generated: bool = False
    notes: dict = field(default_factory=dict)   # summary fields expected


CASES = [
    # issue 11, the defects
    Case("unclosed_quote.csv", "enterprises", 2, "a quoted cell that opens on this line never closes", (2,)),
    Case("unclosed_quote.csv", "enterprises", 2, "never closes", (2,), args=("--strict",)),
    Case("long_cell.csv", "enterprises", 2, "runs past 10,000 characters", (2,)),
    Case("tall_cell.csv", "enterprises", 2, "does not close within 20 lines", (2,)),
    Case("multiline_address.csv", "enterprises", 0, check=(
        f"SELECT address FROM enterprises WHERE uscc = '{A}'", [("苏州工业园区\n星湖街328号",)])),
    Case("short_row.csv", "enterprises", 1, "row has 2 cells but the header has 5: .*shifted row", (3,), ("C",),
         check=(f"SELECT district, size_class, founded_on FROM enterprises WHERE uscc = '{A}'",
                [("高新区", "above", "2010-01-01")])),
    Case("excel_dropped_cells.csv", "enterprises", 0, check=(
        "SELECT uscc, name, district, size_class, founded_on FROM enterprises ORDER BY uscc",
        [(A, "甲公司（新）", "高新区", "above", "2010-01-01"), (B, "乙公司", None, "below", "2011-01-01"),
         (C, "丙公司", "高新区", "above", "2012-01-01")]), notes={"short_rows": 2}),
    Case("mixed_gbk_in_utf8.csv", "enterprises", 1, "not UTF-8 text like the rest of the file; it looks like GBK",
         (3,), generated=True, check=("SELECT name FROM enterprises ORDER BY uscc", [("甲公司一",), ("乙公司",), ("丙公司三",)])),
    Case("mixed_utf8_in_gbk.csv", "enterprises", 1, "UTF-8 text in a GBK/GB18030 file", (4,), generated=True,
         check=("SELECT name FROM enterprises ORDER BY uscc", [("甲公司一",), ("乙公司二",)])),
    Case("stray_cell.xlsx", "enterprises", 2, "sheet '名录': a value in XFD1048576 lies far from the rest",
         process=True, generated=True),
    Case("far_cell_no_dimension.xlsx", "enterprises", 2, "a value in GS1048576 lies far from the rest",
         process=True, generated=True),
    Case("reexported.csv", "enterprises", 0, check=(
        "SELECT name, phone, address FROM enterprises ORDER BY uscc",
        [("-2+3公司", "+86 13812345678", "=苏州"), ("@乙公司", "0512-62345678", "星湖街")]),
        notes={"apostrophes_removed": 4, "formula_like": 4}),
    Case("impossible_founding.csv", "enterprises", 1, "founded_on", (2, 3, 4), ("成立日期",),
         check=(f"SELECT uscc, founded_on FROM enterprises WHERE uscc = '{D}'", [(D, "2010-05-01")])),
    Case("negative_amounts.csv", "metrics", 1, "must be at least 0", (2, 3), ("用地面积（亩）", "营业收入（万元）"),
         check=("SELECT uscc, tax FROM metrics WHERE uscc != ? ORDER BY uscc".replace("?", f"'{A}'"), [(C, -5.0)])),
    Case("designation_dates.csv", "designations", 1, "before it is recognized|in the future", (2, 3),
         ("有效期至", "认定日期"), check=(f"SELECT uscc FROM designations WHERE uscc != '{A}'", [(C,)])),
    Case("credit_dates.csv", "credit", 1, "ends \\(2024-02-01\\) before it starts|amount", (2, 3), ("移出日期", "罚款金额"),
         check=(f"SELECT uscc, amount FROM credit_records WHERE source = 'admin_penalty'", [(C, 50.0)])),
    Case("year_as_date.csv", "metrics", 1, "a date, not a year \\(2025-01-15\\): put the year, e.g. 2025", (2,),
         ("年度",)),
    Case("year_date_cell.xlsx", "metrics", 1, "a date, not a year \\(2025-01-15\\)", (2,), ("年度",), generated=True),
    Case("merged.xlsx", "enterprises", 0, "filled 1 cell down from merged cells", generated=True,
         check=("SELECT district FROM enterprises ORDER BY uscc", [("高新区",), ("高新区",)]),
         notes={"merged_cells_filled": 1}),
    Case("duplicate_headers.csv", "enterprises", 0, check=(
        f"SELECT extra FROM enterprises WHERE uscc = '{A}'", [('{"备注": "重点", "备注 (2)": "外资"}',)])),
    # inputs that were already handled: they must stay so
    Case("empty.csv", "enterprises", 2, "empty file"),
    Case("header_only.csv", "enterprises", 2, "a header and no data rows", (1,)),
    Case("title_only.csv", "enterprises", 2, "no header row", (1,)),
    Case("duplicate_field_columns.csv", "enterprises", 2, "all map to field 'uscc'", (1,)),
    Case("binary.bin", "enterprises", 2, "", generated=True),
    Case("nul_bytes.csv", "enterprises", 2, "NUL bytes; this is a binary file", (3,), generated=True),
    Case("utf16.txt", "enterprises", 0, generated=True, check=(f"SELECT name FROM enterprises WHERE uscc = '{A}'",
                                                               [("甲公司",)])),
    Case("gbk.csv", "enterprises", 0, generated=True, check=(f"SELECT name FROM enterprises WHERE uscc = '{A}'",
                                                             [("苏州甲乙丙科技有限公司",)])),
    Case("firms.xlsx", "enterprises", 0, generated=True),
    Case("truncated.xlsx", "enterprises", 2, "not a readable .xlsx workbook", generated=True),
    Case("not_a_workbook.xlsx", "enterprises", 2, "not a readable .xlsx workbook", generated=True),
    Case("old.xls", "enterprises", 2, r"not a readable \.xls \(or WPS \.et\) workbook", generated=True),
    Case("excel_damaged_codes.csv", "enterprises", 1, "Excel turned this code into a number|dropped|rounded",
         (2, 3, 4), ("统一社会信用代码",)),
    Case("json_object.json", "enterprises", 2, "expected a JSON array of objects, got an object"),
    Case("json_scalars.json", "enterprises", 2, "item 2: expected an object, got int"),
    Case("nested.json", "enterprises", 2, "nested too deeply"),
    Case("broken.jsonl", "enterprises", 1, "not JSON|expected one JSON object per line", (2, 3)),
    Case("nan_inf.json", "metrics", 1, "not a number", (1, 2, 3), ("revenue",),
         check=(f"SELECT revenue FROM metrics WHERE uscc = '{D}'", [(12.5,)])),
    Case("feb30.csv", "enterprises", 1, "no such date: 2025-02-30", (2,), ("成立日期",)),
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    sys.path.insert(0, str(CORPUS))
    try:
        import make_corpus
    finally:
        sys.path.pop(0)
    folder = tmp_path_factory.mktemp("corpus")
    make_corpus.write_all(folder)
    return folder


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file + ("-" + "-".join(c.args) if c.args else ""))
def test_corpus(case: Case, tmp_path, generated):
    path = (generated if case.generated else CORPUS) / case.file
    db = seeded_db(tmp_path)
    before = dump(db)
    args = ["--db", db, "import", case.kind, path, "-f", "json", *case.args]
    code, out, err = (kq_process if case.process else kq_in_process)(args)
    assert code == case.exit, (code, err)
    assert "Traceback" not in err and "internal error" not in err and "panic" not in err, err
    messages = [line for line in err.splitlines() if line.strip()]
    if case.exit == 2:
        assert len(messages) == 1 and messages[0].startswith(f"kq: error: {path}"), err
    if case.says:
        assert re.search(case.says, err), err
    for line in case.lines:
        assert f"{path}: line {line}" in err, (line, err)
    for column in case.columns:
        assert f", column {column}: " in err, (column, err)
    after = dump(db)
    if case.exit == 2:
        assert after == before
        return
    summary = json.loads(out)
    for note, value in case.notes.items():
        assert summary[note] == value, (note, summary)
    # exactly the valid rows: nothing else changed, and the summary adds up
    table = TABLES[case.kind]
    conn = sqlite3.connect(db)
    untouched = sorted(map(repr, conn.execute(f"SELECT * FROM {table} WHERE seen_batch IS NOT ?", [summary["batch"]])))
    assert set(untouched) <= set(before[table])
    assert len(after[table]) == len(before[table]) + summary["inserted"]
    assert summary["read"] == summary["inserted"] + summary["updated"] + summary["unchanged"] + summary["rejected"]
    for other in set(TABLES.values()) - {table, "enterprises"}:
        assert after[other] == before[other], other
    if case.check:
        sql, rows = case.check
        assert conn.execute(sql).fetchall() == rows
    conn.close()


# ---------------------------------------------------------------- fuzz
CELL = st.one_of(st.sampled_from([A, B, C, "9.13205E+17", "甲公司", "乙公司", "", "无", "2024-02-30", "2024-07-01",
                                  "-2+3公司", "'=1", "=SUM(A1)", "规上", "45474", "99999", '"', '""', "a,b", "\n",
                                  "\r\n", "x\ny", "1e400", "NaN", "\x00"]),
                 st.text(max_size=12))
HEADERS = st.lists(st.sampled_from(["统一社会信用代码", "企业名称", "所属区域", "成立日期", "备注", "备注", "年度",
                                    "营业收入", "uscc", "name", "", "企业规模"]), min_size=1, max_size=6)


def _csv_text(header: list[str], rows: list[list[str]], quote: bool) -> str:
    def cell(c):
        return '"' + c.replace('"', '""') + '"' if quote and any(x in c for x in ',"\n\r') else c
    return "".join(",".join(cell(c) for c in row) + "\n" for row in [header, *rows])


JSON_VALUE = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10, 3000), st.floats(), CELL),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(CELL, inner, max_size=3),
                          max_leaves=8)
PLAUSIBLE_ROW = st.tuples(st.sampled_from([A, B, C, D, "9.13205E+17"]), st.sampled_from(["甲公司", "-2+3公司", "", "'=x"]),
                          st.sampled_from(["2024", "2025年", "2025-01-15", "1800"]), st.sampled_from(["100", "-5", "1,234.5", "无"]),
                          CELL).map(list)
SOURCES = st.one_of(
    st.tuples(st.just("bytes.csv"), st.binary(max_size=300)),
    st.builds(lambda rows, cut: ("plausible.csv", _csv_text(["统一社会信用代码", "企业名称", "年度", "营业收入", "备注"],
                                                            [r[:len(r) - cut] for r in rows], True).encode()),
              st.lists(PLAUSIBLE_ROW, min_size=1, max_size=6), st.integers(0, 2)),
    st.builds(lambda h, rows, q, enc: ("table.csv", _csv_text(h, rows, q).encode(enc, "replace")),
              HEADERS, st.lists(st.lists(CELL, max_size=7), max_size=6), st.booleans(),
              st.sampled_from(["utf-8", "gbk", "utf-8-sig"])),
    st.builds(lambda objs: ("objects.json", json.dumps(objs, ensure_ascii=False).encode()),
              st.lists(st.dictionaries(st.sampled_from(["uscc", "name", "year", "revenue", "备注", "district"]),
                                       JSON_VALUE, max_size=5), max_size=5) | JSON_VALUE),
    st.builds(lambda lines: ("lines.jsonl", "\n".join(lines).encode()),
              st.lists(st.one_of(st.builds(lambda o: json.dumps(o, ensure_ascii=False), JSON_VALUE), CELL),
                       max_size=5)),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: the profile (default 100)
@given(SOURCES, st.sampled_from(["enterprises", "metrics"]))
def test_fuzz_import_never_crashes_and_writes_only_valid_rows(source, kind):
    name, data = source
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        db = Path(folder) / "kq.db"
        seed = Path(folder) / "seed.csv"
        seed.write_text(SEED[kind], encoding="utf-8")
        assert kq_in_process(["--db", db, "import", kind, seed])[0] == 0
        before = dump(db)
        code, out, err = kq_in_process(["--db", db, "import", kind, path, "-f", "json"])
        assert code in (0, 1, 2), (code, err)
        assert "Traceback" not in err and "internal error" not in err, err
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"kq: error: {path}"), err
            assert dump(db) == before
            return
        summary = json.loads(out)
        assert summary["read"] == summary["inserted"] + summary["updated"] + summary["unchanged"] + summary["rejected"]
        assert (code == 1) == (summary["rejected"] > 0)
        after = dump(db)
        table = TABLES[kind]
        assert len(after[table]) == len(before[table]) + summary["inserted"]
        for line in err.splitlines():
            if ": line " in line:
                assert line.startswith(f"{path}: line "), line
