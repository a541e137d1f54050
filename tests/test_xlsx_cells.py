"""Excel-grade workbooks from every ``-o FILE.xlsx`` (issue #15 item 3), read back as Excel would.

Read with python-calamine (cell types) and the sheet XML itself (zipfile: widths, the autofilter,
the frozen pane, number formats): Chinese headers, date cells of date type, times in local time,
money with two decimals, widths fitted to the content, an autofilter, a frozen header, and no cell
that is JSON. A workbook kq wrote imports back unchanged, dates and money included.
"""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from conftest import run_kq
from kqtools import xlsxcells
from kqtools.errors import ExitStatus

ZH, EN = {"KQ_LANG": "zh"}, {"KQ_LANG": "en"}


# ---------------------------------------------------------------- reading a workbook back
def rows_of(path, sheet: int = 0) -> list[list]:
    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(sheet).to_python()


def sheet_xml(path, sheet: int = 0) -> str:
    return zipfile.ZipFile(path).read(f"xl/worksheets/sheet{sheet + 1}.xml").decode("utf-8")


def widths(path, sheet: int = 0) -> dict[int, float]:
    """column number (1-based) -> width, from the sheet's <cols>."""
    out = {}
    for lo, hi, w in re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', sheet_xml(path, sheet)):
        for c in range(int(lo), int(hi) + 1):
            out[c] = float(w)
    return out


def number_formats(path, sheet: int = 0) -> dict[str, str]:
    """cell reference (``F2``) -> its number format code, for every cell with a style."""
    book = zipfile.ZipFile(path)
    styles = book.read("xl/styles.xml").decode("utf-8")
    custom = {int(i): code.replace("&quot;", '"') for i, code in
              re.findall(r'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"', styles)}
    builtin = {0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 14: "m/d/yyyy"}
    xfs = re.search(r"<cellXfs[^>]*>(.*?)</cellXfs>", styles, re.S).group(1)
    ids = [int(m) for m in re.findall(r'<xf numFmtId="(\d+)"', xfs)]
    out = {}
    for ref, s in re.findall(r'<c r="([A-Z]+\d+)" s="(\d+)"', sheet_xml(path, sheet)):
        fid = ids[int(s)]
        out[ref] = custom.get(fid, builtin.get(fid, str(fid)))
    return out


