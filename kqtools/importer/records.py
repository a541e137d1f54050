"""Record reading: a source's raw rows -> the header plan -> staged tuples of the valid rows.

Like beancount's loader, bad rows are *data*: every problem becomes a :class:`~.plan.Reject` handed to
the caller's ``reject`` function, and the valid rows go on. Nothing here touches the database.

A staged row is a tuple ``(line, *columns)`` of only the columns its header speaks for (its
*shape*): columns a file does not have are left as they are in the database. The rows of the
source's main shape are plain tuples; a row of another shape (a JSON object with other keys, a row
missing empty cells at its end as Excel writes them) is a tuple subclass whose ``columns`` say which.
"""
from __future__ import annotations

import functools
from itertools import chain
from typing import Callable, Iterable

from ..kinds import Kind
from ..readers import BadRow, RowError, Source, SourceError, header_text, is_blank
from .checks import visit_guard  # noqa: F401 - part of this module's interface for callers
from .plan import (HEADER_SCAN_ROWS, Plan, Reject, check_plan, column_letter, column_of, merge_columns,
                   plan_header)
from .rowcode import compile_row, shape_columns


@functools.lru_cache(maxsize=None)
def shape_class(columns: tuple[str, ...], patch: bool = False) -> type:
    """The tuple subclass of staged rows with these columns (``patch``: a JSON merge patch for
    ``extra`` follows the columns)."""
    return type("Staged", (tuple,), {"__slots__": (), "columns": columns, "patch": patch})


def records(source: Source, kind: Kind, mapping: dict | None = None,
            reject: Callable[[Reject], None] = lambda r: None, guard=None) -> Iterable[tuple]:
    """Staged tuples ``(line, *columns)`` of the valid rows; invalid rows go to ``reject``.

    ``guard(columns)``, when given, returns a check of a staged tuple giving ``(field, value,
    reason)`` problems or None, run on every converted row (checks against the database, such as
    visits' specialist ids; see :func:`.checks.visit_guard`).

    Sets on ``source``: ``read`` (data rows seen; blank rows are skipped and not counted),
    ``unknown_columns``, ``columns`` (the main shape), ``merge_columns`` (every column any row
    speaks for), ``field_columns`` (field -> header), ``shaped`` (whether rows of other shapes came),
    and in ``stats`` how many rows were short (``short_rows``).
    """
    rows = iter(source.rows)
    source.read = 0  # type: ignore[attr-defined]
    source.shaped = False  # type: ignore[attr-defined]
    source.columns = None  # type: ignore[attr-defined]
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
    yield from _table_records(source, kind, mapping, reject, first, rows, guard)


def _find_header(source: Source, kind: Kind, mapping, first, rows):
    """The header is the first row (within the first few) that names at least two fields."""
    scanned, chosen = [], None
    row = first
    while row is not None and len(scanned) < HEADER_SCAN_ROWS:
        line, cells = row
        if not is_blank(cells):
            plan, matched, by_field = plan_header(kind, cells, mapping, source.first_col)
            scanned.append((line, cells, plan, by_field))
            if matched >= min(2, len(kind.schema.get("required", [1]))):
                chosen = scanned[-1]
                break
        row = next(rows, None)
    if chosen is None:
        if not scanned:
            raise SourceError(f"{source.name}: no header row, only blank lines")
        if isinstance(scanned[0][1], BadRow):
            raise SourceError(f"{source.name}: line {scanned[0][0]}: {scanned[0][1].reason}")
        if len(scanned) == 1 and row is None:
            raise SourceError(f"{source.name}: line {scanned[0][0]}: no header row naming {kind.name} fields "
                              f"(found only {', '.join(repr(header_text(c)) for c in scanned[0][1] if header_text(c).strip())[:200]})")
        chosen = scanned[0]
    return chosen


