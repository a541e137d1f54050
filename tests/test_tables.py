"""Tables that fit the terminal (issue 15 item 4), and local times in every listing (item 5).

A table shows each listing's default columns (the important ones first), cut with ``…`` by display
width (CJK counts two) so that every line fits 120 columns off a terminal; ``--columns`` chooses,
``--wide`` shows everything uncut. Machine formats are never cut and keep every column. Stored
timestamps (UTC, ``Z``, +08:00) are shown in local time: ``YYYY-MM-DD HH:MM:SS`` in a table, ISO
8601 with the local offset in JSON.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import sqlite3
from pathlib import Path

import click
import pytest
from hypothesis import given, strategies as st
from wcwidth import wcswidth

from conftest import run_kq
from kqtools.errors import ExitStatus
from kqtools.output import cut, display_width

ZH, EN = {"KQ_LANG": "zh"}, {"KQ_LANG": "en"}
LONG_NAME = "苏州工业园区独墅湖科教创新区纳米新材料与高端装备智能制造研究院有限责任公司"   # 38 characters, 76 columns


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo data (Chinese names), a firm with a very long name on the blacklist, a second
    scoring run (for score diff), an override and a screened file."""
    from kqtools.uscc import is_valid

    base = tmp_path_factory.mktemp("tables")
    path = base / "demo.db"
    assert run_kq("demo", "--db", path).returncode in (ExitStatus.OK, ExitStatus.ATTENTION)
    code = _valid_code()
    assert is_valid(code)
    firm = base / "firm.csv"
    firm.write_text(f"统一社会信用代码,企业名称,所属区域\n{code},{LONG_NAME},独墅湖科教区\n", encoding="utf-8")
    assert run_kq("import", "enterprises", firm, db=path).returncode == 0
    assert run_kq("lists", "override", "add", "blacklist", code, "--reason", "专项检查发现严重失信行为，经局务会研究决定列入",
                  "--operator", "张三", db=path).returncode == 0
    assert run_kq("lists", "build", "--as-of", "2026-06-30", db=path).returncode == 0
    assert run_kq("score", "run", "--year", "2025", "--rules", "huangyan", db=path).returncode == 0
    return path


def _valid_code() -> str:
    """A valid credit code of a firm the demo does not have."""
    from kqtools.uscc import make_uscc

    return make_uscc("91", "320594", "MA1TABLE")


@pytest.fixture(scope="module")
def applicants(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("screen") / "applicants.csv"
    src.write_text("统一社会信用代码,企业名称\n91320594135803871H,苏州澜思智能科技股份有限公司\n,苏州远航新材料有限公司\n"
                   f",{LONG_NAME}\n,无此企业\n", encoding="utf-8")
    return src


#: every command that prints a listing (records; all of them use output_options), with arguments
#: that give rows on the demo data
LISTINGS = {
    "imports": [],
    "rejects": ["1"],
    "enterprises list": [],
    "check-uscc": ["91320594135803871H", "123", "91320594135803871A"],
    "score show": [],
    "score explain": ["913205941424558367"],
    "score diff": ["1", "2"],
    "score runs": [],
    "lists show": ["blacklist"],
    "lists diff": ["whitelist"],
    "lists versions": [],
    "lists override list": [],
    "screen": ["APPLICANTS"],
    "specialists list": [],
    "assignments show": [],
    "assignments history": ["913205941424558367"],
    "visits due": [],
    "visits coverage": [],
    "jobs list": [],
    "jobs history": [],
    "outbox list": [],
    "requests list": [],
    "requests stats": [],
    "requests top": [],
    "ladder status": [],
    "ladder classes": [],
    "ladder candidates": ["--tier", "hte"],
    "targets progress": [],
    "watch": [],
}
#: commands with output_options that print a summary, a timeline, or rows only as they change things
NOT_LISTINGS = {
    "lists build", "lists override add", "lists override remove", "specialists activate", "specialists deactivate",
    "assign", "jobs run", "jobs run-due", "enterprises show", "requests add", "requests route", "requests answer",
    "requests revisit", "requests close", "requests reopen", "requests progress", "requests show",
    "requests escalate", "imports undo",
}


def _commands():
    from kqtools.cli import cli

    ctx = click.Context(cli)

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            if cmd.invoke_without_command and path:   # a group that runs itself too (kq imports; imports undo)
                yield " ".join(path), cmd
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), path + [name])
        else:
            yield " ".join(path), cmd
    return list(walk(cli, []))


