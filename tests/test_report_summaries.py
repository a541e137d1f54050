"""The reports' arithmetic and drawing, without a database: properties of the bins and counts, and the
SVG the page carries."""
from __future__ import annotations

import math
import re
from collections import Counter

from hypothesis import given, strategies as st

from kqtools.reports import summaries as S, svg

scores = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.dictionaries(st.sampled_from(["规上企业", "规下企业", "其他"]), st.lists(scores, max_size=60), min_size=1))
def test_every_score_falls_in_exactly_one_bin_and_the_bins_are_round_and_contiguous(values):
    rows, series = S.histogram(values)
    everything = [v for vs in values.values() for v in vs]
    assert sum(r["total"] for r in rows) == len(everything)
    for s in series:
        assert sum(r[s] for r in rows) == len(values[s])
    for a, b in zip(rows, rows[1:]):
        assert a["hi"] == b["lo"] and a["lo"] < a["hi"]
    if everything:
        assert rows[0]["lo"] <= min(everything) and rows[-1]["hi"] >= max(everything)
        for v in everything:       # [lo, hi), the last bin closed at the top
            i = S.bin_index(v, [rows[0]["lo"]] + [r["hi"] for r in rows])
            assert rows[i]["lo"] <= v and (v < rows[i]["hi"] or (i == len(rows) - 1 and v == rows[i]["hi"]))
    step = rows[0]["hi"] - rows[0]["lo"]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5, 10))
    assert len(rows) <= 12


@given(st.lists(st.tuples(st.sampled_from(["湖西街道", "月亮湾", ""]), st.sampled_from("ABCDT")), max_size=80))
def test_counts_by_district_add_up_to_the_firms_and_the_largest_district_comes_first(pairs):
    rows = S.count_by(pairs, list("ABCDT"), key_name="district")
    assert sum(r["total"] for r in rows) == len(pairs)
    expected = Counter(pairs)
    for r in rows:
        assert r["total"] == sum(r[g] for g in "ABCDT")
        assert all(r[g] == expected[(r["district"], g)] for g in "ABCDT")
    assert [r["total"] for r in rows] == sorted((r["total"] for r in rows), reverse=True)


@given(st.dictionaries(st.sampled_from("ABCDT"), st.integers(0, 10_000)))
def test_shares_sum_to_one_and_class_t_comes_last(counts):
    order = S.grade_order(["T", *counts, "A"])
    assert order[-1] == "T" and order.count("T") == 1
    rows = S.shares(counts, order)
    if sum(counts.values()):
        assert math.isclose(sum(r["share"] for r in rows), 1, abs_tol=0.001 * len(rows))


def test_svg_charts_escape_text_stay_within_the_page_width_and_draw_one_shape_per_value():
    bars = svg.bar_chart("各区域<分布>", ["湖西&街道", "月亮湾"], [("A", [3, 4]), ("B", [1, 0])], stacked=True)
    assert "湖西&amp;街道" in bars and "湖西&街道" not in bars and "<分布>" not in bars and "&lt;分布&gt;" in bars
    assert len(re.findall(r"<rect [^>]*><title>", bars)) == 4
    assert int(re.search(r'<svg width="(\d+)"', bars).group(1)) <= 700
    pie = svg.pie_chart("占比", ["A", "B", "C"], [1, 1, 2], unit="家")
    assert len(re.findall(r"<path ", pie)) == 3 and "50.0%" in pie
    whole = svg.pie_chart("占比", ["A", "B"], [5, 0])
    assert "<circle" in whole                       # one slice of 100% is a circle, not a degenerate arc
    line = svg.line_chart("规模", ["2026-06-30", "2026-07-01"], [("白名单", [55, 57]), ("黑名单", [6, 5])])
    assert line.count("<polyline") == 2
    goal = svg.bar_chart("覆盖率", ["张三"], [("覆盖率", [0.25])], goal=[0.3], goal_name="目标", percent=True)
    assert "stroke-dasharray" in goal and "30%" in goal
    assert "(无数据)" in svg.bar_chart("空", [], [], empty="(无数据)")


def test_spliced_detail_rows_read_back_as_written(tmp_path):
    """The detail rows bypass XlsxWriter (kqtools.reports.fastsheet): Excel's escapes, types and widths."""
    import datetime as dt

    from python_calamine import CalamineWorkbook

    from kqtools.reports.model import Column, Report, Table
    from kqtools.reports.xlsx import write_workbook

    rows = [{"name": "<甲&乙>公司", "n": 12345, "share": 0.375, "day": "2026-06-30", "flag": True},
            {"name": " 前后空格 ", "n": 2.5, "share": None, "day": "not a date", "flag": False},
            {"name": "_x0041_ 与\x01控制符", "n": None, "share": 1, "day": dt.date(2024, 2, 29), "flag": None}]
    table = Table("t", "明细", (Column("name", "名称"), Column("n", "数量", "number"), Column("share", "占比", "percent"),
                               Column("day", "日期", "date"), Column("flag", "是否", "bool")), rows)
    out = tmp_path / "t.xlsx"
    written = write_workbook(Report("t", "测试", details=[table]), str(out))
    assert written["rows"] == {"明细": 3}
    got = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("明细").to_python()
    assert got[0] == ["名称", "数量", "占比", "日期", "是否"]
    assert got[1] == ["<甲&乙>公司", 12345.0, 0.375, dt.date(2026, 6, 30), "是"]
    assert got[2] == [" 前后空格 ", 2.5, "", "not a date", "否"]
    assert got[3][0] == "_x0041_ 与\x01控制符" and got[3][3] == dt.date(2024, 2, 29)
    from report_helpers import sheet_xml

    xml = sheet_xml(out, 2)
    assert '<dimension ref="A1:E4"/>' in xml and '<autoFilter ref="A1:E4"/>' in xml
