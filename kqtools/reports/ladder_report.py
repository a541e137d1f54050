"""The growth-ladder reports (issue #17): ``ladder`` (firms per tier by district, the year's movement,
the cultivation classes) and ``targets`` (where each target stands against its straight line).

Registered as ``ladder`` and ``targets`` in :data:`kqtools.reports.REPORTS`. The figures are those of
``kq ladder status --by district``, ``kq ladder classes`` and ``kq targets progress`` on the same date:
each report makes the service calls once (the ladder's totals are the sums of its district rows, so
the million-firm pass runs once) and only arranges the rows.
"""
from __future__ import annotations

import datetime as dt

from .labels import label as L, optional
from .model import Chart, Column, Report, Table

_MOVES = ("count", "previous", "new", "promoted", "demoted", "lost", "moved_up", "at_risk")


def _day(as_of) -> dt.date:
    from ..clock import today

    if as_of is None:
        return today()
    return as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))


def _district(d) -> str:
    return L("value.unknown_district") if d in (None, "") else str(d)


def _ladder_name(lad) -> str:
    return optional(f"ladder.{lad.id}", lad.label)


def ladder_report(db, as_of=None, rules: str | None = None) -> Report:
    """Firms per tier by district (stacked columns per ladder), the movement per tier since a year
    earlier, and the cultivation classes (pie) on ``as_of`` (default today)."""
    from ..storage.ladder import class_counts, cultivation_classes, ladder_status, load_setup

    day = _day(as_of)
    setup = load_setup(rules)
    status = ladder_status(db, day, by_district=True, rules_name=rules)
    summary, charts = [], []
    moves: list[dict] = []
    for lad in setup.rules.ladders:
        rows = [r for r in status.rows if r["ladder"] == lad.id]
        districts: dict = {}
        for r in rows:
            d = districts.setdefault(r["district"], {"district": _district(r["district"])})
            d[r["tier"]] = r["count"]
        table_rows = sorted((d for d in districts.values() if any(d.get(t.id) for t in lad.tiers)),
                            key=lambda d: -sum(d.get(t.id, 0) for t in lad.tiers))
        for d in table_rows:
            d["total"] = sum(d.get(t.id, 0) for t in lad.tiers)
        key = f"ladder_{lad.id}_by_district"
        summary.append(Table(key, L("table.ladder_by_district", ladder=_ladder_name(lad)),
                             (Column("district", L("col.district")),
                              *(Column(t.id, t.label, "int") for t in lad.tiers),
                              Column("total", L("col.total"), "int")), table_rows))
        charts.append(Chart(key, "stacked", L("chart.ladder_by_district", ladder=_ladder_name(lad)), key, "district",
                            tuple(t.id for t in lad.tiers)))
        for t in lad.tiers:
            m = {"ladder": _ladder_name(lad), "tier": t.id, "label": t.label, **{k: 0 for k in _MOVES}}
            for r in rows:
                if r["tier"] == t.id:
                    for k in _MOVES:
                        m[k] += r[k]
            moves.append(m)
    summary.append(Table("ladder_movement", L("table.ladder_movement", since=status.compared_with.isoformat()),
                         (Column("ladder", L("col.ladder")), Column("label", L("col.tier")),
                          *(Column(k, L(f"col.move_{k}"), "int") for k in _MOVES)), moves,
                         note=L("note.ladder_movement")))
    charts.append(Chart("ladder_movement", "bar", L("chart.ladder_movement"), "ladder_movement", "label",
                        ("new", "promoted", "lost", "at_risk")))
    classes = cultivation_classes(db, day, rules)
    per_class = class_counts(classes)
    class_rows = [{"class": c.number, "label": c.label.split("：")[0].split(":")[0],
                   "firms": per_class.get(c.number, {}).get("firms", 0)} for c in setup.rules.classes]
    summary.append(Table("cultivation_classes", L("table.cultivation_classes"),
                         (Column("label", L("col.class")), Column("firms", L("col.firms"), "int")), class_rows,
                         note=L("note.cultivation_classes")))
    charts.append(Chart("cultivation_classes", "pie", L("chart.cultivation_classes"), "cultivation_classes", "label",
                        ("firms",)))
    tier_labels = {t: v.label for t, v in setup.rules.tiers().items()}
    ladder_names = {lad.id: _ladder_name(lad) for lad in setup.rules.ladders}
    details = [
        Table("ladder_status", L("sheet.ladder_status"), (
            Column("ladder", L("col.ladder")), Column("tier", L("col.tier")), Column("district", L("col.district")),
            *(Column(k, L(f"col.move_{k}"), "int") for k in _MOVES)),
            lambda: ({**r, "ladder": ladder_names.get(r["ladder"], r["ladder"]),
                      "tier": tier_labels.get(r["tier"], r["tier"]), "district": _district(r["district"])}
                     for r in status.rows if r["count"] or r["previous"])),
        Table("cultivation_class_firms", L("sheet.cultivation_classes"), (
            Column("class", L("col.class"), "int"), Column("uscc", L("col.uscc")), Column("name", L("col.name")),
            Column("district", L("col.district")), Column("reason", L("col.reason")),
            Column("recognized_on", L("col.recognized_on"), "date"), Column("expires_on", L("col.expires_on"), "date")),
            classes),
    ]
    totals = status.totals()
    facts = [(L("fact.as_of"), day.isoformat(), "date"), (L("fact.compared_with"), status.compared_with.isoformat(),
                                                          "date")]
    for lad in setup.rules.ladders:
        t = totals.get(lad.id, {"count": 0, "previous": 0, "at_risk": 0})
        facts.append((L("fact.on_ladder", ladder=_ladder_name(lad)), t["count"], "int"))
    facts.append((L("fact.at_risk"), sum(t["at_risk"] for t in totals.values()), "int"))
    facts += [(c["label"], c["firms"], "int") for c in class_rows]
    title = L("ladder.title", date=day.isoformat())
    shown = [f"{k} {v}" for k, v, kind in facts[2:]]
    return Report("ladder", title, L("ladder.subtitle", since=status.compared_with.isoformat(), rules=setup.name),
                  facts, summary, charts, details, params={"as_of": day.isoformat()},
                  text_lines=[title + ":" + ",".join(shown)]).check()