def test_every_listing_command_is_measured_below():
    """A new listing (a command with --columns) must be added to LISTINGS, so that its default table
    is measured."""
    with_columns = {name for name, cmd in _commands() if any("--columns" in p.opts for p in cmd.params)}
    assert with_columns - set(LISTINGS) - NOT_LISTINGS == set()
    assert set(LISTINGS) <= with_columns


def _table(demo, listing, lang, applicants, *extra, env=None):
    args = [applicants if a == "APPLICANTS" else a for a in LISTINGS[listing]]
    r = run_kq(*listing.split(), *args, "-f", "table", *extra, db=demo, env={**lang, **(env or {})})
    assert r.returncode in (ExitStatus.OK, ExitStatus.ATTENTION), r
    return r.stdout


@pytest.mark.parametrize("lang", [EN, ZH], ids=["en", "zh"])
@pytest.mark.parametrize("listing", sorted(LISTINGS))
def test_every_listing_default_table_fits_120_columns(demo, applicants, listing, lang):
    out = _table(demo, listing, lang, applicants)
    lines = out.splitlines()
    assert lines and lines[0] != "(no rows)", f"{listing}: no rows to measure"
    widths = [wcswidth(line) for line in lines]
    assert max(widths) <= 120, "\n".join(line for line in lines if wcswidth(line) > 120)
    assert all(display_width(line) <= 120 for line in lines)


def test_a_long_chinese_name_is_cut_with_an_ellipsis_and_whole_in_json(demo, applicants):
    out = _table(demo, "lists show", ZH, applicants)
    line = next(line for line in out.splitlines() if line.startswith(_valid_code()))
    shown = line.split()[1]
    assert shown.endswith("…") and LONG_NAME.startswith(shown[:-1]) and len(shown) > 10
    rows = run_kq("lists", "show", "blacklist", db=demo).jsonl()
    assert LONG_NAME in {r["name"] for r in rows}                        # JSONL: never cut
    assert any(r["details"] and isinstance(r["details"], list) for r in rows)   # and every column


def test_machine_formats_keep_every_column_uncut(demo):
    from kqtools.cli.lists import SHOW_COLUMNS

    text = run_kq("lists", "show", "blacklist", "-f", "csv", db=demo, env=ZH).stdout
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == SHOW_COLUMNS
    assert LONG_NAME in {row[1] for row in table[1:]}
    assert not any("…" in cell for row in table for cell in row)


def test_wide_shows_every_column_uncut(demo, applicants):
    out = _table(demo, "lists show", EN, applicants, "--wide")
    assert out.splitlines()[0].split() == ["uscc", "name", "since", "until", "reasons", "override", "version", "details"]
    assert LONG_NAME in out


def test_columns_by_canonical_name_or_label_in_every_format(demo, applicants):
    out = _table(demo, "enterprises list", EN, applicants, "--columns", "name,uscc")
    assert out.splitlines()[0].split() == ["name", "uscc"]
    zh = _table(demo, "enterprises list", ZH, applicants, "--columns", "企业名称,uscc")
    assert zh.splitlines()[0].split() == ["企业名称", "统一社会信用代码"]
    rows = run_kq("enterprises", "list", "--columns", "uscc,district", db=demo).jsonl()
    assert rows and all(list(r) == ["uscc", "district"] for r in rows)


def test_an_unknown_column_is_one_line_naming_the_columns(demo):
    r = run_kq("enterprises", "list", "--columns", "uscc,nmae", db=demo)
    assert r.returncode == ExitStatus.USAGE and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "'nmae'" in r.stderr and "name" in r.stderr


@pytest.mark.parametrize("listing", ["lists show", "lists diff", "screen", "score runs"])
def test_lists_and_screen_tables_carry_no_json(demo, applicants, listing):
    for extra in ((), ("--wide",)):
        out = _table(demo, listing, EN, applicants, *extra)
        cells = [c for line in out.splitlines()[2:] for c in line.split("  ") if c.strip()]
        assert cells and not [c for c in cells if c.strip().startswith(("{", "[", '"'))]


