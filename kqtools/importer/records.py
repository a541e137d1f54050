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
import re
from itertools import chain
from typing import Callable, Iterable

from ..kinds import FOOTER_STARTS, Kind
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
            reject: Callable[[Reject], None] = lambda r: None, guard=None, constants: dict | None = None,
            header_row: int | None = None) -> Iterable[tuple]:
    """Staged tuples ``(line, *columns)`` of the valid rows; invalid rows go to ``reject``.

    ``guard(columns)``, when given, returns a check of a staged tuple giving ``(field, value,
    reason)`` problems or None, run on every converted row (checks against the database, such as
    visits' specialist ids; see :func:`.checks.visit_guard`).

    Sets on ``source``: ``read`` (data rows seen; blank rows are skipped and not counted),
    ``unknown_columns``, ``columns`` (the main shape), ``merge_columns`` (every column any row
    speaks for), ``field_columns`` (field -> header), ``shaped`` (whether rows of other shapes came),
    and in ``stats`` how many rows were short (``short_rows``) or skipped as footers (``skipped``).

    ``constants`` (``--set FIELD=VALUE``) fills a field for every row, read like a cell of it;
    ``header_row`` is the sheet row or line of the header (default: found, see :func:`_find_header`).
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
        yield from _dict_records(source, kind, mapping, reject, first, rows, len(broken), guard, constants)
        return
    yield from _table_records(source, kind, mapping, reject, first, rows, guard, constants, header_row)


def _find_header(source: Source, kind: Kind, mapping, first, rows, header_row: int | None = None):
    """The header is the first row (within the first few) that names at least two fields, or the
    row ``header_row`` given outright. Returns ``(line, cells, plan, by_field, rows above it, rows)``,
    the rows above as ``(line, cells)`` (title rows: where a year may be written).

    A header may take two rows: the row right above it when it groups columns (``经济指标`` over
    ``营业收入（元）``, ``税收（千元）``), or the row right below when it splits them (``用地面积`` over
    ``自有``, ``租赁``); the parts are joined (``用地面积 / 自有``, see :func:`join_header`)."""
    scanned, chosen = [], None
    row = first
    if header_row is not None:
        while row is not None and row[0] < header_row:
            if not is_blank(row[1]):
                scanned.append((row[0], row[1], None, None))
            row = next(rows, None)
        if row is None or is_blank(row[1]):
            raise SourceError(f"{source.name}: --header-row {header_row}: no header on that row"
                              + ("" if row is None else " (it is blank)"))
        plan, _, by_field = plan_header(kind, row[1], mapping, source.first_col)
        chosen = (row[0], row[1], plan, by_field)
    while chosen is None and row is not None and len(scanned) < HEADER_SCAN_ROWS:
        line, cells = row
        if not is_blank(cells):
            plan, matched, by_field = plan_header(kind, cells, mapping, source.first_col)
            scanned.append((line, cells, plan, by_field))
            if matched >= min(2, len(kind.schema.get("required", [1]))):
                chosen = scanned.pop()
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
        chosen = scanned.pop(0)
        rows = chain((s[:2] for s in scanned), [row] if row is not None else [], rows)
        scanned = []
    line, cells, plan, by_field = chosen
    above = scanned[-1] if scanned else None
    if above is not None and above[0] == line - 1 and sum(1 for c in above[1] if header_text(c).strip()) >= 2:
        cells = join_header(above[1], cells)
        scanned.pop()
        plan, _, by_field = plan_header(kind, cells, mapping, source.first_col)
    rows, below = _next_nonblank(rows)
    if below is not None and _continues_header(kind, by_field, cells, below[1]):
        cells = join_header(cells, below[1])
        plan, _, by_field = plan_header(kind, cells, mapping, source.first_col)
    elif below is not None:
        rows = chain([below], rows)
    return line, cells, plan, by_field, [s[:2] for s in scanned], rows


def join_header(top: list, bottom: list) -> list[str]:
    """Two header rows as one: ``top / bottom`` where both have text and differ; a blank top cell
    belongs to the group on its left (a merged cell across columns); a bottom cell equal to the top
    one (a merged cell down both rows, filled down) or blank leaves the top one."""
    out, group = [], ""
    for i in range(max(len(top), len(bottom))):
        t = header_text(top[i]).strip() if i < len(top) else ""
        b = header_text(bottom[i]).strip() if i < len(bottom) else ""
        if t:
            group = t
        elif b:
            t = group
        out.append(b if not t else t if not b or b == t else f"{t} / {b}")
    return out


def _next_nonblank(rows):
    """(the rest of the rows, the next non-blank row or None); blank rows before it stay in front."""
    blanks = []
    for item in rows:
        if is_blank(item[1]):
            blanks.append(item)
            continue
        return chain(blanks, rows), item
    return iter(blanks), None


def _continues_header(kind: Kind, by_field: dict, header: list, cells) -> bool:
    """Whether the row below the header is a second header row: its key and required columns are
    blank or repeat the header (a merged cell filled down), and every other value is text, not a number."""
    if isinstance(cells, BadRow) or not isinstance(cells, list):
        return False
    needed = set(kind.key) | set(kind.schema.get("required", ()))
    for f, idxs in by_field.items():
        if f in needed:
            for i in idxs:
                c = header_text(cells[i]).strip() if i < len(cells) else ""
                if c and c != header_text(header[i]).strip():
                    return False
    new = 0
    for i, c in enumerate(cells):
        if c is None:
            continue
        if c.__class__ is not str:
            return False
        text = c.strip()
        if not text or (i < len(header) and text == header_text(header[i]).strip()):
            continue
        try:
            float(text.replace(",", ""))
            return False
        except ValueError:
            new += 1
    return new > 0


def _is_footer(cells) -> bool:
    """A total, signature, stamp or note row (its first cell with a value begins with a word of
    :data:`kqtools.kinds.FOOTER_STARTS`, or says 盖章)."""
    for c in cells:
        text = header_text(c).strip().lstrip("（(【[ ").replace(" ", "")
        if text:
            return text.startswith(FOOTER_STARTS) or "盖章" in text
    return False


def _cell_blank(c) -> bool:
    return c is None or (c.__class__ is str and not c.strip())


YEAR_IN_TEXT = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年")


def year_from_context(kind: Kind, titles: list, name: str) -> tuple[str, int, str] | None:
    """A required year field's value when the file has no column for it: the year written in a
    title row (``2025年亩均效益指标``) or the file name (``…2025年度….xlsx``). Returns
    ``(field, year, where)`` or None; two different years are an error naming both."""
    import os.path

    props = kind.schema["properties"]
    fname = next((f for f in kind.schema.get("required", ()) if props[f].get("x-convert") == "year"), None)
    if fname is None:
        return None
    found: dict[int, str] = {}
    for line, cells in titles:
        for c in cells:
            for y in YEAR_IN_TEXT.findall(header_text(c)):
                found.setdefault(int(y), f"the title on line {line}")
    for y in YEAR_IN_TEXT.findall(os.path.basename(name)):
        found.setdefault(int(y), "the file name")
    if len(found) > 1:
        shown = " and ".join(f"{y} ({where})" for y, where in found.items())
        raise SourceError(f"{name}: no {fname} column, and the file names two years: {shown}; "
                          f"say which with --set {fname}=YEAR")
    if found:
        (year, where), = found.items()
        return fname, year, where
    return None


def _add_constants(kind: Kind, plan: Plan, by_field: dict, constants: dict, titles: list, name: str,
                   stats: dict) -> None:
    """``--set`` values into the plan; a required year without a column or ``--set`` from the title or
    the file name (``stats["year_from"]`` says which)."""
    plan.constants = list(constants.items())
    guessed = None
    if not any(f in by_field or f in constants for f, p in kind.schema["properties"].items()
               if p.get("x-convert") == "year" and f in kind.schema.get("required", ())):
        guessed = year_from_context(kind, titles, name)
    if guessed is not None:
        plan.constants.append((guessed[0], guessed[1]))
        stats["year_from"] = f"{guessed[0]} {guessed[1]} from {guessed[2]}"


def _table_records(source, kind, mapping, reject, first, rows, guard, constants=None, header_row=None):
    header_line, header, plan, by_field, titles, rows = _find_header(source, kind, mapping, first, rows, header_row)
    _add_constants(kind, plan, by_field, constants or {}, titles, source.name, source.stats)
    check_plan(kind, plan, by_field, source.name, header_line)
    source.header_line, source.header = header_line, list(plan.header)
    source.unknown_columns = [name for _, name in plan.unknown]  # type: ignore[attr-defined]
    columns = source.columns = shape_columns(kind, plan)  # type: ignore[attr-defined]
    source.merge_columns = set(columns)  # type: ignore[attr-defined]
    source.field_columns = {f: column_of(plan, f) for f in plan.present()}  # type: ignore[attr-defined]
    source.plan = plan  # type: ignore[attr-defined]
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
    # footer rows (合计, 填表人, 盖章 …) are skipped; rows without a key are held back while no data row
    # follows them: at the end of the file they are footers too, before a data row they are rejected
    key_idx = next((i for f, i in plan.fields if f in kind.key), None)
    held: list[Reject] = []
    held_rows: dict[int, list] = {}
    skipped = 0
    # the cells of every rejected row, for a rejects file a clerk can fix and import again
    kept = source.rejected_cells = {}  # type: ignore[attr-defined]
    for line, cells in rows:
        if held and key_idx is not None and key_idx < len(cells) and not _cell_blank(cells[key_idx]):
            read += len(held_rows)
            for e in held:
                reject(e)
            kept.update(held_rows)
            held.clear()
            held_rows.clear()
        if cells.__class__ is not list or len(cells) != width:
            if cells.__class__ is BadRow:
                read += 1
                kept[line] = cells
                reject(Reject(line, None, "", cells.reason))
                continue
            n = len(cells)
            if not _blank_row(cells) and _is_footer(cells):
                skipped += 1
                continue
            if key_idx is not None and (key_idx >= n or _cell_blank(cells[key_idx])) and not _blank_row(cells):
                if n < width and read:
                    held_rows[line] = cells
                    short(cells, line, below if prev is None else prev, held.append)
                    prev = cells
                    continue
            if n > width:
                if not is_blank(cells[width:]):
                    read += 1
                    at = next(i for i in range(width, n) if not is_blank([cells[i]]))
                    kept[line] = cells
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
                else:
                    kept[line] = cells
                continue
        if not blank_fails and _blank_row(cells):
            continue
        out = convert(cells, line)
        if out.__class__ is list:
            if blank_fails and _blank_row(cells):
                continue
            prev = cells
            if _is_footer(cells):
                skipped += 1
                continue
            if key_idx is not None and _cell_blank(cells[key_idx]) and read:
                held_rows[line] = cells
                held.extend(out)
                continue
            read += 1
            kept[line] = cells
            for e in out:
                reject(e)
            continue
        read += 1
        prev = cells
        yield out
    skipped += len(held_rows)
    if skipped:
        stats["skipped"] = skipped
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


def _dict_records(source, kind, mapping, reject, first, rows, broken=0, guard=None, constants=None):
    compiled: dict[tuple, Callable] = {}
    unknown: dict[str, None] = {}
    columns: dict[str, str | None] = {}
    source.merge_columns = set()  # type: ignore[attr-defined]
    read = 0
    kept = source.rejected_cells = {}  # type: ignore[attr-defined]
    for line, obj in chain([first], rows):
        if obj.__class__ is RowError:
            read += 1
            reject(Reject(line, None, "", obj))
            continue
        keys = tuple(obj)
        convert = compiled.get(keys)
        if convert is None:
            convert, plan = compiled[keys] = _dict_converter(source, kind, mapping, keys, line, guard, constants)
            unknown.update((name, None) for _, name in plan.unknown)
            for f in plan.present():
                columns.setdefault(f, column_of(plan, f))
            source.field_columns = columns  # type: ignore[attr-defined]
        else:
            convert = convert[0]
        read += 1
        # arrays and objects go on as they are: a list field takes an array, a scalar field
        # rejects both (_field_checker), an unknown key keeps them as JSON in ``extra``
        out = convert(list(obj.values()), line)
        if out.__class__ is list:
            kept[line] = obj
            for e in out:
                reject(e)
            continue
        yield out
    source.read = read + broken  # type: ignore[attr-defined]
    source.unknown_columns = list(unknown)  # type: ignore[attr-defined]
    source.header = []


def _dict_converter(source, kind, mapping, keys: tuple, line: int, guard, constants=None):
    """(the row function, the plan) for JSON objects with these keys; the first key set is the main shape."""
    plan, _, by_field = plan_header(kind, list(keys), mapping)
    for f, idxs in by_field.items():
        if len(idxs) > 1:
            raise SourceError(f"{source.name}: line {line}: keys {', '.join(keys[i] for i in idxs)} "
                              f"all map to field '{f}'")
        if f in (constants or {}):
            raise SourceError(f"{source.name}: line {line}: --set {f}=… but key {keys[idxs[0]]!r} gives {f} already; "
                              f"leave out one of them")
    for idx, reason in plan.unit_problems:
        raise SourceError(f"{source.name}: line {line}, key {keys[idx]!r}: {reason}; nothing was imported")
    plan.constants = list((constants or {}).items())
    props = kind.schema["properties"]
    missing = [f for f in kind.schema.get("required", ())
               if f not in by_field and f not in (constants or {}) and "default" not in props[f]]
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
