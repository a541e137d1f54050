"""kq report score/lists/visits: workbooks with native charts over the summary sheet, and HTML pages.

Every figure is checked against what the capability's own command prints (kq score show, kq lists
show, kq visits coverage), read back from the written files: python_calamine for the cells, zipfile
for the drawing and chart parts.
"""
from __future__ import annotations

import collections
import datetime as dt
import os
import re
import stat

import pytest

from conftest import run_kq
from report_helpers import SUMMARY, cells, chart_refs, demo_copy, part, sheet_xml, sheets


@pytest.fixture
def demo(tmp_path):
    return demo_copy(tmp_path)


def kq_at(db):
    return lambda *args, **kw: run_kq(*args, db=db, **kw)


# ------------------------------------------------------------------ score
def test_score_workbook_charts_reference_the_summary_tables_and_show_the_runs_figures(demo, tmp_path):
    kq = kq_at(demo)
    out = tmp_path / "评价.xlsx"
    r = kq("report", "score", "--year", "2025", "-o", out)
    assert r.returncode == 0, r
    written = r.json()
    assert written["format"] == "xlsx" and written["charts"] == 3 and out.stat().st_size == written["bytes"]
    results = kq("score", "show", "--year", "2025", "-f", "jsonl").jsonl()
    book = sheets(out)
    assert list(book)[0] == SUMMARY
    summary = book[SUMMARY]
    refs = chart_refs(out)
    assert len(refs) == 3
    assert "xl/drawings/drawing1.xml" in _names(out)
    for chart in refs:            # every reference of every chart is a range of the summary sheet
        assert chart and all(re.fullmatch(r"'?汇总'?!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", f) for f in chart), chart

    # chart 1: grades by district, stacked: one series per grade; its cells are the counts of kq score show
    stacked = refs[0]
    names, cats, values = stacked[0::3], stacked[1::3], stacked[2::3]
    districts = cells(summary, cats[0])
    expected = collections.Counter((r["district"] or "(未填区域)", r["grade"]) for r in results)
    for name_ref, value_ref in zip(names, values):
        grade = cells(summary, name_ref)[0].split("(")[0]          # T is headed "T(不参评)"
        got = dict(zip(districts, cells(summary, value_ref)))
        assert got == {d: expected[(d, grade)] for d in districts}, grade
    assert set(districts) == {d for d, _ in expected}

    # chart 2: the pie of grade shares sums to every firm of the run
    pie_values = cells(summary, refs[1][2])
    assert sum(pie_values) == len(results)

    # chart 3: the histogram's bins hold every graded firm once
    hist = refs[2]
    graded = [r for r in results if r["grade"] != "T"]
    assert sum(sum(cells(summary, v)) for v in hist[2::3]) == len(graded)


def _names(path):
    import zipfile

    with zipfile.ZipFile(path) as z:
        return z.namelist()


def test_public_list_is_in_the_published_column_order_by_group_then_rank_without_class_t(demo, tmp_path):
    kq = kq_at(demo)
    out = tmp_path / "s.xlsx"
    assert kq("report", "score", "--year", "2025", "-o", out).returncode == 0
    results = kq("score", "show", "--year", "2025", "-f", "jsonl").jsonl()
    book = sheets(out)
    public = book["公示名单"]
    assert public[0] == ["序号", "排名", "企业名称", "统一社会信用代码", "所属区域", "评价等级", "企业分组"]
    graded = [r for r in results if r["grade"] != "T"]
    assert [row[3] for row in public[1:]] == [r["uscc"] for r in graded]       # groups in rule order, by rank
    assert [int(row[0]) for row in public[1:]] == list(range(1, len(graded) + 1))
    assert [int(row[1]) for row in public[1:]] == [r["rank"] for r in graded]
    assert [row[5] for row in public[1:]] == [r["grade"] for r in graded]
    groups = [row[6] for row in public[1:]]
    assert groups == sorted(groups, key=groups.index)          # the rule file's group labels, in its order
    assert [g.split(" ")[0] for g in dict.fromkeys(groups)] == ["规上企业", "规下企业"]
    class_t = book["T类企业(不参评)"]
    assert {row[2] for row in class_t[1:]} == {r["uscc"] for r in results if r["grade"] == "T"}
    assert all(row[4] == "T" and row[5] for row in class_t[1:])


