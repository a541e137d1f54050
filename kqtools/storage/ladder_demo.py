"""The growth-ladder step of ``kq demo``: the park's cultivation pool and targets, then ladder status,
cultivation classes and targets progress on a fixed date (``fixtures/demo/ladder/``, made by
``tools/make_ladder_demo.py``). Told in the language of the run; in Chinese a tier is shown by its
label in the ladder rules (高新技术企业), in English by its id (hte)."""
from __future__ import annotations

import datetime as dt

from ..i18n import DEFAULT, _, current, display_width, ngettext, pad, pgettext

DEMO_AS_OF = "2025-12-31"
#: the status table's columns: (field, header, width, alignment); the headers are short English words
_STATUS_TABLE = (("count", "count", 5), ("previous", "prev", 5), ("new", "new", 4), ("promoted", "prom", 4),
                  ("demoted", "dem", 4), ("lost", "lost", 4), ("moved_up", "up", 4), ("at_risk", "risk", 4))


def demo_step(db, echo) -> None:
    """The ``kq demo`` step (registered in ``kqtools.cli.demo.STEPS``)."""
    for line in run_demo(db, dt.date.fromisoformat(DEMO_AS_OF)):
        echo(line)


def _header(word: str) -> str:
    return {"ladder": pgettext("ladder demo", "ladder"), "tier": pgettext("ladder demo", "tier"),
            "count": pgettext("ladder demo", "count"), "prev": pgettext("ladder demo", "prev"),
            "new": pgettext("ladder demo", "new"), "prom": pgettext("ladder demo", "prom"),
            "dem": pgettext("ladder demo", "dem"), "lost": pgettext("ladder demo", "lost"),
            "up": pgettext("ladder demo", "up"), "risk": pgettext("ladder demo", "risk")}[word]


def _pace(value: str) -> str:
    return {"ahead": pgettext("value:pace", "ahead"), "on_pace": pgettext("value:pace", "on_pace"),
            "behind": pgettext("value:pace", "behind")}.get(value, value)


def run_demo(db, as_of: dt.date) -> list[str]:
    from importlib import resources

    from ..importer import run_import
    from ..readers import open_table
    from .ladder import cultivation_classes, ladder_status, load_setup
    from .targets import import_targets, target_progress

    chinese = current() != DEFAULT
    tiers = load_setup().rules.tiers()

    def tier_name(ids: str, sep: str = "+") -> str:
        if not chinese:
            return ids
        return "、".join(tiers[t].label if t in tiers and tiers[t].label else t for t in ids.split(sep))

    folder = resources.files("kqtools.fixtures").joinpath("demo", "ladder")
    lines = []
    with folder.joinpath("pool.csv").open("rb") as fh:
        r = run_import(db, open_table(fh, "pool.csv"), "designations")
    lines.append(_("kq import designations pool.csv (培育库): {read} read, {inserted} inserted, {rejected} rejected")
                 .format(read=r.read, inserted=r.inserted, rejected=r.rejected))
    with folder.joinpath("targets.csv").open("rb") as fh:
        t = import_targets(db, "targets.csv", fh)
    lines.append(ngettext("kq targets import targets.csv: {n} target", "kq targets import targets.csv: {n} targets",
                          t.targets).format(n=t.targets))
    status = ladder_status(db, as_of)
    lines.append(_("kq ladder status --as-of {date} (movement since {since}):")
                 .format(date=as_of, since=status.compared_with))
    shown = [tier_name(x["tier"]) for x in status.rows]
    heads = [_header(h) for _field, h, _width in _STATUS_TABLE]
    ladder_width = max(6, display_width(_header("ladder")), *(display_width(x["ladder"]) for x in status.rows))
    tier_width = max(18, *(display_width(s) + 1 for s in shown))
    widths = [max(w, display_width(h)) for (_field, _h, w), h in zip(_STATUS_TABLE, heads)]
    lines.append("  " + " ".join([pad(_header("ladder"), ladder_width), pad(_header("tier"), tier_width),
                                  *(pad(h, w, ">") for h, w in zip(heads, widths))]))
    for x, name in zip(status.rows, shown):
        lines.append("  " + " ".join([pad(x["ladder"], ladder_width), pad(name, tier_width),
                                      *(pad(str(x[f]), w, ">") for (f, _h, _w), w in zip(_STATUS_TABLE, widths))]))
    rows = cultivation_classes(db, as_of)
    per = {c: sum(1 for x in rows if x["class"] == c) for c in sorted({x["class"] for x in rows})}
    lines.append(_("kq ladder classes --as-of {date}: {classes}").format(
        date=as_of, classes=_(", ").join(ngettext("class {c}: {n} firm", "class {c}: {n} firms", n).format(c=c, n=n)
                                        for c, n in per.items())))
    lines.append(_("kq targets progress --as-of {date}:").format(date=as_of))
    progress = target_progress(db, as_of).rows
    names = [tier_name(x["tier"]) for x in progress]
    name_width = max(26, *(display_width(s) + 1 for s in names))
    district_width = max(8, *(display_width(x["district"] or "全区") + 1 for x in progress))
    for x, name in zip(progress, names):
        lines.append("  " + _("{tier} {district} target {target} by {year}, baseline {baseline} ({baseline_year}), "
                              "now {current}, expected {expected}: {pace}").format(
            tier=pad(name, name_width), district=pad(x["district"] or "全区", district_width),
            target=pad(str(x["target"]), 4, ">"),
            year=x["target_year"], baseline=pad(str(x["baseline"]), 3, ">"), baseline_year=x["baseline_year"],
            current=pad(str(x["current"]), 3, ">"), expected=pad(str(x["expected"]), 6, ">"), pace=_pace(x["pace"])))
    return lines
