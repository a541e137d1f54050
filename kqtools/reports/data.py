"""The reports' content, read through the capabilities' own services (no SQL here).

Each report is a function ``(db, **params) -> Report`` registered in :data:`kqtools.reports.REPORTS`:

* :func:`score_report`: ``storage.scoring.get_run`` / ``results`` — grades by district, grade shares,
  the score distribution, the results, the public list (公示名单) and the class T firms;
* :func:`lists_report`: ``storage.lists.versions`` / ``version_info`` / ``entries`` / ``diff`` — list sizes
  over the versions, entries by reason, both lists and the version's changes;
* :func:`visits_report`: ``storage.visits.coverage`` / ``due_visits`` — coverage by specialist and by
  district against the goal, and the firms not yet visited this period.

The arithmetic of the summary tables is :mod:`kqtools.reports.summaries`; every text shown comes from
:mod:`kqtools.reports.labels`. Big tables are functions returning a fresh iterator over the service's
rows, so 100,000 results are streamed into the workbook, never held in memory twice.
"""
from __future__ import annotations

import datetime as dt
from itertools import count

from ..errors import KqtoolsError
from ..i18n import _
from . import summaries as S
from .labels import label as L, optional
from .model import Chart, Column, Report, Table


class ReportError(KqtoolsError):
    """A report that cannot be made: nothing to report on (no run, no list), a bad option."""


def _district(value) -> str:
    return value or L("value.unknown_district")


def _pct(x) -> str:
    return f"{x:.0%}" if isinstance(x, (int, float)) else str(x)


# ==================================================================== score
def _group_labels(db, run: dict) -> dict[str, str]:
    """Group id -> the rule file's label (规上企业…) for the run's rules, else the shipped names."""
    from ..rules import parse

    from ..storage.scoring import run_text

    text = run_text(db, run["id"])
    labels = {}
    if text:
        try:
            data = parse(text, "json" if text.lstrip().startswith("{") else "toml", run.get("rules_name") or "run")
            labels = {g["id"]: g.get("label") or g["id"] for g in data.get("groups", []) if "id" in g}
        except KqtoolsError:
            labels = {}
    return labels