def test_detail_sheets_are_excel_grade(demo, tmp_path):
    kq = kq_at(demo)
    out = tmp_path / "s.xlsx"
    assert kq("report", "score", "--year", "2025", "-o", out).returncode == 0
    book = sheets(out)
    results = book["评价结果"]
    assert results[0] == ["企业分组", "排名", "统一社会信用代码", "企业名称", "所属区域", "基础得分", "加分", "综合得分",
                          "排名等级", "评价等级", "说明"]
    assert all(isinstance(row[7], float) for row in results[1:] if row[9] != "T")     # scores are numbers
    for index in (2, 3, 4):                      # every detail sheet: frozen header row and an autofilter
        xml = sheet_xml(out, index)
        assert re.search(r'<pane ySplit="1"[^>]*state="frozen"', xml), index
        assert re.search(r'<autoFilter ref="A1:[A-Z]+\d+"', xml), index
    widths = _widths(sheet_xml(out, 3))
    assert len(set(widths.values())) > 2                 # fitted to the content, not all one width
    longest = max(len(row[3]) for row in results[1:])
    assert widths[4] >= 2 * longest                      # the firm's name: a Chinese character counts double
    assert widths[10] < widths[4] and widths[3] < widths[4]   # grade, credit code narrower
    for name, rows in book.items():
        for row in rows:
            assert not any(isinstance(v, str) and v.lstrip().startswith(("{", "[")) for v in row), (name, row)


def test_score_html_has_an_svg_per_chart_and_refers_to_nothing_outside(demo, tmp_path):
    kq = kq_at(demo)
    out = tmp_path / "s.html"
    r = kq("report", "score", "--year", "2025", "-o", out)
    assert r.returncode == 0, r
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") == html.count("</svg>") == r.json()["charts"] == 3
    _self_contained(html)
    assert "各区域评价等级分布" in html and "公示名单" in html


def _widths(xml: str) -> dict[int, float]:
    """Column number (1-based) -> width, from the sheet's <col min max width> elements."""
    out = {}
    for lo, hi, w in re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', xml):
        out.update({c: float(w) for c in range(int(lo), int(hi) + 1)})
    return out


def _self_contained(html: str):
    lowered = html.lower()
    for needle in ("<script", "src=", "href=", "url(", "@import", "<link", "<img", "<iframe", "http:", "https:",
                   "<style", "class="):
        assert needle not in lowered, needle
    widths = [int(w) for w in re.findall(r'(?:max-)?width[:=]"?(\d+)(?:px)?', html)]
    assert widths and max(widths) <= 700


# ------------------------------------------------------------------ lists
def test_lists_report_shows_sizes_over_versions_reasons_as_text_and_dates_as_dates(demo, tmp_path):
    kq = kq_at(demo)
    assert kq("lists", "build", "--as-of", "2026-09-30").returncode in (0, 1)
    out = tmp_path / "l.xlsx"
    r = kq("report", "lists", "-o", out)
    assert r.returncode == 0, r
    versions = kq("lists", "versions", "-f", "jsonl").jsonl()
    assert len(versions) >= 2 and r.json()["version"] == versions[-1]["version"]
    book = sheets(out)
    refs = chart_refs(out)
    line = refs[0]
    assert "<c:lineChart>" in part(out, "xl/charts/chart1.xml")
    summary = book[SUMMARY]
    assert cells(summary, line[0]) == ["白名单"] and cells(summary, line[3]) == ["黑名单"]
    assert cells(summary, line[2]) == [v["whitelist_count"] for v in versions]
    assert cells(summary, line[5]) == [v["blacklist_count"] for v in versions]
    black = book["黑名单"]
    assert black[0] == ["统一社会信用代码", "企业名称", "列入日期", "预计移出日期", "列入依据"]
    shown = kq("lists", "show", "blacklist", "-f", "jsonl").jsonl()
    assert sorted(row[0] for row in black[1:]) == sorted(e["uscc"] for e in shown)
    assert all(isinstance(row[2], dt.date) for row in black[1:])                  # real Excel dates
    assert all(row[4] and not row[4].startswith(("{", "[")) and re.search(r"[\u4e00-\u9fff]", row[4])
               for row in black[1:])
    assert book["历次版本"][0][0] == "版本" and len(book["历次版本"]) == len(versions) + 1


def test_a_version_that_does_not_exist_is_refused_in_one_line(demo, tmp_path):
    r = kq_at(demo)("report", "lists", "--version", "99", "-o", tmp_path / "l.xlsx")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "version 99" in r.stderr
    assert not (tmp_path / "l.xlsx").exists()


# ------------------------------------------------------------------ visits
def test_visits_report_bars_carry_the_goal_and_match_kq_visits_coverage(demo, tmp_path):
    kq = kq_at(demo)
    out = tmp_path / "v.xlsx"
    r = kq("report", "visits", "--year", "2026", "-o", out)
    assert r.returncode == 0, r
    coverage = kq("visits", "coverage", "--year", "2026", "-f", "jsonl").jsonl()
    summary = sheets(out)[SUMMARY]
    chart = part(out, "xl/charts/chart1.xml")
    assert "<c:barChart>" in chart and "<c:lineChart>" in chart          # the bars, and the goal as a line
    refs = chart_refs(out)[0]
    specialists = [c for c in coverage if c["group"] in ("specialist", "unassigned")]   # nobody's firms too
    assert cells(summary, refs[1]) == [c["name"] or c["key"] or "(无服务专员)" for c in specialists]
    assert cells(summary, refs[2]) == [c["share"] for c in specialists]
    assert cells(summary, refs[3]) == ["目标"] and set(cells(summary, refs[5])) == {coverage[0]["goal"]}
    html_out = tmp_path / "v.html"
    assert kq("report", "visits", "--year", "2026", "-o", html_out).returncode == 0
    html = html_out.read_text(encoding="utf-8")
    assert html.count("<svg") == 2
    _self_contained(html)