def test_kq_format_sets_the_default_and_f_overrides(demo):
    table = run_kq("lists", "versions", db=demo, env={"KQ_FORMAT": "table"})
    assert table.stdout.splitlines()[0].split()[:2] == ["version", "as_of"]
    assert run_kq("lists", "versions", db=demo, env={"KQ_FORMAT": "csv"}).stdout.startswith("version,as_of,")
    assert run_kq("lists", "versions", "-f", "jsonl", db=demo, env={"KQ_FORMAT": "table"}).jsonl()
    summary = run_kq("score", "run", "--year", "2025", db=demo, env={"KQ_FORMAT": "table"})
    assert summary.stdout.splitlines()[0].split() == ["field", "value"]
    bad = run_kq("lists", "versions", db=demo, env={"KQ_FORMAT": "xml"})
    assert bad.returncode == ExitStatus.USAGE and len(bad.stderr.strip().splitlines()) == 1
    assert "KQ_FORMAT" in bad.stderr and "'xml'" in bad.stderr


# ---------------------------------------------------------------- local times
def _stored(demo, sql):
    conn = sqlite3.connect(demo)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("command, column, sql", [
    ("imports", "time", "SELECT finished_at FROM batches ORDER BY id DESC LIMIT 1"),
    ("outbox list", "fire_time", "SELECT fire_time FROM outbox ORDER BY id LIMIT 1"),
    ("jobs history", "fire_time", "SELECT fire_time FROM job_runs ORDER BY id DESC LIMIT 1"),
    ("lists versions", "built_at", "SELECT built_at FROM list_versions ORDER BY version LIMIT 1"),
])
def test_times_are_shown_in_local_time(demo, command, column, sql):
    stored = _stored(demo, sql)
    rows = run_kq(*command.split(), db=demo).jsonl()
    shown = next(r[column] for r in rows if r[column] and _instant(r[column]) == _instant(stored))
    assert shown.endswith("+08:00")                                      # the same instant, the local offset
    local = _instant(stored).astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
    table = run_kq(*command.split(), "-f", "table", "--columns", column, db=demo).stdout
    assert local in table.splitlines()[2:]
    utc = run_kq(*command.split(), db=demo, env={"KQ_TZ": "UTC"}).jsonl()
    assert any(r[column] and r[column].endswith("+00:00") and _instant(r[column]) == _instant(stored) for r in utc)


def test_jobs_list_next_fire_is_local_and_iso(demo):
    rows = run_kq("jobs", "list", db=demo).jsonl()
    assert rows and all(dt.datetime.fromisoformat(r["next_fire"]).utcoffset() == dt.timedelta(hours=8)
                        for r in rows if r["next_fire"])
    table = run_kq("jobs", "list", "-f", "table", db=demo).stdout
    assert "+08:00" not in table and "T0" not in table


def test_a_bad_kq_tz_is_one_line(demo):
    r = run_kq("imports", db=demo, env={"KQ_TZ": "Mars/Base"})
    assert r.returncode == ExitStatus.USAGE and r.stderr.count("\n") == 1 and "KQ_TZ" in r.stderr


# ---------------------------------------------------------------- cutting by display width
@given(st.text(alphabet=st.sampled_from("ab中文字〇１…e\u0301"), max_size=40), st.integers(1, 30))
def test_cut_fits_the_width_and_keeps_a_prefix(text, width):
    shown = cut(text, width)
    assert display_width(shown) <= width or display_width(text) <= width
    if display_width(text) <= width:
        assert shown == text
    else:
        assert shown.endswith("…") and text.startswith(shown[:-1])


def test_a_wide_character_that_does_not_fit_whole_is_left_out():
    assert cut("苏州长越", 4) == "苏…" and cut("苏州长越", 5) == "苏州…" and cut("ab苏州", 4) == "ab…"


def test_a_csv_for_excel_shows_local_times_a_spreadsheet_reads(demo, tmp_path):
    target = tmp_path / "versions.csv"
    assert run_kq("lists", "versions", "-o", target, db=demo).returncode == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    stored = _stored(demo, "SELECT built_at FROM list_versions ORDER BY version LIMIT 1")
    local = _instant(stored).astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
    assert rows[0]["built_at"] == local


def test_columns_choose_the_fields_of_a_summary(demo, tmp_path):
    copy = tmp_path / "kq.db"
    shutil.copy(demo, copy)
    r = run_kq("lists", "build", "--as-of", "2026-06-30", "--columns", "version,as_of", "-f", "json", db=copy)
    assert r.returncode == 0 and list(r.json()) == ["version", "as_of"]