def score_report(db, year: int | None = None, run: int | None = None) -> Report:
    """The year's evaluation (the latest run of ``year``, or run ``run``) for leaders."""
    from ..storage.scoring import get_run, results

    info = get_run(db, run, year)
    run_id = info["id"]
    groups = _group_labels(db, info)

    def group_label(gid):
        return groups.get(gid) or optional(f"group.{gid}", gid or "")

    grades = S.grade_order([*info["counts"], *(g for r in (info.get("group_counts") or {}).values() for g in r)])
    pairs, scores = [], {}
    for r in results(db, run_id):
        pairs.append((_district(r["district"]), r["grade"]))
        if r["grade"] != S.NOT_GRADED and r["score"] is not None:
            scores.setdefault(group_label(r["group"]), []).append(r["score"])
    by_district = S.count_by(pairs, grades, key_name="district")
    counts = {g: n for g, n in info["counts"].items()}
    share_rows = [{"grade": optional(f"grade.{x['key']}", x["key"]), **x} for x in S.shares(counts, grades)]
    bins, series = S.histogram(scores)
    graded = sum(n for g, n in counts.items() if g != S.NOT_GRADED)

    grade_cols = tuple(Column(g, optional(f"grade.{g}", g), "int") for g in grades)
    summary = [
        Table("grades_by_district", L("table.grades_by_district"),
              (Column("district", L("col.district")), *grade_cols, Column("total", L("col.total"), "int")),
              by_district),
        Table("grade_shares", L("table.grade_shares"),
              (Column("grade", L("col.grade")), Column("firms", L("col.firms"), "int"),
               Column("share", L("col.share"), "percent")), share_rows),
        Table("score_histogram", L("table.score_histogram"),
              (Column("bin", L("col.bin")), *(Column(s, s, "int") for s in series),
               Column("total", L("col.total"), "int")), bins, note=L("note.histogram")),
    ]
    charts = [
        Chart("grades_by_district", "stacked", L("chart.grades_by_district"), "grades_by_district", "district",
              tuple(grades)),
        Chart("grade_shares", "pie", L("chart.grade_shares"), "grade_shares", "grade", ("firms",)),
        Chart("score_histogram", "histogram", L("chart.score_histogram"), "score_histogram", "bin",
              tuple(series) or ("total",)),
    ]

    def remark(r):
        parts = [L(k, text=r[f]) for k, f in (("remark.bonus", "bonus_reason"), ("remark.veto", "veto_reason"),
                                                ("remark.not_graded", "not_graded_reason")) if r.get(f)]
        return ";".join(parts) or None

    def result_rows():
        for r in results(db, run_id):
            yield {**r, "group": group_label(r["group"]), "district": _district(r["district"]), "remark": remark(r),
                   "bonus_points": r["bonus_points"] or None}

    def public_rows():
        seq = count(1)
        for r in results(db, run_id):
            if r["grade"] != S.NOT_GRADED:
                yield {"seq": next(seq), "rank": r["rank"], "name": r["name"], "uscc": r["uscc"],
                       "district": _district(r["district"]), "grade": r["grade"], "group": group_label(r["group"])}

    def class_t_rows():
        seq = count(1)
        for r in results(db, run_id, grade=S.NOT_GRADED):
            yield {"seq": next(seq), "name": r["name"], "uscc": r["uscc"], "district": _district(r["district"]),
                   "grade": r["grade"], "reason": r["not_graded_reason"]}

    details = [
        Table("public_list", L("sheet.public_list"), (
            Column("seq", L("col.seq"), "int"), Column("rank", L("col.rank"), "int"), Column("name", L("col.name")),
            Column("uscc", L("col.uscc")), Column("district", L("col.district")), Column("grade", L("col.grade")),
            Column("group", L("col.group"))), public_rows),
        Table("results", L("sheet.score_results"), (
            Column("group", L("col.group")), Column("rank", L("col.rank"), "int"), Column("uscc", L("col.uscc")),
            Column("name", L("col.name")), Column("district", L("col.district")),
            Column("base_score", L("col.base_score"), "score"), Column("bonus_points", L("col.bonus_points"), "number"),
            Column("score", L("col.score"), "score"), Column("grade_by_rank", L("col.grade_by_rank")),
            Column("grade", L("col.grade")), Column("remark", L("col.remark"))), result_rows),
    ]
    if counts.get(S.NOT_GRADED):
        details.append(Table("class_t", L("sheet.class_t"), (
            Column("seq", L("col.seq"), "int"), Column("name", L("col.name")), Column("uscc", L("col.uscc")),
            Column("district", L("col.district")), Column("grade", L("col.grade")), Column("reason", L("col.reason"))),
            class_t_rows, note=L("note.class_t")))
    facts = [(L("fact.year"), info["year"], "text"), (L("fact.run"), run_id, "int"),
             (L("fact.rules"), info["rules_name"], "text"), (L("fact.firms"), info["firms"], "int"),
             (L("fact.graded"), graded, "int"), (L("fact.class_t"), counts.get(S.NOT_GRADED, 0), "int")]
    facts += [(L("fact.grade_count", grade=g), counts.get(g, 0), "int") for g in grades if g != S.NOT_GRADED]
    title = L("score.title", year=info["year"])
    text = [title + ":" + ",".join(f"{k} {v}" for k, v, _ in facts[3:])]
    return Report("score", title, L("score.subtitle", run=run_id, rules=info["rules_name"],
                                    created_at=info["created_at"]),
                  facts, summary, charts, details, notes=[L("note.class_t")],
                  params={"year": info["year"], "run": run_id}, text_lines=text).check()


# ==================================================================== lists
def _rule_titles(info: dict | None) -> dict[str, str]:
    """Rule id -> the title in the version's rule file, up to its first colon (纳税信用D级…)."""
    from ..rules import parse

    text = (info or {}).get("rules_text")
    if not text:
        return {}
    try:
        data = parse(text, "json" if text.lstrip().startswith("{") else "toml", info.get("rules_name") or "lists")
    except KqtoolsError:
        return {}
    return {r["id"]: str(r.get("title") or r["id"]).split(":")[0].strip() for r in data.get("rules", []) if "id" in r}


def _reason_label(rule: str, titles: dict) -> str:
    return optional(f"reason.{rule}", titles.get(rule, rule))


def reason_text(r: dict, titles: dict | None = None) -> str:
    """One readable Chinese phrase for one reason of a list entry (the stored JSON, never shown raw)."""
    titles = titles or {}
    rule = str(r.get("rule", ""))
    what = _reason_label(rule, titles)
    if rule == "tax_rating":
        return L("reason.tax_years", years="、".join(f"{x.get('year')}年{x.get('grade')}级" for x in r.get("records", [])))
    if rule == "designation":
        items = "、".join(optional(f"level.{x.get('level')}", "") + optional(f"kind.{x.get('kind')}", str(x.get("kind")))
                         + (f"至{x['expires_on']}" if x.get("expires_on") else "") for x in r.get("records", []))
        return L("reason.designations", items=items)
    if rule.startswith("override") and "override" in r:
        return L("reason.override", what=what, id=r.get("override"), reason=r.get("reason") or "")
    if r.get("from"):
        ref = f"({r['reference']})" if r.get("reference") else ""
        if r.get("to"):
            return L("reason.from_to", what=what + ref, start=r["from"], end=r["to"])
        return L("reason.from_open", what=what + ref, start=r["from"])
    if r.get("reason"):
        return f"{what}:{r['reason']}"
    return what