# ------------------------------------------------------------------ files and errors
def test_other_extensions_are_refused_before_any_work_and_nothing_is_written(demo, tmp_path):
    for name in ("r.csv", "r.json", "r"):
        r = kq_at(demo)("report", "score", "--year", "2025", "-o", tmp_path / name)
        assert r.returncode == 2, r
        assert r.stderr.startswith("kq: error: ") and r.stderr.count("\n") == 1 and ".xlsx" in r.stderr
        assert "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kq.db"]


def test_no_run_for_the_year_is_one_line_and_exit_2(demo, tmp_path):
    r = kq_at(demo)("report", "score", "--year", "2019", "-o", tmp_path / "s.xlsx")
    assert r.returncode == 2 and "no scoring run for 2019" in r.stderr and r.stderr.count("\n") == 1


def test_the_file_is_private_and_replaced_whole_or_not_at_all(demo, tmp_path):
    kq = kq_at(demo)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "s.xlsx"
    out.write_bytes(b"the old report")
    assert kq("report", "score", "--year", "2025", "-o", out).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_bytes()[:2] == b"PK" and sorted(os.listdir(folder)) == ["s.xlsx"]   # no .tmp left
    before = out.read_bytes()
    r = _kq_with_file_limit(demo, 40_000, "report", "score", "--year", "2025", "-o", out)   # a full disk
    assert r.returncode == 2 and "s.xlsx" in r.stderr and "Traceback" not in r.stderr, r
    assert out.read_bytes() == before and sorted(os.listdir(folder)) == ["s.xlsx"]


def _kq_with_file_limit(db, limit: int, *args):
    """kq in a subprocess that cannot write a file past ``limit`` bytes (EFBIG, as on a full disk)."""
    import resource
    import signal
    import subprocess
    import sys

    def limit_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "KQ_DB": str(db), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "kqtools", *map(str, args)], capture_output=True, text=True,
                          env=env, preexec_fn=limit_files, timeout=300)


def test_a_symlink_at_the_output_is_refused_and_its_target_untouched(demo, tmp_path):
    target = tmp_path / "elsewhere.xlsx"
    target.write_bytes(b"keep me")
    link = tmp_path / "r.xlsx"
    link.symlink_to(target)
    r = kq_at(demo)("report", "score", "--year", "2025", "-o", link)
    assert r.returncode == 2 and "symbolic link" in r.stderr
    assert target.read_bytes() == b"keep me"


def test_text_from_the_database_is_escaped_in_the_page(demo, tmp_path):
    import sqlite3

    conn = sqlite3.connect(demo)
    conn.execute("UPDATE enterprises SET district = '<script>x</script>' WHERE district = '湖西街道'")
    conn.commit()
    conn.close()
    out = tmp_path / "s.html"
    assert kq_at(demo)("report", "score", "--year", "2025", "-o", out).returncode == 0
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


# ------------------------------------------------------------------ requests (issue #16)
def test_requests_report_charts_show_the_figures_of_kq_requests_stats(demo, tmp_path):
    kq = kq_at(demo)
    firm = kq("enterprises", "list", "-f", "jsonl").jsonl()[0]["uscc"]
    added = kq("requests", "add", firm, "--category", "融资", "--summary", "另一年度的诉求", "--on", "2026-02-03")
    assert added.returncode == 0, added                  # received in 2026: not in the 2025 report
    out = tmp_path / "r.xlsx"
    r = kq("report", "requests", "--year", "2025", "-o", out)
    assert r.returncode == 0, r
    stats = {s["key"]: s for s in kq("requests", "stats", "--year", "2025", "--by", "category", "-f", "jsonl").jsonl()}
    listed = kq("requests", "list", "-f", "jsonl").jsonl()
    summary = sheets(out)[SUMMARY]
    by_status, by_category, by_department = chart_refs(out)
    assert cells(summary, by_status[1])[0] == "已受理"
    received = [x for x in listed if x["received_on"].startswith("2025")]
    assert sum(cells(summary, by_status[2])) == len(received) == stats["(all)"]["received"] > 0
    categories = cells(summary, by_category[1])
    assert dict(zip(categories, cells(summary, by_category[2]))) == {
        k: v["received"] for k, v in stats.items() if k != "(all)"}
    assert cells(summary, by_department[0]) == ["按时反馈率"]
    detail = sheets(out)["诉求明细"]
    assert len(detail) - 1 == len(received) and all(isinstance(row[8], dt.date) for row in detail[1:])
    page = tmp_path / "r.html"
    assert kq("report", "requests", "--year", "2025", "-o", page).returncode == 0
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    _self_contained(html)
