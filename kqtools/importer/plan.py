"""Header planning: which column of a file feeds which field of a kind. Pure: no I/O, no SQL.

A :class:`Plan` maps header cells to the kind's fields (by the canonical name, a Chinese alias from the
schema's ``x-aliases``, or a ``--map HEADER=field`` given by the clerk); columns that match no field
are *unknown* and kept in the row's ``extra`` JSON, never dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field

from ..errors import KqtoolsError
from ..kinds import DERIVED, IGNORED_HEADERS, Kind, header_key, header_unit, units_table
from ..labels import computed_header_keys
from ..readers import SourceError, header_text

HEADER_SCAN_ROWS = 10   # the header is the first row, within these, that names at least two fields


@dataclass(frozen=True)
class Reject:
    """One rejected row (or one reason it was rejected): where it is, which field, the value, why."""
    line: int
    field: str | None
    value: str | None
    reason: str
    column: str | None = None

    def as_dict(self):
        return {"line": self.line, "column": self.column, "field": self.field, "value": self.value,
                "reason": self.reason}


@dataclass
class Plan:
    """Which column feeds which field; columns no schema knows go to ``extra``.

    ``unknown`` holds ``(index, key)`` where ``key`` is the header as written, made distinct when a
    header repeats (``备注``, ``备注 (2)``) so that ``extra`` keeps both values. ``first_col`` is the
    sheet column of index 0 (0 = column A), for column letters in messages.
    """
    fields: list[tuple[str, int]]
    unknown: list[tuple[int, str]]
    header: list[str]
    first_col: int = 0
    units: dict = dc_field(default_factory=dict)          # field -> kqtools.units.Unit its header names
    constants: list = dc_field(default_factory=list)      # (field, raw value) from --set FIELD=VALUE
    ignored: list = dc_field(default_factory=list)        # indexes of columns left out (序号, 行号, 错误原因)
    unit_problems: list = dc_field(default_factory=list)  # (index, reason): a header unit that does not fit

    def present(self) -> list[str]:
        return [f for f, _ in self.fields] + [f for f, _ in self.constants]

    def column_name(self, idx: int) -> str:
        """The header of column ``idx`` as written, or its letter when the header cell is empty."""
        name = self.header[idx].strip() if idx < len(self.header) else ""
        return name or column_letter(idx + self.first_col)


class UnknownField(KqtoolsError, ValueError):
    """A ``--map HEADER=field`` whose target is not a field of the kind (nor an alias of one)."""


def field_named(kind: Kind, name: str) -> str | None:
    """The field ``name`` stands for: the field's own name or any header alias of it; None if none."""
    key = header_key(name)
    return name if name in kind.fields else key if key in kind.fields else kind.headers.get(key)


def resolve_mapping(kind: Kind, mapping: dict[str, str] | None) -> dict[str, str]:
    """``{header: target}`` -> ``{header_key(header): field}``; the target may be the field's name or
    any header alias of it (``地址`` -> ``address``). An unknown target raises :class:`UnknownField`."""
    out = {}
    for header, target in (mapping or {}).items():
        fname = field_named(kind, target)
        if fname is None:
            raise UnknownField(f"--map {header}={target}: {kind.name} has no field {target!r}; "
                               f"fields: {', '.join(kind.fields)}")
        out[header_key(header)] = fname
    return out


def resolve_constants(kind: Kind, constants: dict[str, str] | None) -> dict[str, str]:
    """``--set FIELD=VALUE`` pairs with FIELD as the field's name or any header alias of it
    (``--set 年度=2025``); an unknown field raises :class:`UnknownField`."""
    out = {}
    for target, value in (constants or {}).items():
        fname = field_named(kind, target)
        if fname is None:
            raise UnknownField(f"--set {target}={value}: {kind.name} has no field {target!r}; "
                               f"fields: {', '.join(kind.fields)}")
        out[fname] = value
    return out


