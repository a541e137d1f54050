"""Record reading: a source's raw rows -> the header plan -> staged tuples of the valid rows.

Like beancount's loader, bad rows are *data*: every problem becomes a :class:`~.plan.Reject` handed to
the caller's ``reject`` function, and the valid rows go on. Nothing here touches the database.
"""
from __future__ import annotations

from typing import Callable, Iterable

from .. import fields as F
from ..kinds import Kind, get_kind
from ..readers import RowError, Source, SourceError, header_text, is_blank
from .plan import (HEADER_SCAN_ROWS, Plan, Reject, check_plan, column_letter, column_of, merge_columns,
                   plan_header, stage_columns)
from .rowcode import compile_row


def records(source: Source, kind: Kind, mapping: dict | None = None,
            reject: Callable[[Reject], None] = lambda r: None, guard=None) -> Iterable[tuple]:
    """Staging tuples ``(line, *stage_columns(kind))`` of the valid rows; invalid rows go to ``reject``.

    ``guard(plan)``, when given, returns a check ``(tuple) -> list of Reject or None`` run on every
    converted row (checks against the database, such as visits' specialist ids).

    Sets on ``source``: ``read`` (data rows seen; blank rows are skipped and not counted),
    ``unknown_columns`` and ``merge_columns`` (the columns this source speaks for).
    """
    rows = iter(source.rows)
    source.read = 0  # type: ignore[attr-defined]
    first = next(rows, None)
    broken = []
    while first is not None and isinstance(first[1], RowError):  # JSONL lines that are not objects
        broken.append(first)
        first = next(rows, None)
    if first is None:
        if broken:
            line, why = broken[0]
            raise SourceError(f"{source.name}: line {line}: {why}; no line is a JSON object")
        raise SourceError(f"{source.name}: empty file")
    for line, why in broken:
        reject(Reject(line, None, "", why))
    if isinstance(first[1], dict):
        yield from _dict_records(source, kind, mapping, reject, first, rows, len(broken), guard)
        return
    # tabular: the header is the first row (within the first few) that names at least two fields
    scanned, chosen = [], None
    row = first
    while row is not None and len(scanned) < HEADER_SCAN_ROWS:
        line, cells = row
        if not is_blank(cells):
            plan, matched, by_field = plan_header(kind, cells, mapping)
            scanned.append((line, cells, plan, by_field))
            if matched >= min(2, len(kind.schema.get("required", [1]))):
                chosen = scanned[-1]
                break
        row = next(rows, None)
    if chosen is None:
        if not scanned:
            raise SourceError(f"{source.name}: no header row, only blank lines")
        if len(scanned) == 1 and row is None:
            raise SourceError(f"{source.name}: line {scanned[0][0]}: no header row naming {kind.name} fields "
                              f"(found only {', '.join(repr(header_text(c)) for c in scanned[0][1] if header_text(c).strip())[:200]})")
        chosen = scanned[0]
    header_line, header, plan, by_field = chosen
    check_plan(kind, plan, by_field, source.name, header_line)
    source.header_line, source.header = header_line, [h for h in plan.header]
    source.unknown_columns = [name for _, name in plan.unknown]  # type: ignore[attr-defined]
    source.merge_columns = merge_columns(kind, plan)  # type: ignore[attr-defined]
    source.field_columns = {f: column_of(plan, f) for f, _ in plan.fields}  # type: ignore[attr-defined]
    width = len(header)
    while width and not header_text(header[width - 1]).strip():
        width -= 1
    convert = compile_row(kind, plan)
    if guard is not None:
        convert = _guarded(convert, guard(plan))
    read = 0
    # a blank row fails the row check when a required field has no default: then only a rejected
    # row needs the blank test (one join less for every good row)
    required = kind.schema.get("required", [])
    blank_fails = bool(required) and not any("default" in kind.schema["properties"][f] for f in required)
    for line, cells in rows:
        if not blank_fails and _blank_row(cells):
            continue
        if len(cells) > width and not is_blank(cells[width:]):
            read += 1
            at = next(i for i in range(width, len(cells)) if not is_blank([cells[i]]))
            reject(Reject(line, None, F.to_text(cells[at])[:80],
                          f"row has {len(cells)} cells but the header has {width}: a stray delimiter or a shifted row",
                          column_letter(at)))
            continue
        out = convert(cells, line)
        if out.__class__ is list:
            if blank_fails and _blank_row(cells):
                continue
            read += 1
            for e in out:
                reject(e)
            continue
        read += 1
        yield out
    source.read = read  # type: ignore[attr-defined]
    if not read:
        raise SourceError(f"{source.name}: line {header_line}: a header and no data rows below it")


def _blank_row(cells) -> bool:
    try:
        return not "".join(cells).strip()
    except TypeError:  # xlsx: numbers, dates, None
        return is_blank(cells)


def _dict_records(source, kind, mapping, reject, first, rows, broken=0, guard=None):
    compiled: dict[tuple, Callable] = {}
    unknown: dict[str, None] = {}
    merge: set[str] = set()
    columns: dict[str, str | None] = {}
    read = 0
    for line, obj in _chain(first, rows):
        if obj.__class__ is RowError:
            read += 1
            reject(Reject(line, None, "", obj))
            continue
        keys = tuple(obj)
        convert = compiled.get(keys)
        if convert is None:
            plan, _, by_field = plan_header(kind, list(keys), mapping)
            for f, idxs in by_field.items():
                if len(idxs) > 1:
                    raise SourceError(f"{source.name}: line {line}: keys {', '.join(keys[i] for i in idxs)} "
                                      f"all map to field '{f}'")
            convert = compile_row(kind, plan)
            if guard is not None:
                convert = _guarded(convert, guard(plan))
            convert = compiled[keys] = convert
            unknown.update((name, None) for _, name in plan.unknown)
            merge |= merge_columns(kind, plan)
            for f, _ in plan.fields:
                columns.setdefault(f, column_of(plan, f))
            source.field_columns = columns  # type: ignore[attr-defined]
        read += 1
        # arrays and objects go on as they are: a list field takes an array, a scalar field
        # rejects both (_field_checker), an unknown key keeps them as JSON in ``extra``
        out = convert(list(obj.values()), line)
        if out.__class__ is list:
            for e in out:
                reject(e)
            continue
        yield out
    source.read = read + broken  # type: ignore[attr-defined]
    source.unknown_columns = list(unknown)  # type: ignore[attr-defined]
    source.merge_columns = merge  # type: ignore[attr-defined]
    source.header = []


def _guarded(convert, check):
    def row(cells, line):
        out = convert(cells, line)
        if out.__class__ is list:
            return out
        return check(out) or out
    return row


def visit_guard(specialist_ids, today: str):
    """Guard for visits (see :func:`records`): the specialist must exist, the date must not be later
    than ``today`` (ISO), as ``kq visits log`` requires."""
    ids = frozenset(specialist_ids)
    cols = stage_columns(get_kind("visits"))
    sp, on = cols.index("specialist_id") + 1, cols.index("visited_on") + 1

    def for_plan(plan: Plan):
        where = {f: plan.column_name(i) for f, i in plan.fields}

        def check(out):
            errs = None
            if out[sp] not in ids:
                errs = [Reject(out[0], "specialist_id", out[sp],
                               f"no specialist with id {out[sp]}; import specialists first", where.get("specialist_id"))]
            if out[on] > today:
                e = Reject(out[0], "visited_on", out[on], f"visit date {out[on]} is in the future",
                           where.get("visited_on"))
                errs = [e] if errs is None else errs + [e]
            return errs
        return check
    return for_plan


def _chain(first, rows):
    yield first
    yield from rows
