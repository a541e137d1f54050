"""The growth-ladder step of ``kq demo``: the park's cultivation pool and targets, then ladder status,
cultivation classes and targets progress on a fixed date (``fixtures/demo/ladder/``, made by
``tools/make_ladder_demo.py``)."""
from __future__ import annotations

import datetime as dt

DEMO_AS_OF = "2025-12-31"


def demo_step(db, echo) -> None:
    """The ``kq demo`` step (registered in ``kqtools.cli.demo.STEPS``)."""
    for line in run_demo(db, dt.date.fromisoformat(DEMO_AS_OF)):
        echo(line)


def run_demo(db, as_of: dt.date) -> list[str]:
    from importlib import resources

    from ..importer import run_import
    from ..readers import open_table
    from .ladder import cultivation_classes, ladder_status
    from .targets import import_targets, target_progress

    folder = resources.files("kqtools.fixtures").joinpath("demo", "ladder")
    lines = []
    with folder.joinpath("pool.csv").open("rb") as fh:
        r = run_import(db, open_table(fh, "pool.csv"), "designations")
    lines.append(f"kq import designations pool.csv (培育库): {r.read} read, {r.inserted} inserted, "
                 f"{r.rejected} rejected")
    with folder.joinpath("targets.csv").open("rb") as fh:
        t = import_targets(db, "targets.csv", fh)
    lines.append(f"kq targets import targets.csv: {t.targets} targets")
    status = ladder_status(db, as_of)
    lines.append(f"kq ladder status --as-of {as_of} (movement since {status.compared_with}):")
    lines.append(f"  {'ladder':<6} {'tier':<18} {'count':>5} {'prev':>5} {'new':>4} {'prom':>4} {'dem':>4} "
                 f"{'lost':>4} {'up':>4} {'risk':>4}")
    for x in status.rows:
        lines.append(f"  {x['ladder']:<6} {x['tier']:<18} {x['count']:>5} {x['previous']:>5} {x['new']:>4} "
                     f"{x['promoted']:>4} {x['demoted']:>4} {x['lost']:>4} {x['moved_up']:>4} {x['at_risk']:>4}")
    rows = cultivation_classes(db, as_of)
    per = {c: sum(1 for x in rows if x["class"] == c) for c in sorted({x["class"] for x in rows})}
    lines.append(f"kq ladder classes --as-of {as_of}: " + ", ".join(f"class {c}: {n} firms" for c, n in per.items()))
    lines.append(f"kq targets progress --as-of {as_of}:")
    for x in target_progress(db, as_of).rows:
        lines.append(f"  {x['tier']:<26} {x['district'] or '全区':<8} target {x['target']:>4} by {x['target_year']}, "
                     f"baseline {x['baseline']:>3} ({x['baseline_year']}), now {x['current']:>3}, "
                     f"expected {x['expected']:>6}: {x['pace']}")
    return lines
