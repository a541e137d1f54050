"""What an import says on stderr: one line per rejected row, and notes on what was changed or kept.

Stderr is often mailed out by cron, so a line shows a rejected value only where the clerk needs it
to fix the row (a bad date, an unknown enumeration; not a missing value or a duplicate key, whose
line number says enough), and phone numbers and resident ID numbers anywhere in the line are masked
(``138****5678``). The ``--rejects`` file and the ``rejects`` table keep the values as they were.
Pure: text in, text out.
"""
from __future__ import annotations

import re

from .plan import Reject

# mobile numbers; landlines with an area code; 18-digit resident ID numbers (with a birth date inside)
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d[- ]?)(\d{4})([- ]?\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<![0-9A-Za-z])(0\d{2,3}[- ]?)(\d{3,4})([- ]?\d{4})(?!\d)")
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{3})(\d{3}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})"
                          r"([\dXx])(?![0-9A-Za-z])")
_NO_VALUE = ("required value missing", "duplicate ")


def mask_personal(text: str) -> str:
    """Phone numbers and resident ID numbers in ``text`` with their middle digits starred."""
    text = _RESIDENT_ID.sub(lambda m: m.group(1) + "*" * 11 + m.group(2)[-3:] + m.group(3), text)
    text = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    return _LANDLINE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


def shown_value(reject: Reject) -> str | None:
    """The value worth printing with a reject, or None."""
    value = reject.value
    if not value or not reject.field or reject.reason.startswith(_NO_VALUE) or value in reject.reason:
        return None
    return value


def reject_line(source: str, reject: Reject) -> str:
    """``FILE: line N, column C: field: reason (value '…')``, masked."""
    where = f"{source}: line {reject.line}" + (f", column {reject.column}" if reject.column else "")
    value = shown_value(reject)
    line = f"{where}: {reject.field or 'row'}: {reject.reason}" + (f" (value {value!r})" if value else "")
    return mask_personal(line)


def notes(source: str, result) -> list[str]:
    """One line for each thing the import changed or kept that a clerk should know about."""
    out = []
    if result.unknown_columns:
        out.append(f"{source}: kept unknown columns in 'extra': {', '.join(result.unknown_columns)}")
    if result.short_rows:
        out.append(f"{source}: {_n(result.short_rows, 'row')} lacked empty cells at the end, as Excel writes them: "
                   f"the columns they lack were left as they were")
    if result.merged_cells_filled:
        out.append(f"{source}: filled {_n(result.merged_cells_filled, 'cell')} down from merged cells "
                   f"(a merged cell means the same value in every row it spans)")
    if result.formula_like:
        out.append(f"{source}: stored as text {_n(result.formula_like, 'cell')} beginning with = + - @ as Excel "
                   f"formulas do (kq's CSV exports neutralize them)")
    if getattr(result, "rekeyed", 0):
        out.append(f"{source}: {_n(result.rekeyed, 'record')} already stored without a case number (文书号) "
                   f"updated under it, not added a second time")
    for line in getattr(result, "converted", ()):
        out.append(f"{source}: converted {line}")
    for fname, value in getattr(result, "set", {}).items():
        if " from " in value:
            out.append(f"{source}: no {fname} column: {fname} {value}")
    if getattr(result, "skipped", 0):
        out.append(f"{source}: skipped {_n(result.skipped, 'row')} below the data that are not data "
                   f"(totals, signatures, stamps, notes, rows without a code)")
    if result.apostrophes_removed:
        out.append(f"{source}: removed the apostrophe kq's CSV export puts before formula-like text from "
                   f"{_n(result.apostrophes_removed, 'cell')}")
    return out


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


LINE_COLUMN, REASON_COLUMN = "行号", "错误原因"   # the two columns the rejects file adds (left out on import)


def rejects_table(result) -> tuple[list[str], list[dict]]:
    """The ``--rejects`` file: each rejected row whole, under the source's own headers in their
    order, plus 行号 (line) and 错误原因 (the reasons, each naming its column), so that a clerk fixes
    the cells and imports the file again as it is (kq leaves those two columns out). A year taken
    from the title row or the file name becomes a column, as the rejects file has neither. A row
    whose cells are not at hand (a duplicate key, found while writing) has only its line and reason."""
    from ..fields import to_text

    header = [h.strip() for h in result.header]
    while header and not header[-1]:
        header.pop()
    columns: list[str] = []
    for i, h in enumerate(header):
        name = h or f"column {i + 1}"
        while name in columns:
            name += " "
        columns.append(name)
    objects = not columns  # JSON sources: the keys of the rejected objects
    if objects:
        for row in result.rejected_cells.values():
            if isinstance(row, dict):
                columns += [k for k in row if k not in columns]
    derived = {f: v.split(" ", 1)[0] for f, v in getattr(result, "set", {}).items() if " from " in v}
    columns += [f for f in derived if f not in columns]
    reasons: dict[int, list[str]] = {}
    for r in result.rejects:
        reasons.setdefault(r.line, []).append(f"{r.column or r.field or 'row'}: {r.reason}")
    rows = []
    for line, why in reasons.items():
        cells = result.rejected_cells.get(line)
        row = {}
        if isinstance(cells, dict):
            row = {k: "" if v is None else v if isinstance(v, str) else to_text(v) for k, v in cells.items()}
        elif cells is not None:
            row = {c: ("" if i >= len(cells) or cells[i] is None else to_text(cells[i]))
                   for i, c in enumerate(columns[:len(header)])}
        row.update({f: v for f, v in derived.items()})
        row[LINE_COLUMN] = line
        row[REASON_COLUMN] = "; ".join(why)
        rows.append(row)
    return columns + [LINE_COLUMN, REASON_COLUMN], rows