def column_letter(heads: list, head: str) -> str:
    i = heads.index(head)
    return chr(ord("A") + i) if i < 26 else chr(ord("A") + i // 26 - 1) + chr(ord("A") + i % 26)


def string_cells(path) -> list[str]:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    return [cell for name in book.sheet_names for row in book.get_sheet_by_name(name).to_python()
            for cell in row if isinstance(cell, str)]


# ---------------------------------------------------------------- a listing as a section chief gets it
def test_a_chinese_firm_list_is_ready_to_use(demo, tmp_path):
    path = tmp_path / "名录.xlsx"
    assert run_kq("enterprises", "list", "-o", path, db=demo, env=ZH).returncode == ExitStatus.OK
    rows = rows_of(path)
    heads, data = rows[0], rows[1:]
    assert heads[:3] == ["统一社会信用代码", "企业名称", "所属区域"]
    founded = heads.index("成立日期")
    assert all(isinstance(r[founded], dt.date) for r in data if r[founded] != "")
    assert sum(isinstance(r[founded], dt.date) for r in data) > 100
    assert all(f == "yyyy-mm-dd" for ref, f in number_formats(path).items()
               if ref.startswith(column_letter(heads, "成立日期")) and ref[1:] != "1")
    xml = sheet_xml(path)
    assert f'<autoFilter ref="A1:{column_letter(heads, heads[-1])}{len(rows)}"/>' in xml
    assert '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>' in xml
    w = widths(path)
    assert len(w) == len(heads)
    name_w, size_w = w[heads.index("企业名称") + 1], w[heads.index("企业规模") + 1]
    code_w = w[heads.index("统一社会信用代码") + 1]
    assert name_w > code_w > size_w             # 20-odd Chinese characters > 18 digits > 规上
    assert code_w >= 18


def test_widths_count_chinese_characters_double_and_stay_within_caps(tmp_path):
    from kqtools.output import write_xlsx

    path = tmp_path / "w.xlsx"
    rows = [{"a": "甲" * 10, "b": "x" * 10, "c": "长" * 40, "d": "1"}]   # 长 × 40: 80 columns
    write_xlsx(str(path), {"s": (["a", "b", "c", "d"], rows)})
    w = widths(path)
    assert w[1] > w[2] + 8                       # ten CJK characters take twenty columns, ten letters ten
    assert w[3] <= xlsxcells.MAX_WIDTH + 1 and w[4] >= xlsxcells.MIN_WIDTH
    assert rows_of(path)[1][2] == "长" * 40      # capped in width, never cut: wrapped
    wrapped = re.search(r'<c r="C2" s="(\d+)"', sheet_xml(path)).group(1)
    styles = zipfile.ZipFile(path).read("xl/styles.xml").decode()
    xf = re.findall(r"<xf [^>]*?(?:/>|>.*?</xf>)", re.search(r"<cellXfs[^>]*>(.*?)</cellXfs>", styles, re.S).group(1))
    assert 'wrapText="1"' in xf[int(wrapped)]


def test_times_with_an_offset_are_shown_in_local_time(demo, tmp_path):
    path = tmp_path / "runs.xlsx"
    assert run_kq("jobs", "history", "-o", path, db=demo, env=EN).returncode == ExitStatus.OK
    stored = run_kq("jobs", "history", "-f", "json", db=demo).json()
    rows = rows_of(path)
    heads = rows[0]
    fire = heads.index("fire_time")
    utc = dt.datetime.fromisoformat(stored[0]["fire_time"].replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    assert rows[1][fire] == utc.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    assert number_formats(path)[f"{column_letter(heads, 'fire_time')}2"] == "yyyy-mm-dd hh:mm"
    other = tmp_path / "utc.xlsx"
    run_kq("jobs", "history", "-o", other, db=demo, env={**EN, "KQ_TZ": "UTC"})
    assert rows_of(other)[1][fire] == utc.replace(tzinfo=None)


@pytest.mark.parametrize("stored", ["2026-01-05T01:00:00Z", "2026-01-05T01:00:00+00:00", "2026-01-05T09:00:00+08:00",
                                    "2026-01-05 09:00:00", "2026-01-05T09:00"])
def test_the_writer_puts_a_stored_timestamp_in_local_time(tmp_path, stored):
    """What write_xlsx does with a timestamp as stored (a caller that did not convert it): an
    offset or Z is turned into local time; a time without one is local time already."""
    from kqtools.output import write_xlsx

    path = tmp_path / "t.xlsx"
    write_xlsx(str(path), {"s": (["created_at"], [{"created_at": stored}])}, tz="Asia/Shanghai")
    assert rows_of(path)[1][0] == dt.datetime(2026, 1, 5, 9, 0)


def test_an_unknown_time_zone_is_one_line_and_writes_nothing(demo, tmp_path):
    path = tmp_path / "runs.xlsx"
    r = run_kq("jobs", "history", "-o", path, db=demo, env={"KQ_TZ": "Mars/Olympus"})
    assert r.returncode == ExitStatus.USAGE
    assert "'Mars/Olympus' is not a time zone" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not path.exists()


#: every command that writes a workbook with -o, with lists or dicts or JSON text among its values
WORKBOOK_COMMANDS = [
    ["enterprises", "list"],
    ["enterprises", "show", "91320594136674960H"],
    ["lists", "show", "whitelist"],
    ["lists", "show", "blacklist"],
    ["lists", "diff", "blacklist"],
    ["score", "show"],
    ["score", "runs"],
    ["score", "explain", "91320594138575528G"],
    ["specialists", "list"],
    ["assignments", "show"],
    ["jobs", "history"],
    ["jobs", "list"],
    ["outbox", "list"],
    ["imports"],
    ["requests", "list", "--as-of", "2026-01-05"],
    ["requests", "show", "2", "--as-of", "2026-01-05"],
    ["requests", "stats", "--as-of", "2026-01-05", "--by", "department"],
    ["visits", "coverage", "--year", "2025"],
    ["ladder", "status"],
]


@pytest.mark.parametrize("args", WORKBOOK_COMMANDS, ids=lambda a: " ".join(a))
def test_no_cell_is_json_and_every_sheet_has_a_filter_and_a_frozen_header(demo, tmp_path, args):
    """Fails when a workbook shows JSON ({…} or […]) in a cell, or a key of readable detail text,
    a header or a value the catalog has no Chinese label for (add it to kqtools.labels)."""
    from kqtools import labels

    path = tmp_path / "out.xlsx"
    missing: set = set()
    token = labels.collect_missing(missing)
    try:
        r = run_kq(*args, "-o", path, db=demo, env=ZH, subprocess=False)
    finally:
        labels.stop_collecting(token)
    assert r.returncode in (ExitStatus.OK, ExitStatus.ATTENTION), r
    texts = string_cells(path)
    assert texts and not [t for t in texts if t.lstrip().startswith(("{", "["))]
    n_sheets = len(zipfile.ZipFile(path).namelist()) and sum(
        1 for n in zipfile.ZipFile(path).namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
    for i in range(n_sheets):
        xml = sheet_xml(path, i)
        assert "<autoFilter ref=" in xml and 'state="frozen"' in xml and "<cols>" in xml
    assert missing == set()


def test_a_list_entry_s_details_read_as_labelled_text(demo, tmp_path):
    path = tmp_path / "白名单.xlsx"
    run_kq("lists", "show", "whitelist", "-o", path, db=demo, env=ZH)
    rows = rows_of(path)
    details = [r[rows[0].index("明细")] for r in rows[1:]]
    text = next(d for d in details if "designation" in d)
    assert "来源: 纳税信用等级" in text and "认定日期: 2024-" in text and "\n" in text   # one rule a line
    english = tmp_path / "whitelist.xlsx"
    run_kq("lists", "show", "whitelist", "-o", english, db=demo, env=EN)
    rows = rows_of(english)
    assert any("source: tax_rating, year: 2024, grade: A" in r[rows[0].index("details")] for r in rows[1:])


def test_money_has_two_decimals_and_rates_are_percentages(demo, tmp_path):
    path = tmp_path / "firm.xlsx"
    run_kq("enterprises", "show", "91320594136674960H", "-o", path, db=demo, env=ZH)
    names = __import__("python_calamine").CalamineWorkbook.from_path(str(path)).sheet_names
    metrics = names.index("年度指标")
    heads = rows_of(path, metrics)[0]
    formats = number_formats(path, metrics)
    assert formats[f"{column_letter(heads, '营业收入')}2"] == "#,##0.00"
    assert formats[f"{column_letter(heads, '实缴税收')}2"] == "#,##0.00"
    assert f"{column_letter(heads, '年度')}2" not in formats      # a year is an integer, no decimals
    coverage = tmp_path / "coverage.xlsx"
    run_kq("visits", "coverage", "--year", "2025", "-o", coverage, db=demo, env=EN)
    heads = rows_of(coverage)[0]
    assert number_formats(coverage)[f"{column_letter(heads, 'share')}2"] == "0.0%"
    assert isinstance(rows_of(coverage)[1][heads.index("share")], float)


# ---------------------------------------------------------------- the round trip
DATA_TABLES = ("enterprises", "metrics", "credit_records")


def dump(path: Path) -> dict:
    conn = sqlite3.connect(path)
    try:
        out = {}
        for t in DATA_TABLES:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({t})") if r[1] not in ("seen_batch", "seen_line")]
            out[t] = sorted(map(repr, conn.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall()))
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("kind, table, fields", [
    ("metrics", "metrics", ["uscc", "name", "year", "land_mu", "revenue", "tax", "value_added", "energy_tce",
                            "rd_expense", "employees", "env_penalty"]),
    ("credit", "credit_records", ["uscc", "name", "source", "grade", "year", "started_on", "ended_on",
                                  "repaired_on", "severity", "term_years", "amount", "reference", "issuer", "note",
                                  "direct"]),
])
def test_dates_and_money_written_to_a_workbook_import_back_unchanged(copy, tmp_path, lang, kind, table, fields):
    """The writer kq uses for every -o FILE.xlsx: a date cell reads back as the same date, a money
    cell as the same number (the importer sees a date and a float, not text)."""
    from kqtools import i18n, labels
    from kqtools.output import write_xlsx

    conn = sqlite3.connect(copy)
    conn.row_factory = sqlite3.Row
    records = [dict(r) for r in conn.execute(f"SELECT {', '.join(fields)} FROM {table}")]
    conn.close()
    assert any(r.get("revenue") or r.get("started_on") for r in records)
    before = dump(copy)
    token = i18n.use(lang)
    try:
        rows, heads = labels.relabel(records, fields, kind)
        path = tmp_path / f"{kind}.xlsx"
        write_xlsx(str(path), {kind: (heads, rows)})
    finally:
        i18n.reset(token)
    back = rows_of(path)
    date_or_money = [h for h, f in zip(back[0], fields) if xlsxcells.column_type(f) in ("date", "money")]
    assert date_or_money
    cells = [r[back[0].index(h)] for h in date_or_money for r in back[1:] if r[back[0].index(h)] != ""]
    assert len(cells) > 10 and all(isinstance(c, (dt.date, float)) for c in cells)
    r = run_kq("import", kind, path, db=copy, env={"KQ_LANG": lang})
    assert r.returncode == ExitStatus.OK, r
    summary = r.json()
    assert (summary["inserted"], summary["updated"], summary["rejected"]) == (0, 0, 0)
    assert dump(copy) == before


# ---------------------------------------------------------------- the rules of a cell
@pytest.mark.parametrize("name, kind", [
    ("founded_on", "date"), ("recognized_on", "date"), ("since", "date"), ("as_of", "date"),
    ("created_at", "time"), ("fire_time", "time"), ("revenue", "money"), ("amount", "money"),
    ("share", "rate"), ("score", "decimal"), ("name", None), ("uscc", None), ("year", None), ("result", "json"),
])
def test_a_column_is_typed_by_its_name_and_schema(name, kind):
    assert xlsxcells.column_type(name) == kind


def test_every_timestamp_column_the_commands_convert_is_a_time_column_of_a_workbook():
    from kqtools.cli.common import TIMESTAMP_COLUMNS

    assert {c for c in TIMESTAMP_COLUMNS if xlsxcells.column_type(c) != "time"} == set()


@pytest.mark.parametrize("text", ["2024-7-1", "20240701", "2024-02-30", "2024-07-01x", "昨天", " 2024-07-01",
                                  "1899-12-31", "1900-02-28"])
def test_text_that_is_not_exactly_a_date_stays_text(text):
    assert xlsxcells.excel_date(text) is None


def test_an_integer_excel_would_round_is_written_exactly_as_text(tmp_path):
    from kqtools.output import write_xlsx

    path = tmp_path / "n.xlsx"
    write_xlsx(str(path), {"s": (["n"], [{"n": 913205941364373917}, {"n": 123456789012345}])})
    assert [r[0] for r in rows_of(path)[1:]] == ["913205941364373917", 123456789012345.0]


def test_date_and_time_objects_are_date_cells_in_any_column(tmp_path):
    from kqtools.output import write_xlsx

    path = tmp_path / "o.xlsx"
    moment = dt.datetime(2026, 12, 6, 21, 40, 53)
    write_xlsx(str(path), {"s": (["note", "other"], [{"note": moment, "other": dt.date(2026, 1, 5)}])})
    assert rows_of(path)[1] == [moment, dt.date(2026, 1, 5)]
    assert number_formats(path)["A2"] == "yyyy-mm-dd hh:mm"
    with pytest.raises(Exception, match="is not a time zone"):
        write_xlsx(str(tmp_path / "z.xlsx"), {"s": (["at"], [{"at": "2026-01-05T01:00:00Z"}])}, tz="Nowhere/City")
    assert not (tmp_path / "z.xlsx").exists()


def test_a_date_column_keeps_its_odd_values_as_text(tmp_path):
    from kqtools.output import write_xlsx

    path = tmp_path / "d.xlsx"
    write_xlsx(str(path), {"s": (["founded_on", "name"], [{"founded_on": "2024-07-01", "name": "2024-07-01"},
                                                          {"founded_on": "unknown", "name": "x"}])})
    rows = rows_of(path)
    assert rows[1] == [dt.date(2024, 7, 1), "2024-07-01"]      # a date only in a date column
    assert rows[2] == ["unknown", "x"]


@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 12, 31)))
def test_a_date_s_serial_is_the_date_the_importer_reads_back(day):
    from kqtools.fields import to_date

    serial = xlsxcells.excel_date(day.isoformat())
    assert serial == xlsxcells.excel_date(day) and serial.is_integer()
    assert dt.date(1899, 12, 30) + dt.timedelta(days=int(serial)) == day
    assert to_date(serial) == day.isoformat()          # a serial the importer meets as a bare number