def _table_records(source, kind, mapping, reject, first, rows, guard):
    header_line, header, plan, by_field = _find_header(source, kind, mapping, first, rows)
    check_plan(kind, plan, by_field, source.name, header_line)
    source.header_line, source.header = header_line, list(plan.header)
    source.unknown_columns = [name for _, name in plan.unknown]  # type: ignore[attr-defined]
    columns = source.columns = shape_columns(kind, plan)  # type: ignore[attr-defined]
    source.merge_columns = set(columns)  # type: ignore[attr-defined]
    source.field_columns = {f: column_of(plan, f) for f, _ in plan.fields}  # type: ignore[attr-defined]
    width = len(header)
    while width and not header_text(header[width - 1]).strip():
        width -= 1
    stats = source.stats
    # rows reach the converter with at least ``width`` cells (shorter ones go to _ShortRows)
    convert = _with_guard(compile_row(kind, plan, columns, stats, full_width=True), guard, plan, columns)
    short = _ShortRows(source, kind, plan, width, guard)
    rows, below = _peek_second_row(rows)
    read = 0
    prev = None
    # a blank row fails the row check when a required field has no default: then only a rejected
    # row needs the blank test (one join less for every good row)
    required = kind.schema.get("required", [])
    blank_fails = bool(required) and not any("default" in kind.schema["properties"][f] for f in required)
    for line, cells in rows:
        if cells.__class__ is not list or len(cells) != width:
            if cells.__class__ is BadRow:
                read += 1
                reject(Reject(line, None, "", cells.reason))
                continue
            n = len(cells)
            if n > width:
                if not is_blank(cells[width:]):
                    read += 1
                    at = next(i for i in range(width, n) if not is_blank([cells[i]]))
                    reject(Reject(line, None, header_text(cells[at])[:80],
                                  f"row has {n} cells but the header has {width}: a stray delimiter or a shifted row",
                                  column_letter(at + source.first_col)))
                    continue
            elif n < width:
                if _blank_row(cells):
                    continue
                read += 1
                # judged by the row above (the first data row: by the row below)
                out = short(cells, line, below if prev is None else prev, reject)
                prev = cells
                if out is not None:
                    yield out
                continue
        if not blank_fails and _blank_row(cells):
            continue
        out = convert(cells, line)
        if out.__class__ is list:
            if blank_fails and _blank_row(cells):
                continue
            read += 1
            prev = cells
            for e in out:
                reject(e)
            continue
        read += 1
        prev = cells
        yield out
    source.read = read  # type: ignore[attr-defined]
    if not read:
        raise SourceError(f"{source.name}: line {header_line}: a header and no data rows below it")


def _peek_second_row(rows):
    """(the same rows, the cells of the second non-blank row or None): the neighbour by which a
    short first data row is judged."""
    seen, found = [], 0
    for item in rows:
        seen.append(item)
        if not _blank_row(item[1]):
            found += 1
            if found == 2:
                return chain(seen, rows), item[1]
    return iter(seen), None


class _ShortRows:
    """Rows with fewer cells than the header. Excel drops a trailing column that is empty over a run
    of rows, so a short row is taken as that only when the row beside it (above; below for the first)
    has nothing in the columns it lacks, and no key or required field is among them: its missing
    cells are then left as they are in the database, never set to NULL. Any other short row is a
    shifted row: rejected like a long one."""

    def __init__(self, source, kind, plan: Plan, width: int, guard):
        self.source, self.kind, self.plan, self.width, self.guard = source, kind, plan, width, guard
        self.needed = set(kind.key) | set(kind.schema.get("required", ()))
        self.converters: dict[int, Callable] = {}

    def __call__(self, cells, line, neighbour, reject):
        n, width, plan = len(cells), self.width, self.plan
        lacks_needed = any(i >= n and f in self.needed for f, i in plan.fields)
        empty_beside = neighbour is None or all(i >= len(neighbour) or neighbour[i] is None
                                                or (neighbour[i].__class__ is str and not neighbour[i].strip())
                                                for i in range(n, width))
        if lacks_needed or not empty_beside:
            reject(Reject(line, None, "", f"row has {n} cells but the header has {width}: a missing delimiter or "
                                          f"a shifted row (column {plan.column_name(n)} onwards is missing)",
                          column_letter(n + plan.first_col)))
            return None
        convert = self.converters.get(n)
        if convert is None:
            convert = self.converters[n] = self._compile(n)
        out = convert(cells, line)
        if out.__class__ is list:
            for e in out:
                reject(e)
            return None
        stats = self.source.stats
        stats["short_rows"] = stats.get("short_rows", 0) + 1
        self.source.shaped = True
        return out

    def _compile(self, n: int) -> Callable:
        plan = self.plan
        cut = Plan([(f, i) for f, i in plan.fields if i < n], [(i, k) for i, k in plan.unknown if i < n],
                   plan.header, plan.first_col)
        columns = shape_columns(self.kind, cut)
        patch = 0 < len(cut.unknown) < len(plan.unknown)
        cls = shape_class(columns, patch)
        convert = _with_guard(compile_row(self.kind, cut, columns, self.source.stats, patch), self.guard, cut, columns)
        self.source.merge_columns |= set(columns)

        def row(cells, line):
            out = convert(cells, line)
            return out if out.__class__ is list else cls(out)
        return row


