"""kq report ladder / kq report targets (issue #17 item 7): the workbook's charts reference the summary
ranges and show the figures of kq ladder status, kq ladder classes and kq targets progress on the same
date; the HTML page has an <svg> per chart and refers to nothing outside."""
from __future__ import annotations

import collections

import pytest

from conftest import run_kq
from report_helpers import SUMMARY, cells, chart_refs, demo_copy, part, sheets
from test_reports import _self_contained

AS_OF = "2025-12-31"


@pytest.fixture
def demo(tmp_path):
    return demo_copy(tmp_path)


def kq_at(db):
    return lambda *args, **kw: run_kq(*args, db=db, **kw)


def series(summary, refs):
    """(categories, {series name: values}) of one chart's references (name, categories, values per series)."""
    cats = cells(summary, refs[1])
    return cats, {cells(summary, refs[i])[0]: cells(summary, refs[i + 2]) for i in range(0, len(refs), 3)}


def test_ladder_report_charts_show_kq_ladder_status_and_classes(demo, tmp_path):
    kq = kq_at(demo)
    out = tmp_path / "l.xlsx"
    r = kq("report", "ladder", "--as-of", AS_OF, "-o", out)
    assert r.returncode == 0, r
    assert r.json()["charts"] == 4 and r.json()["as_of"] == AS_OF
    by_district = kq("ladder", "status", "--as-of", AS_OF, "--by", "district", "-f", "jsonl").jsonl()
    overall = kq("ladder", "status", "--as-of", AS_OF, "-f", "jsonl").jsonl()
    classes = kq("ladder", "classes", "--as-of", AS_OF, "-f", "jsonl").jsonl()
    summary = sheets(out)[SUMMARY]
    tech, zjtx, movement, pie = chart_refs(out)
    for n in (1, 2):                                  # one stacked chart per ladder
        assert '<c:grouping val="stacked"/>' in part(out, f"xl/charts/chart{n}.xml")
    # stacked columns: one series per tier of the tech ladder, one category per district, the counts
    districts, values = series(summary, tech)
    labels = {r["tier"]: r["label"] for r in overall}
    expected = collections.defaultdict(dict)
    for row in by_district:
        if row["ladder"] == "tech" and row["count"]:
            expected[labels[row["tier"]]][row["district"] or "(未填区域)"] = row["count"]
    assert set(values) == {labels[r["tier"]] for r in overall if r["ladder"] == "tech"}
    for tier, counts in values.items():
        assert {d: n for d, n in zip(districts, counts) if n} == expected.get(tier, {}), tier
    # movement per tier: the sums over the districts are kq ladder status without --by
    tiers, moves = series(summary, movement)
    assert tiers == [r["label"] for r in overall]
    assert moves["新进入"] == [r["new"] for r in overall] and moves["晋级"] == [r["promoted"] for r in overall]
    assert moves["流失"] == [r["lost"] for r in overall] and moves["半年内到期"] == [r["at_risk"] for r in overall]
    assert sum(moves["流失"]) > 0 and sum(moves["半年内到期"]) > 0          # the demo has both
    # the pie: firms per class
    names, firms = series(summary, pie)
    assert names == ["一类", "二类", "三类"]
    per_class = collections.Counter(c["class"] for c in classes)
    assert list(firms.values())[0] == [per_class[1], per_class[2], per_class[3]]
    # the detail sheets: every district row with firms, every firm in a class
    detail = sheets(out)
    assert len(detail["培育分类企业"]) - 1 == len(classes)
    assert len(detail["梯次明细(按区域)"]) - 1 == sum(1 for r in by_district if r["count"] or r["previous"])


def test_targets_report_bars_line_and_pace_match_kq_targets_progress(demo, tmp_path):
    kq = kq_at(demo)
    out = tmp_path / "t.xlsx"
    r = kq("report", "targets", "--as-of", AS_OF, "-o", out)
    assert r.returncode == 0, r
    progress = kq("targets", "progress", "--as-of", AS_OF, "-f", "jsonl").jsonl()
    summary = sheets(out)[SUMMARY]
    chart = part(out, "xl/charts/chart1.xml")
    assert "<c:barChart>" in chart and "<c:lineChart>" in chart          # current and target, the line
    (refs,) = chart_refs(out)
    names, values = series(summary, refs)
    assert len(names) == len(progress) and names[1].startswith("高新技术企业")
    assert values["当前数"] == [p["current"] for p in progress]
    assert values["目标数"] == [p["target"] for p in progress]
    assert values["预期值"] == [pytest.approx(p["expected"]) for p in progress]
    # the gap and pace table below the chart's table
    start = next(i for i, row in enumerate(summary) if row[0] == "目标差距与进度") + 2
    pace = {"ahead": "超前", "on_pace": "符合", "behind": "滞后"}
    rows = summary[start:start + len(progress)]
    assert [row[3] for row in rows] == [p["gap"] for p in progress]
    assert [row[6] for row in rows] == [pace[p["pace"]] for p in progress]
    facts = {row[0]: row[1] for row in summary[3:8]}
    assert facts["进度滞后"] == sum(p["pace"] == "behind" for p in progress)


def test_both_pages_have_an_svg_per_chart_and_refer_to_nothing_outside(demo, tmp_path):
    kq = kq_at(demo)
    for name, charts in (("ladder", 4), ("targets", 1)):
        page = tmp_path / f"{name}.html"
        r = kq("report", name, "--as-of", AS_OF, "-o", page)
        assert r.returncode == 0, r
        html = page.read_text(encoding="utf-8")
        assert html.count("<svg") == html.count("</svg>") == r.json()["charts"] == charts
        _self_contained(html)


def test_targets_report_without_targets_is_one_line_and_nothing_written(tmp_path):
    kq = kq_at(tmp_path / "empty.db")
    out = tmp_path / "t.xlsx"
    r = kq("report", "targets", "-o", out)
    assert r.returncode == 2 and "no targets yet" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob("t.xlsx*"))
    r = kq("report", "ladder", "--as-of", "2025-13-01", "-o", out)
    assert r.returncode == 2 and "--as-of" in r.stderr and not out.exists()


def test_the_monthly_briefing_makes_both_as_of_its_day_when_named_in_params_reports(demo):
    import datetime as dt

    from kqtools.reports.briefing import make_briefing
    from kqtools.storage import open_db

    db = open_db(demo)
    reports, problems = make_briefing(db, ["ladder", "targets"], dt.date(2025, 12, 31))
    assert problems == [] and [r.name for r in reports] == ["ladder", "targets"]
    assert all(r.params["as_of"] == AS_OF for r in reports)
    assert "2025-12-31" in reports[0].title and reports[1].text_lines[0].count("/") == len(
        reports[1].table("targets_progress").rows)