def reasons_text(reasons, titles: dict | None = None) -> str:
    return ";".join(reason_text(r, titles) for r in reasons or ())


#: versions shown in the size table and chart (a nightly rebuild makes ~30 a month)
MAX_VERSIONS = 60


def lists_report(db, version: int | None = None) -> Report:
    """Both credit lists of a version (default the latest): sizes over the versions, reasons, entries."""
    from ..storage.lists import diff, entries, version_info, versions

    all_versions = versions(db)
    if not all_versions:
        raise ReportError(_("no credit list has been built yet (kq lists build)"))
    known = [v["version"] for v in all_versions]
    version = known[-1] if version is None else version
    if version not in known:
        raise ReportError(_("no credit list version {version} (versions {value}–{value2}; kq lists versions)").format(
                              version=version, value=known[0], value2=known[-1]))
    info = version_info(db, version) or {}
    titles = _rule_titles(info)
    upto = [v for v in all_versions if v["version"] <= version]
    shown = upto[-MAX_VERSIONS:]
    dates = [v["as_of"] for v in shown]
    size_rows = [{"label": v["as_of"] if dates.count(v["as_of"]) == 1 else f"{v['as_of']} #{v['version']}",
                  "version": v["version"], "as_of": v["as_of"], "whitelist": v["whitelist_count"],
                  "blacklist": v["blacklist_count"], "entered": v["entered_count"], "left": v["left_count"]}
                 for v in shown]
    lists = {name: entries(db, name, version) for name in ("whitelist", "blacklist")}
    pairs = [(_reason_label(rule, titles), name) for name, rows in lists.items() for e in rows
             for rule in dict.fromkeys(str(r.get("rule", "")) for r in e["reasons"])]
    reason_rows = S.count_by(pairs, ("whitelist", "blacklist"), key_name="reason")
    previous = max((k for k in known if k < version), default=None)
    changes = []
    if previous is not None:
        for name in ("whitelist", "blacklist"):
            for c in diff(db, name, previous, version):
                changes.append({"list": L(f"list.{name}"), "change": L(f"value.{c['change']}"), "uscc": c["uscc"],
                                "name": c["name"], "since": c["since"], "until": c["until"],
                                "reasons": reasons_text(c.get("why"), titles)})

    size_cols = (Column("label", L("col.as_of")), Column("version", L("col.version"), "int"),
                 Column("whitelist", L("col.whitelist"), "int"), Column("blacklist", L("col.blacklist"), "int"),
                 Column("entered", L("col.entered"), "int"), Column("left", L("col.left"), "int"))
    summary = [
        Table("list_sizes", L("table.list_sizes"), size_cols, size_rows,
              note=L("note.versions_cut", n=MAX_VERSIONS) if len(upto) > MAX_VERSIONS else None),
        Table("entries_by_reason", L("table.entries_by_reason"), (
            Column("reason", L("col.reason")), Column("whitelist", L("col.whitelist"), "int"),
            Column("blacklist", L("col.blacklist"), "int"), Column("total", L("col.total"), "int")), reason_rows),
    ]
    charts = [Chart("list_sizes", "line", L("chart.list_sizes"), "list_sizes", "label", ("whitelist", "blacklist")),
              Chart("entries_by_reason", "bar", L("chart.entries_by_reason"), "entries_by_reason", "reason",
                    ("whitelist", "blacklist"))]
    entry_cols = (Column("uscc", L("col.uscc")), Column("name", L("col.name")), Column("since", L("col.since"), "date"),
                  Column("until", L("col.until"), "date"), Column("reasons", L("col.reasons")))

    def entry_rows(name):
        return lambda: ({**e, "reasons": reasons_text(e["reasons"], titles)} for e in lists[name])

    details = [
        Table("whitelist", L("sheet.whitelist"), entry_cols, entry_rows("whitelist")),
        Table("blacklist", L("sheet.blacklist"), entry_cols, entry_rows("blacklist")),
        Table("changes", L("sheet.changes"), (Column("list", L("col.list")), Column("change", L("col.change")),
                                              *entry_cols), changes),
        Table("versions", L("sheet.versions"), (
            Column("version", L("col.version"), "int"), Column("as_of", L("col.as_of"), "date"),
            Column("whitelist", L("col.whitelist"), "int"), Column("blacklist", L("col.blacklist"), "int"),
            Column("entered", L("col.entered"), "int"), Column("left", L("col.left"), "int")),
            [{"version": v["version"], "as_of": v["as_of"], "whitelist": v["whitelist_count"],
              "blacklist": v["blacklist_count"], "entered": v["entered_count"], "left": v["left_count"]} for v in upto]),
    ]
    entered = sum(1 for c in changes if c["change"] == L("value.entered"))
    left = len(changes) - entered
    facts = [(L("fact.version"), version, "int"), (L("fact.as_of"), info.get("as_of"), "date"),
             (L("fact.whitelist"), len(lists["whitelist"]), "int"), (L("fact.blacklist"), len(lists["blacklist"]), "int"),
             (L("fact.entered"), entered, "int"), (L("fact.left"), left, "int")]
    title = L("lists.title", version=version)
    text = [title + ":" + ",".join(f"{k} {v}" for k, v, _ in facts[1:])]
    return Report("lists", title, L("lists.subtitle", as_of=info.get("as_of"), built_at=info.get("built_at"),
                                    rules=info.get("rules_name")),
                  facts, summary, charts, details, params={"version": version}, text_lines=text).check()