def plan_header(kind: Kind, header: list, mapping: dict[str, str] | None = None,
                first_col: int = 0) -> tuple[Plan, int, dict]:
    """Map header cells to fields; returns the plan, how many cells matched a field, and
    ``{field: [column indexes]}`` (more than one index is an error :func:`check_plan` reports).

    A header joined from two header rows (``经济指标 / 营业收入（元）``) matches as a whole, else by
    its last part (``用地面积 / 自有`` matches nothing: it goes to ``extra`` unless ``--map`` names it). A unit in the header (``（元）``, or a bare ``万元`` at its end)
    of a field with a unit (``x-unit``) is kept in ``Plan.units``; one that does not fit the field
    goes to ``Plan.unit_problems`` (:func:`check_plan` refuses the file). ``序号`` and the columns kq's
    rejects file adds (``行号``, ``错误原因``) are left out, not kept in ``extra``.
    """
    extra_map = resolve_mapping(kind, mapping)
    names = [header_text(h) for h in header]
    by_field: dict[str, list[int]] = {}
    unknown, ignored, units, problems = [], [], {}, []
    seen: dict[str, int] = {}
    for idx, name in enumerate(names):
        if not name.strip():
            continue
        target, part = None, name
        for part in ([name] + [p for p in (name.split(" / ")[-1],) if p != name]):
            target = _target(kind, extra_map, part)
            if target is not None:
                break
        if target is None and (header_key(name) in IGNORED_HEADERS or header_key(name) in computed_header_keys(kind.name)):
            ignored.append(idx)   # 序号, the rejects file's 行号/错误原因, a column kq computes in its listings
            continue
        if target is None:  # a repeated header gets a number, so that extra keeps every value
            label = name.strip()
            n = seen[label] = seen.get(label, 0) + 1
            unknown.append((idx, label if n == 1 else f"{label} ({n})"))
            continue
        target, unit_text = target
        by_field.setdefault(target, []).append(idx)
        canonical = kind.fields[target].unit
        if canonical and unit_text:
            from ..units import UnitError, check_unit

            try:
                units[target] = check_unit(unit_text, target, canonical, units_table())
            except UnitError as exc:
                problems.append((idx, str(exc)))
    plan = Plan([(f, ix[0]) for f, ix in by_field.items()], unknown, names, first_col, units, [], ignored, problems)
    return plan, sum(map(len, by_field.values())), by_field


def _target(kind: Kind, extra_map: dict, name: str):
    """``(field, unit written in the header or None)`` for one header text, or None."""
    key = header_key(name)
    target = extra_map.get(key) or kind.headers.get(key) or (key if key in kind.fields else None)
    if target is not None:
        return target, header_unit(name)
    split = units_table().split_suffix(key)   # 营业收入万元, 用地面积亩: a unit without brackets
    if split is not None:
        rest, unit = split
        target = extra_map.get(rest) or kind.headers.get(rest) or (rest if rest in kind.fields else None)
        if target is not None and kind.fields[target].unit:
            return target, unit.name
    return None


def check_plan(kind: Kind, plan: Plan, by_field: dict, source: str, line: int) -> None:
    """A column matched twice, a required column missing, a header unit that does not fit its field,
    or a ``--set`` of a field the file has a column for, makes the file unusable."""
    for idx, reason in plan.unit_problems:
        raise SourceError(f"{source}: line {line}, column {plan.column_name(idx)}: {reason}; "
                          f"nothing was imported")
    for f, _ in plan.constants:
        if f in by_field:
            raise SourceError(f"{source}: --set {f}=… but column {plan.column_name(by_field[f][0])} gives {f} "
                              f"already; leave out one of them")
    for f, idxs in by_field.items():
        if len(idxs) > 1:
            cols = ", ".join(f"{column_letter(i + plan.first_col)} ({plan.header[i].strip()})" for i in idxs)
            raise SourceError(f"{source}: line {line}: columns {cols} all map to field '{f}'; "
                              f"rename one or choose with --map 'HEADER={f}'")
    for f in kind.schema.get("required", []):
        if f not in by_field and f not in dict(plan.constants):
            aliases = kind.schema["properties"][f].get("x-aliases", [])[:4]
            raise SourceError(f"{source}: line {line}: no column for required field '{f}' "
                              f"(looked for {f}{', ' if aliases else ''}{', '.join(aliases)}; add one with --map 'HEADER={f}')")
    wanted = kind.schema.get("x-requires-any")   # e.g. a metrics file must carry at least one figure
    if wanted and not any(f in by_field or f in dict(plan.constants) for f in wanted):
        kept = ", ".join(name for _i, name in plan.unknown[:4]) or "none"
        raise SourceError(f"{source}: line {line}: no column for any {kind.name} field besides the key "
                          f"(columns kept as unknown: {kept}); is this a {kind.name} file? Name a column with "
                          f"--map 'HEADER=FIELD' (fields: {', '.join(wanted[:6])} …)")


def column_letter(idx: int) -> str:
    """Excel-style column letter for a 0-based index (A, B, ..., AA)."""
    s, n = "", idx + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def column_of(plan: Plan, fname: str | None) -> str | None:
    """The header of the column a field came from (None when the source has no such column)."""
    found = next((plan.column_name(i) for f, i in plan.fields if f == fname), None)
    if found is None and any(f == fname for f, _ in plan.constants):
        return "--set"
    return found


def stage_columns(kind: Kind) -> list[str]:
    """Columns of a staged row (after its line number): every stored column of the kind, then ``extra``."""
    return kind.columns() + ["extra"]


def merge_columns(kind: Kind, plan: Plan) -> set[str]:
    """The stored columns a file with this header speaks for: its fields, derived fields, ``extra``."""
    cols = set(plan.present()) | set(kind.key) | set(DERIVED.get(kind.name, ()))
    for f in kind.multi_value_fields:
        if f in cols:
            for value in kind.fields[f].values.values():
                if isinstance(value, dict):
                    cols.update(value)
    if plan.unknown:
        cols.add("extra")
    return cols & set(stage_columns(kind))