def _blank_row(cells) -> bool:
    try:
        return not "".join(cells).strip()
    except TypeError:  # xlsx: numbers, dates, None
        return is_blank(cells)


def _dict_records(source, kind, mapping, reject, first, rows, broken=0, guard=None):
    compiled: dict[tuple, Callable] = {}
    unknown: dict[str, None] = {}
    columns: dict[str, str | None] = {}
    source.merge_columns = set()  # type: ignore[attr-defined]
    read = 0
    for line, obj in chain([first], rows):
        if obj.__class__ is RowError:
            read += 1
            reject(Reject(line, None, "", obj))
            continue
        keys = tuple(obj)
        convert = compiled.get(keys)
        if convert is None:
            convert, plan = compiled[keys] = _dict_converter(source, kind, mapping, keys, line, guard)
            unknown.update((name, None) for _, name in plan.unknown)
            for f, _ in plan.fields:
                columns.setdefault(f, column_of(plan, f))
            source.field_columns = columns  # type: ignore[attr-defined]
        else:
            convert = convert[0]
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
    source.header = []


def _dict_converter(source, kind, mapping, keys: tuple, line: int, guard):
    """(the row function, the plan) for JSON objects with these keys; the first key set is the main shape."""
    plan, _, by_field = plan_header(kind, list(keys), mapping)
    for f, idxs in by_field.items():
        if len(idxs) > 1:
            raise SourceError(f"{source.name}: line {line}: keys {', '.join(keys[i] for i in idxs)} "
                              f"all map to field '{f}'")
    props = kind.schema["properties"]
    missing = [f for f in kind.schema.get("required", ()) if f not in by_field and "default" not in props[f]]
    if missing:  # an object without a required key is a bad row (a file without the column is a bad file)
        def lacking(cells, line):
            return [Reject(line, f, "", f"required value missing: {f}") for f in missing]
        return lacking, plan
    columns = shape_columns(kind, plan)
    source.merge_columns |= set(columns)
    convert = _with_guard(compile_row(kind, plan, columns, source.stats), guard, plan, columns)
    if source.columns is None:
        source.columns = columns  # type: ignore[attr-defined]
    if columns == source.columns:
        return convert, plan
    source.shaped = True  # type: ignore[attr-defined]
    cls = shape_class(columns)

    def row(cells, line):
        out = convert(cells, line)
        return out if out.__class__ is list else cls(out)
    return row, plan


def _with_guard(convert, guard, plan: Plan, columns):
    """The row function followed by the guard's check (rejects named by the plan's columns)."""
    if guard is None:
        return convert
    check = guard(columns)

    def row(cells, line):
        out = convert(cells, line)
        if out.__class__ is list:
            return out
        problems = check(out)
        if problems:
            return [Reject(out[0], f, value, why, column_of(plan, f)) for f, value, why in problems]
        return out
    return row


__all__ = ["records", "shape_class", "merge_columns", "visit_guard"]