# ==================================================================== visits
def visits_report(db, year: int | None = None, today: dt.date | None = None, rules: str | None = None) -> Report:
    """Visit coverage of ``year`` (default this year) as of its last day or ``today``, against the goal."""
    from ..clock import today as clock_today
    from ..rules import RulesError
    from ..storage.scope import load_policy
    from ..storage.visits import coverage, due_visits

    today = today or clock_today()
    year = year or today.year
    try:
        _, policy = load_policy(rules)
    except RulesError as exc:
        raise ReportError(str(exc)) from None
    rows = coverage(db, year, today, policy)
    total = next(r for r in rows if r["group"] == "total")
    as_of = dt.date.fromisoformat(total["as_of"])
    spec_rows = [{**r, "label": r.get("name") or r.get("key") or L("value.unassigned"),
                  "met_text": L("value.yes") if r["met"] else L("value.no")}
                 for r in rows if r["group"] in ("specialist", "unassigned")]
    dist_rows = [{**r, "label": _district(r["key"]), "met_text": L("value.yes") if r["met"] else L("value.no")}
                 for r in rows if r["group"] == "district"]
    cov_cols = (Column("firms", L("col.served"), "int"), Column("visited", L("col.visited"), "int"),
                Column("share", L("col.coverage"), "percent"), Column("goal", L("col.goal"), "percent"),
                Column("met_text", L("col.met")), Column("short_by", L("col.short_by"), "int"))
    summary = [
        Table("coverage_specialist", L("table.coverage_specialist"),
              (Column("label", L("col.specialist")), Column("key", L("col.specialist_id")), *cov_cols), spec_rows,
              note=L("note.coverage")),
        Table("coverage_district", L("table.coverage_district"), (Column("label", L("col.district")), *cov_cols),
              dist_rows),
    ]
    charts = [Chart("coverage_specialist", "bar", L("chart.coverage_specialist"), "coverage_specialist", "label",
                    ("share",), goal="goal", percent=True),
              Chart("coverage_district", "bar", L("chart.coverage_district"), "coverage_district", "label",
                    ("share",), goal="goal", percent=True)]
    due = due_visits(db, as_of, policy)
    details = [Table("visits_due", L("sheet.visits_due"), (
        Column("specialist_name", L("col.specialist")), Column("specialist_id", L("col.specialist_id")),
        Column("uscc", L("col.uscc")), Column("name", L("col.name")), Column("district", L("col.district")),
        Column("last_visited_on", L("col.last_visited_on"), "date"),
        Column("days_since_last_visit", L("col.days_since"), "int"),
        Column("period_ends_on", L("col.period_ends_on"), "date")),
        [{**d, "district": _district(d.get("district")),
          "specialist_name": d.get("specialist_name") or L("value.unassigned")} for d in due])]
    met = sum(1 for r in spec_rows if r["met"])
    facts = [(L("fact.visits_as_of"), as_of.isoformat(), "date"), (L("fact.served"), total["firms"], "int"),
             (L("fact.visited"), total["visited"], "int"), (L("fact.share"), total["share"], "percent"),
             (L("fact.goal"), total["goal"], "percent"),
             (L("fact.specialists_met"), f"{met}/{len(spec_rows)}", "text"), (L("fact.due"), len(due), "int")]
    title = L("visits.title", year=year)
    text = [title + ":" + ",".join(f"{k} {_pct(v) if kind == 'percent' else v}" for k, v, kind in facts)]
    return Report("visits", title, L("visits.subtitle", as_of=as_of.isoformat(), goal=_pct(total["goal"])),
                  facts, summary, charts, details, params={"year": year, "as_of": as_of.isoformat()},
                  text_lines=text).check()