def targets_report(db, as_of=None, rules: str | None = None) -> Report:
    """Each stored target on ``as_of`` (default today): current against target, with the straight
    line's expected value (columns and a line), and the gap and pace table; by district in detail."""
    from ..storage.ladder import load_setup
    from ..storage.targets import target_progress

    day = _day(as_of)
    setup = load_setup(rules)
    progress = target_progress(db, day, ladder_rules=rules)
    tiers = setup.rules.tiers()

    def name(r) -> str:
        what = "、".join(tiers[t].label if t in tiers else t for t in str(r["tier"]).split("+"))
        where = "" if r["district"] in (None, "") else f"({r['district']})"
        return f"{what}{where} {r['target_year']}"

    def pace(r) -> dict:
        return {**r, "label": name(r), "pace": optional(f"pace.{r['pace']}", r["pace"] or "")}

    rows = [pace(r) for r in progress.rows]
    numbers = (Column("baseline", L("col.baseline"), "int"), Column("current", L("col.current"), "int"),
               Column("target", L("col.target"), "int"), Column("expected", L("col.expected"), "number"))
    summary = [
        Table("targets_progress", L("table.targets_progress"), (Column("label", L("col.target_name")), *numbers),
              rows, note=L("note.targets_line")),
        Table("targets_pace", L("table.targets_pace"), (
            Column("label", L("col.target_name")), Column("baseline_year", L("col.baseline_year"), "int"),
            Column("target_year", L("col.target_year"), "int"), Column("gap", L("col.gap"), "int"),
            Column("needed_per_year", L("col.needed_per_year"), "number"),
            Column("years_left", L("col.years_left"), "number"), Column("pace", L("col.pace"))), rows),
    ]
    charts = [Chart("targets_progress", "bar", L("chart.targets_progress"), "targets_progress", "label",
                    ("current", "target"), goal="expected")]
    detail_rows = [pace(r) for r in target_progress(db, day, by_district=True, ladder_rules=rules).rows]
    details = [Table("targets_by_district", L("sheet.targets_by_district"), (
        Column("label", L("col.target_name")), Column("district", L("col.district")), *numbers,
        Column("gap", L("col.gap"), "int"), Column("needed_per_year", L("col.needed_per_year"), "number"),
        Column("pace", L("col.pace")), Column("note", L("col.remark"))),
        [{**r, "district": _district(r["district"])} for r in detail_rows])]
    counts = progress.counts()
    facts = [(L("fact.as_of"), day.isoformat(), "date"), (L("fact.targets"), len(rows), "int"),
             *((L(f"fact.pace_{k}"), v, "int") for k, v in counts.items())]
    title = L("targets.title", date=day.isoformat())
    lines = [f"{r['label']}: {r['current']}/{r['target']}, {r['pace']}" for r in rows]
    return Report("targets", title, L("targets.subtitle"), facts, summary, charts, details,
                  params={"as_of": day.isoformat()}, text_lines=[title + ":" + ";".join(lines)]).check()