def test_display_width_counts_wide_characters_twice():
    assert xlsxcells.display_width("abc") == 3
    assert xlsxcells.display_width("苏州ＡＢ") == 8             # CJK and full-width letters
    assert xlsxcells.display_width("甲乙\nabcdefg") == 7         # the widest line


def test_readable_text_is_never_json():
    readable = xlsxcells.Readable(labelled=False)
    assert readable({"input": ["有限公司", "苏州"], "list": []}) == "input: 有限公司, 苏州"
    assert readable([{"rule": "uscc", "uscc": "X"}, {"rule": "name", "threshold": 90.0}]) == \
        "rule: uscc, uscc: X\nrule: name, threshold: 90"
    assert readable(["a", "b"]) == "a, b"


@pytest.mark.parametrize("env, field, due", [(ZH, "受理日期", "办理时限"), (EN, "received_on", "due_on")])
def test_a_record_sheet_types_each_value_by_its_field(demo, tmp_path, env, field, due):
    """kq requests show / enterprises show -o: the first sheet is field/value rows; a date field's
    value is a date cell there too, by its canonical name or its label."""
    path = tmp_path / "request.xlsx"
    assert run_kq("requests", "show", "2", "--as-of", "2026-01-05", "-o", path, db=demo, env=env).returncode == 0
    values = {r[0]: r[1] for r in rows_of(path)[1:]}
    assert values[field] == dt.date(2025, 11, 5) and isinstance(values[due], dt.date)
    assert isinstance(next(v for k, v in values.items() if k in ("诉求编号", "external_id")), str)


_LEAF_TEXT = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters=" -:"),
                     min_size=1, max_size=8)
_KEYS = st.from_regex(r"[a-z_]{1,8}", fullmatch=True)
_NESTED = st.recursive(
    st.one_of(_LEAF_TEXT, st.integers(-10**6, 10**6), st.booleans()),
    lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=4),
                            st.dictionaries(_KEYS, inner, min_size=1, max_size=4)),
    max_leaves=12)


@given(st.one_of(st.lists(_NESTED, min_size=1, max_size=4),
                 st.dictionaries(_KEYS, _NESTED, min_size=1, max_size=4)))
def test_readable_text_keeps_every_value_and_has_no_json_brackets(value):
    text = xlsxcells.Readable(labelled=False)(value)
    assert not set(text) & set("{}[]\"")

    def leaves(v):
        if isinstance(v, dict):
            for k, x in v.items():
                yield k
                yield from leaves(x)
        elif isinstance(v, list):
            for x in v:
                yield from leaves(x)
        else:
            yield "true" if v is True else "false" if v is False else str(v)
    for leaf in leaves(value):
        if leaf not in ("", "true", "false"):
            assert leaf in text
