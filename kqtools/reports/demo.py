"""``kq demo``'s step for the reports: the three reports written into a temporary folder (removed after),
their sizes listed, and the commands that write them where a clerk wants them."""
from __future__ import annotations


def demo_step(db, echo):
    """``kq demo``: write the three reports into a temporary folder (removed after), list their sizes,
    and print the commands that write them where the clerk wants them."""
    import tempfile
    from pathlib import Path

    from ..errors import KqtoolsError
    from ..i18n import _
    from ..reports import make_report

    made = []
    with tempfile.TemporaryDirectory(prefix="kq-demo-reports-") as folder:
        for name, params, args in (("score", {"year": 2025}, "--year 2025"), ("lists", {}, ""),
                                   ("visits", {"year": 2026}, "--year 2026"),
                                   ("requests", {"year": 2025}, "--year 2025"),
                                   ("ladder", {"as_of": "2025-12-31"}, "--as-of 2025-12-31"),
                                   ("targets", {"as_of": "2025-12-31"}, "--as-of 2025-12-31")):
            for ext in ("xlsx", "html"):
                try:
                    w = make_report(db, name, str(Path(folder) / f"{name}.{ext}"), **params)
                except KqtoolsError as exc:
                    echo(f"  kq report {name}: {exc}")
                    break
                made.append((f"kq report {name} {args} -o {name}.{ext}".replace("  ", " "), w))
    echo(_("Reports with charts (written to a temporary folder and removed; run the commands to keep them):"))
    for command, w in made:
        extra = _(", {n} charts").format(n=w["charts"]) \
            + (_(", sheets {sheets}").format(sheets="/".join(w["sheets"])) if w["sheets"] else "")
        echo(_("  {command} {size} bytes{extra}").format(command=f"{command:<56}", size=f"{w['bytes']:>9,}",
                                                          extra=extra))
