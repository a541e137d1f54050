"""The import pipeline: raw rows -> header plan -> generated row check -> upsert, in one transaction.

Like beancount's loader, bad rows are *data*: every problem becomes a
:class:`Reject` (line, column, field, value, reason), all of them are reported
together, and valid rows are never held back by invalid ones (unless ``strict``).

Valid rows are written inside one ``BEGIN IMMEDIATE`` transaction that commits only
at the end: a killed import, an unusable source or ``--strict`` with rejects leaves
the database exactly as it was.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Iterable

from . import fields as F
from .kinds import COMPLETE, DERIVED, MEMO_LIMIT, Kind, get_kind, header_key
from .labels import computed_header_keys
from .readers import RowError, Source, SourceError, header_text, is_blank
from .uscc import is_valid_clean
from .clock import now_iso as _now
from .errors import KqtoolsError

CHUNK = 5_000
CACHE_KIB = 32 * 1024        # page cache of the database during an import
HEADER_SCAN_ROWS = 10


@dataclass(frozen=True)
class Reject:
    line: int
    field: str | None
    value: str | None
    reason: str
    column: str | None = None

    def as_dict(self):
        return {"line": self.line, "column": self.column, "field": self.field, "value": self.value,
                "reason": self.reason}


@dataclass
class ImportResult:
    kind: str
    source: str
    format: str
    encoding: str | None = None
    sheet: str | None = None
    sha256: str = ""
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    batch: int | None = None
    written: bool = False
    unknown_columns: list[str] = field(default_factory=list)
    new_enterprises: int = 0
    rejects: list[Reject] = field(default_factory=list)

    def summary(self) -> dict:
        return {"kind": self.kind, "source": self.source, "format": self.format, "encoding": self.encoding,
                "sheet": self.sheet, "read": self.read, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected, "batch": self.batch,
                "written": self.written, "unknown_columns": self.unknown_columns,
                "new_enterprises": self.new_enterprises, "sha256": self.sha256}


# ------------------------------------------------------------------ header planning (pure)
@dataclass
class Plan:
    """Which column feeds which field; columns no schema knows go to ``extra``."""
    fields: list[tuple[str, int]]
    unknown: list[tuple[int, str]]
    header: list[str]

    def present(self) -> list[str]:
        return [f for f, _ in self.fields]


class UnknownField(KqtoolsError, ValueError):
    """A ``--map HEADER=field`` whose target is not a field of the kind (nor an alias of one)."""


def resolve_mapping(kind: Kind, mapping: dict[str, str] | None) -> dict[str, str]:
    """``{header: target}`` -> ``{header_key(header): field}``; the target may be the field's name or
    any header alias of it (``地址`` -> ``address``). An unknown target raises :class:`UnknownField`."""
    out = {}
    for header, target in (mapping or {}).items():
        key = header_key(target)
        fname = target if target in kind.fields else key if key in kind.fields else kind.headers.get(key)
        if fname is None:
            raise UnknownField(f"--map {header}={target}: {kind.name} has no field {target!r}; "
                               f"fields: {', '.join(kind.fields)}")
        out[header_key(header)] = fname
    return out


def plan_header(kind: Kind, header: list, mapping: dict[str, str] | None = None) -> tuple[Plan, int, dict]:
    """Map header cells to fields; returns the plan and how many cells matched a field."""
    extra_map = resolve_mapping(kind, mapping)
    names = [header_text(h) for h in header]
    by_field: dict[str, list[int]] = {}
    unknown = []
    for idx, name in enumerate(names):
        if not name.strip():
            continue
        key = header_key(name)
        target = extra_map.get(key) or kind.headers.get(key)
        if target is None and key in kind.fields:
            target = key
        if target is None and key in computed_header_keys(kind.name):
            continue    # a column kq computes in its listings of this kind (kqtools.labels.COMPUTED): not data
        if target is None:
            unknown.append((idx, name.strip()))
        else:
            by_field.setdefault(target, []).append(idx)
    return Plan([(f, ix[0]) for f, ix in by_field.items()], unknown, names), sum(map(len, by_field.values())), by_field


def check_plan(kind: Kind, plan: Plan, by_field: dict, source: str, line: int) -> None:
    """A column matched twice, or a required column missing, makes the file unusable."""
    for f, idxs in by_field.items():
        if len(idxs) > 1:
            cols = ", ".join(f"{_col(i)} ({plan.header[i].strip()})" for i in idxs)
            raise SourceError(f"{source}: line {line}: columns {cols} all map to field '{f}'; "
                              f"rename one or choose with --map 'HEADER={f}'")
    for f in kind.schema.get("required", []):
        if f not in by_field:
            aliases = kind.schema["properties"][f].get("x-aliases", [])[:4]
            raise SourceError(f"{source}: line {line}: no column for required field '{f}' "
                              f"(looked for {f}{', ' if aliases else ''}{', '.join(aliases)}; add one with --map 'HEADER={f}')")


def _col(idx: int) -> str:
    """Excel-style column letter for a 0-based index (A, B, ..., AA)."""
    s, n = "", idx + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


_FORMULA = "looks like a spreadsheet formula, not a value; in Excel copy the column and paste it as values"


class _Bad:
    """Marks a cell whose conversion failed (so no second reject says it is missing)."""


_BAD = _Bad()


def _extra_text(value) -> str:
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return F.to_text(value)


def _extra_json(items: list[tuple[str, str]]) -> str:
    from json.encoder import encode_basestring as enc

    return "{" + ", ".join(f"{enc(k)}: {enc(v)}" for k, v in items) + "}"


# Which schema keywords the compiled row checks implement; a kind using anything else (if/then,
# allOf, ...) is validated per row by fastjsonschema instead.
_SIMPLE_KEYWORDS = frozenset({"type", "pattern", "minLength", "maxLength", "minimum", "maximum", "enum", "format",
                              "items", "default", "description", "title"})


def _is_simple(kind: Kind) -> bool:
    if kind.name in COMPLETE and kind.name != "specialists" or kind.multi_value_fields:
        return False
    if set(kind.schema) & {"if", "then", "else", "allOf", "anyOf", "oneOf", "not", "dependencies"}:
        return False
    for prop in kind.schema["properties"].values():
        keys = {k for k in prop if not k.startswith("x-")}
        if keys - _SIMPLE_KEYWORDS:
            return False
        if prop.get("format", "date") != "date" or prop.get("x-convert") not in {
                None, "uscc", "date", "number", "integer", "boolean", "list", "code"}:
            return False
        if isinstance(prop.get("type"), list):
            return False
        items = prop.get("items", {})
        if set(items) - {"type", "enum"}:
            return False
    return True


def stage_columns(kind: Kind) -> list[str]:
    """Columns of the staging table (after ``_line``): every stored column of the kind, then ``extra``."""
    return kind.columns() + ["extra"]


def compile_row(kind: Kind, plan: Plan) -> Callable[[list, int], tuple | list]:
    """Generate the per-row function for one header plan: ``row(cells, line)`` returns the staging
    tuple ``(line, *stage_columns)`` or a list of :class:`Reject`.

    Generated code (like fastjsonschema) instead of a loop over converter objects: the common
    case of a cell costs a few inline operations, and every rare case (empty, formula, too long,
    needs converting) goes to a per-field function :func:`_field_checker` that does it fully.
    Cells that repeat (dates, codes, enumerations) are converted and checked once per distinct text.
    """
    simple = _is_simple(kind)
    props = kind.schema["properties"]
    width = max([idx + 1 for _, idx in plan.fields] + [i + 1 for i, _ in plan.unknown] + [0])
    env: dict = {"EMPTY": F.EMPTY, "_BAD": _BAD, "_MISS": _MISS, "_json_dumps": json.dumps,
                 "_extra_json": _extra_json, "_extra_text": _extra_text, "enc": _encode_basestring(),
                 "USCC_FAST": is_valid_clean, "MEMO_LIMIT": MEMO_LIMIT}
    src = ["def row(cells, line):",
           f"    if len(cells) < {width}:",
           f"        cells = [*cells, *([None] * ({width} - len(cells)))]",
           "    errs = None"]
    var: dict[str, str] = {}
    for k, (fname, idx) in enumerate(plan.fields):
        v = f"v{k}"
        var[fname] = v
        prop = props[fname]
        column = plan.header[idx].strip() or _col(idx)
        fld = kind.fields[fname]
        env[f"FULL{k}"] = full = _field_checker(kind, fname, column, simple)
        slow = [f"        {v}, e = FULL{k}(raw, line)",
                "        if e is not None:",
                "            errs = e if errs is None else errs + e"]
        src.append(f"    raw = cells[{idx}]")
        text = fld.convert is _text_converter() and fld.values is None
        if text and simple:
            # the common case: a non-empty string, not a formula, within the length limits
            fast = [f"{v}[0] != '='"]
            if "maxLength" in prop:
                fast.append(f"len({v}) <= {int(prop['maxLength'])}")
            if prop.get("minLength", 0) > 1:
                fast.append(f"len({v}) >= {int(prop['minLength'])}")
            if "pattern" in prop or "enum" in prop or "default" in prop:
                fast = ["False"]
            src += ["    if raw.__class__ is str:",
                    f"        {v} = raw.strip()",
                    f"        if {v} in EMPTY or not ({' and '.join(fast)}):",
                    f"            {v}, e = FULL{k}(raw, line)",
                    "            if e is not None:",
                    "                errs = e if errs is None else errs + e",
                    "    else:", *["    " + x for x in slow]]
        elif fld.memo is not None and simple:
            env[f"MEMO{k}"] = full.memo
            src += [f"    {v} = MEMO{k}.get(raw, _MISS) if raw.__class__ is str else _MISS",
                    f"    if {v} is _MISS:", *slow]
        elif prop.get("x-convert") == "uscc":
            src += ["    if USCC_FAST(raw):",
                    f"        {v} = raw",
                    "    else:", *slow]
        else:
            src += ["    if True:", *slow]
    if len(plan.unknown) == 1:
        (i, name), = plan.unknown
        env["EXTRA_KEY"] = "{" + _encode_basestring()(name) + ": "
        src += [f"    c = cells[{i}]",
                "    if c.__class__ is str:",
                "        c = c.strip()",
                "        extra = None if c in EMPTY else EXTRA_KEY + enc(c) + '}'",
                "    elif c is None:",
                "        extra = None",
                "    elif c.__class__ is float:  # XLSX numbers: as to_text writes them, no quoting needed",
                "        extra = EXTRA_KEY + '\"' + (str(int(c)) if c.is_integer() else repr(c)) + '\"}'",
                "    else:",
                "        extra = EXTRA_KEY + enc(_extra_text(c)) + '}'"]
    elif plan.unknown:
        env["UNKNOWN"] = tuple((i, name) for i, name in plan.unknown)
        src += ["    ex = None",
                "    for i, name in UNKNOWN:",
                "        c = cells[i]",
                "        if c is not None and not (c.__class__ is str and c.strip() in EMPTY):",
                "            if ex is None: ex = []",
                "            ex.append((name, c.strip() if c.__class__ is str else _extra_text(c)))",
                "    extra = _extra_json(ex) if ex else None"]
    else:
        src.append("    extra = None")
    src += ["    if errs is not None:", "        return errs"]
    cols = stage_columns(kind)
    if simple:
        out = []
        for c in cols:
            if c == "extra":
                out.append("extra")
            elif c not in var:
                # a required field without a column never gets here (check_plan); defaults apply
                out.append(repr(_store(props[c]["default"])) if c in props and "default" in props[c] else "None")
            else:
                t = props[c].get("type")
                if t == "boolean":
                    out.append(f"(None if {var[c]} is None else int({var[c]}))")
                elif t == "array":
                    out.append(f"(None if {var[c]} is None else _json_dumps({var[c]}, ensure_ascii=False))")
                else:
                    out.append(var[c])
        src.append(f"    return (line, {', '.join(out)},)")
    else:
        env.update(_complete_record=_complete_record, KIND=kind, PLAN=plan)
        src.append("    rec = {" + ", ".join(f"{f!r}: {v}" for f, v in var.items()) + "}")
        src.append("    if extra is not None: rec['extra'] = extra")
        src.append("    return _complete_record(KIND, PLAN, rec, line)")
    code = "\n".join(src) + "\n"
    exec(compile(code, f"<kq row {kind.name}>", "exec"), env)  # noqa: S102 - generated from our own schema
    row = env["row"]
    row.source = code  # for debugging: print(compile_row(kind, plan).source)
    return row


class _Miss:
    pass


_MISS = _Miss()


def _encode_basestring():
    from json.encoder import encode_basestring  # C; same output as json.dumps(ensure_ascii=False)

    return encode_basestring


def _field_checker(kind: Kind, fname: str, column: str, simple: bool):
    """``check(raw, line) -> (value, rejects or None)``: one cell fully converted and checked.

    For simple kinds the checks come from the schema property (type, enum, pattern, lengths, bounds,
    default, required); other kinds are validated as a whole record by the schema validator later.
    Valid results for text cells are remembered in the field's memo (when it has one).
    """
    prop = kind.schema["properties"][fname]
    fld = kind.fields[fname]
    required = fname in kind.schema.get("required", ())
    is_text = fld.convert is _text_converter() and fld.values is None
    checks = _checks(prop) if simple else []
    has_default = simple and "default" in prop
    default = prop.get("default")
    memo = {} if (simple and fld.memo is not None) else None  # raw text -> checked value, for this import
    convert = fld._convert if memo is not None else fld
    is_list = prop.get("type") == "array"

    def check(raw, line):
        if raw.__class__ is list or raw.__class__ is dict:  # JSON arrays and objects
            if raw.__class__ is dict or not is_list:
                shown = json.dumps(raw, ensure_ascii=False)[:200]
                got = "an object" if raw.__class__ is dict else "a list"
                want = "a list of values" if is_list else "a single value"
                return _BAD, [Reject(line, fname, shown, f"expected {want}, got {got}", column)]
        if raw is None or (raw.__class__ is str and raw.strip() in F.EMPTY):
            value = None
        elif is_text:
            value = raw.strip() if raw.__class__ is str else F.to_text(raw)
            if value[:1] == "=" and len(value) > 1:
                return _BAD, [Reject(line, fname, value[:200], _FORMULA, column)]
        else:
            try:
                value = convert(raw)
            except ValueError as exc:
                return _BAD, [Reject(line, fname, F.to_text(raw)[:200], str(exc), column)]
        if value is None:
            if has_default:
                value = default
            elif required and simple:
                shown = raw.strip() if raw.__class__ is str else ""  # '', or a placeholder such as 无
                return _BAD, [Reject(line, fname, shown, f"required value missing: {fname}", column)]
        if value is not None:
            for test, reason in checks:
                if test(value):
                    shown = value if isinstance(value, str) else F.to_text(raw)
                    return _BAD, [Reject(line, fname, shown[:200], reason, column)]
        if memo is not None and raw.__class__ is str and len(memo) < MEMO_LIMIT:
            memo[raw] = value
        return value, None

    check.memo = memo
    return check


def _checks(prop: dict) -> list[tuple[Callable[[Any], bool], str]]:
    """(test that means invalid, reason) for one schema property."""
    checks: list = []
    t = prop.get("type")
    if t == "string":
        if "maxLength" in prop:
            n = int(prop["maxLength"])
            checks.append((lambda v: len(v) > n, f"longer than {n} characters"))
        if prop.get("minLength", 0) > 0:
            m = int(prop["minLength"])
            checks.append((lambda v: len(v) < m, f"shorter than {m} characters"))
        if "pattern" in prop and prop.get("x-convert") != "uscc":
            pat = re.compile(prop["pattern"])
            checks.append((lambda v: not pat.search(v), f"not a valid value (expected the pattern {prop['pattern']})"))
    if t in ("number", "integer"):
        if "minimum" in prop:
            lo = prop["minimum"]
            checks.append((lambda v: v < lo, f"must be at least {lo}"))
        if "maximum" in prop:
            hi = prop["maximum"]
            checks.append((lambda v: v > hi, f"must be at most {hi}"))
    if "enum" in prop:
        allowed = frozenset(prop["enum"])
        checks.append((lambda v: v not in allowed, f"expected one of {', '.join(map(str, prop['enum']))}"))
    items = prop.get("items", {})
    if t == "array" and "enum" in items:
        allowed_items = frozenset(items["enum"])
        checks.append((lambda v: not allowed_items.issuperset(v), f"expected items among {', '.join(items['enum'])}"))
    return checks


def _text_converter():
    from .kinds import CONVERTERS

    return CONVERTERS[None]


def _complete_record(kind: Kind, plan: Plan, rec: dict, line: int):
    """Kinds with conditional rules: fill derived fields, validate the record against the whole schema."""
    # values given as objects set several fields (专精特新"小巨人" -> kind zjtx, level national)
    for fname in kind.multi_value_fields:
        value = rec.get(fname)
        if isinstance(value, dict):
            for k, v in value.items():
                if k == fname or not rec.get(k):
                    rec[k] = v
    complete = COMPLETE.get(kind.name)
    if complete:
        complete(rec, kind.schema)
    try:
        kind.validate({k: v for k, v in rec.items() if v is not None})
    except Exception as exc:  # fastjsonschema.JsonSchemaValueException
        return [_schema_reject(exc, rec, line, plan)]
    return (line, *[_store(rec.get(c)) for c in stage_columns(kind)])


def normalize_row(kind: Kind, plan: Plan, cells: list, line: int) -> tuple[dict | None, list[Reject]]:
    """One raw row -> (canonical record, []) or (None, rejects). Pure; for callers outside the import."""
    out = compile_row(kind, plan)(list(cells), line)
    if out.__class__ is list:
        return None, out
    return {c: v for c, v in zip(stage_columns(kind), out[1:]) if v is not None}, []


def _schema_reject(exc, rec, line, plan) -> Reject:
    """One schema violation as a reject naming the field, its column (when it came from one) and
    the value ('' when missing)."""
    path = getattr(exc, "name", "") or ""
    fname = path.split(".", 1)[1] if path.startswith("data.") else None
    message = getattr(exc, "message", str(exc))
    rule = getattr(exc, "rule", "")
    if rule == "required" or "must contain" in message:
        missing = message.split("[", 1)[-1].rstrip("] properties").replace("'", "")
        fname = missing.split(",")[0].strip() or None
        return Reject(line, fname, "", f"required value missing: {missing}", _column_of(plan, fname))
    column = _column_of(plan, fname)
    value = rec.get(fname) if fname else None
    shown = "" if value is None else value if isinstance(value, str) else F.to_text(value)
    if rule == "maxLength":
        return Reject(line, fname, shown[:80] + "…", f"longer than {exc.rule_definition} characters", column)
    if rule == "minLength" and fname == "level":
        return Reject(line, fname, shown, "level is required for 专精特新 (zjtx): national, provincial, city or district",
                      column)
    reason = message.replace("data." + (fname or ""), fname or "row", 1) if fname else message
    return Reject(line, fname, shown[:200], reason, column)


def _column_of(plan: Plan, fname: str | None) -> str | None:
    """The header of the column a field came from (None when the source has no such column)."""
    return next(((plan.header[i].strip() or _col(i)) for f, i in plan.fields if f == fname), None)


# ------------------------------------------------------------------ records from a source
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
    source.field_columns = {f: _column_of(plan, f) for f, _ in plan.fields}  # type: ignore[attr-defined]
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
                          _col(at)))
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
                columns.setdefault(f, _column_of(plan, f))
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
        where = {f: plan.header[i].strip() or _col(i) for f, i in plan.fields}

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




# ------------------------------------------------------------------ staging and merging
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run_import(db, source: Source, kind_name: str, *, strict: bool = False, mapping: dict | None = None,
               progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import one source into the database; see the module docstring for the guarantees.

    Rows are read and converted in a worker thread; valid rows are upserted chunk by chunk inside
    one ``BEGIN IMMEDIATE`` transaction (taken when the first chunk is ready), which commits only
    at the end: a killed import, an unusable source or ``--strict`` with rejects leaves nothing.

    Each table row records ``seen_batch``/``seen_line`` (the last import that listed it, and where)
    and ``batch_id`` (the last import that changed it). A row whose key this import has already
    written (``seen_batch`` = this batch) is not overwritten: that is how a second row with the
    same key in one file is found, without holding the file's keys in memory.
    """
    kind = get_kind(kind_name)
    resolve_mapping(kind, mapping)  # an unknown --map target fails before anything is read
    conn = db.conn
    from .kinds import allow_codes

    allow_codes(r[0] for r in conn.execute("SELECT uscc FROM uscc_allowlist"))
    result = ImportResult(kind=kind_name, source=source.name, format=source.format, encoding=source.encoding,
                          sheet=source.sheet)
    old_cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = {-CACHE_KIB}")  # for this import only
    try:
        return _run(conn, kind, source, result, strict, mapping, progress)
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute(f"PRAGMA cache_size = {old_cache}")
        conn.execute("DROP TABLE IF EXISTS temp.kq_rejects")


def _run(conn, kind, source, result, strict, mapping, progress):
    started = _now()
    conn.execute("DROP TABLE IF EXISTS temp.kq_rejects")
    conn.execute("CREATE TEMP TABLE kq_rejects (line INTEGER, field TEXT, value TEXT, reason TEXT, column_name TEXT)")
    pending: list[tuple] = []

    def flush_rejects():
        if pending:
            conn.executemany("INSERT INTO temp.kq_rejects VALUES (?,?,?,?,?)", pending)
            pending.clear()

    cols = stage_columns(kind)
    table = _q(kind.table)
    key_pos = [cols.index(k) + 1 for k in kind.key]
    batch_id = max_rowid = None
    statements: dict[frozenset, str] = {}
    valid = duplicates = 0
    guard = None
    if kind.name == "visits":  # as `kq visits log`: a known specialist, not a date in the future
        guard = visit_guard((r[0] for r in conn.execute("SELECT id FROM specialists")), dt.date.today().isoformat())
    for chunk, chunk_rejects in _chunk_source(source, kind, mapping, guard):
        pending.extend((r.line, r.field, r.value, r.reason, r.column) for r in chunk_rejects)
        if batch_id is None:
            conn.execute("BEGIN IMMEDIATE")
            batch_id = conn.execute(
                "INSERT INTO batches (kind, source, sha256, format, encoding, sheet, read, inserted, updated, unchanged,"
                " rejected, unknown_columns, started_at, finished_at) VALUES (?,?,'',?,?,?,0,0,0,0,0,'[]',?,?)",
                (kind.name, source.name, source.format, source.encoding, source.sheet, started, started)).lastrowid
            max_rowid = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]
        if len(pending) >= CHUNK:
            flush_rejects()
        if not chunk:
            continue
        present = frozenset(getattr(source, "merge_columns", ())) or frozenset(cols)
        sql = statements.get(present)
        if sql is None:
            sql = statements[present] = _upsert_sql(kind, cols, present, batch_id, fresh=not max_rowid)
        before = conn.total_changes
        conn.executemany(sql, chunk)
        valid += len(chunk)
        if conn.total_changes - before < len(chunk):  # some keys were already written by this import
            duplicates += _reject_duplicates(conn, kind, chunk, key_pos, batch_id, pending,
                                             getattr(source, "field_columns", {}))
        if progress:
            progress(valid)
    flush_rejects()
    result.read = getattr(source, "read", 0)
    result.unknown_columns = list(getattr(source, "unknown_columns", []))
    result.sha256 = source.sha256
    result.rejected = conn.execute("SELECT count(DISTINCT line) FROM temp.kq_rejects").fetchone()[0]
    result.rejects = [Reject(l, f, v, r, c) for l, f, v, r, c in conn.execute(
        "SELECT line, field, value, reason, column_name FROM temp.kq_rejects ORDER BY line, rowid")]
    if batch_id is None:  # nothing at all came out of the source (every row rejected, or none)
        if strict and result.rejected:
            return result
        conn.execute("BEGIN IMMEDIATE")
        batch_id = conn.execute(
            "INSERT INTO batches (kind, source, sha256, format, encoding, sheet, read, inserted, updated, unchanged,"
            " rejected, unknown_columns, started_at, finished_at) VALUES (?,?,'',?,?,?,0,0,0,0,0,'[]',?,?)",
            (kind.name, source.name, source.format, source.encoding, source.sheet, started, started)).lastrowid
        max_rowid = 0
    if strict and result.rejected:
        conn.execute("ROLLBACK")
        return result
    if not max_rowid:  # the table was empty: every row not rejected as a duplicate was inserted
        result.inserted, result.updated = valid - duplicates, 0
    else:
        result.inserted = conn.execute(f"SELECT count(*) FROM {table} WHERE rowid > ?", (max_rowid,)).fetchone()[0]
        result.updated = conn.execute(
            f"SELECT count(*) FROM {table} WHERE rowid <= ? AND batch_id = ?", (max_rowid, batch_id)).fetchone()[0]
    result.unchanged = valid - duplicates - result.inserted - result.updated
    if kind.name in ("designations", "metrics", "visits") and "name" in getattr(source, "merge_columns", ()):
        before = conn.total_changes
        conn.execute(f"INSERT OR IGNORE INTO enterprises (uscc, name, batch_id, seen_batch) "
                     f"SELECT uscc, name, ?, ? FROM {table} WHERE seen_batch = ? AND name IS NOT NULL AND name != '' "
                     f"GROUP BY uscc", (batch_id, batch_id, batch_id))
        result.new_enterprises = conn.total_changes - before
    conn.execute("INSERT INTO rejects (batch_id, line, field, value, reason) "
                 "SELECT ?, line, field, value, reason FROM temp.kq_rejects ORDER BY line, rowid", (batch_id,))
    conn.execute("UPDATE batches SET sha256=?, read=?, inserted=?, updated=?, unchanged=?, rejected=?, "
                 "unknown_columns=?, finished_at=? WHERE id=?",
                 (result.sha256, result.read, result.inserted, result.updated, result.unchanged, result.rejected,
                  json.dumps(result.unknown_columns, ensure_ascii=False), _now(), batch_id))
    conn.execute("COMMIT")
    result.batch, result.written = batch_id, True
    return result


def _upsert_sql(kind: Kind, cols: list[str], present: frozenset, batch_id: int, fresh: bool = False) -> str:
    """INSERT of one staged tuple ``(line, *cols)``; on a key conflict, update the columns this source
    speaks for, unless this import already wrote the row (then it is a duplicate: left alone).

    ``fresh``: the table was empty when this import took its write lock, so a conflict can only be
    a duplicate within the file, which is left alone either way: a plain ``INSERT OR IGNORE`` does
    the same (and costs about a third less SQLite time than the upsert clause).
    """
    table = _q(kind.table)
    keys = ", ".join(_q(k) for k in kind.key)
    data = [c for c in cols if c in present and c not in kind.key]
    col_list = ", ".join(_q(c) for c in cols)
    params = ", ".join("?" * len(cols))
    b = int(batch_id)
    if fresh:
        return f"INSERT OR IGNORE INTO {table} (seen_line, {col_list}, batch_id, seen_batch) VALUES (?, {params}, {b}, {b})"
    sql = (f"INSERT INTO {table} (seen_line, {col_list}, batch_id, seen_batch) VALUES (?, {params}, {b}, {b}) "
           f"ON CONFLICT ({keys}) DO UPDATE SET ")
    sets = [f"{_q(c)} = excluded.{_q(c)}" for c in data]
    changed = " OR ".join(f"{table}.{_q(c)} IS NOT excluded.{_q(c)}" for c in data) or "false"
    sets += [f"batch_id = CASE WHEN {changed} THEN {b} ELSE {table}.batch_id END",
             "seen_batch = excluded.seen_batch", "seen_line = excluded.seen_line"]
    # SET evaluates every right-hand side against the old row, so the CASE sees the old values
    return sql + ", ".join(sets) + f" WHERE {table}.seen_batch IS NOT {b}"


def _chunks(records_fn, source, kind, mapping, guard=None):
    """``(rows, rejects)`` chunks of the valid staging tuples and the rejects met while reading them.

    (A reader thread overlapping SQLite was tried: SQLite releases the GIL on every row, and
    getting it back from a busy converting thread cost more than the overlap won.)
    """
    pending: list[Reject] = []
    it = records_fn(source, kind, mapping, pending.append, guard)
    while True:
        chunk = list(islice(it, CHUNK))
        rejects, pending[:] = pending[:], []
        if not chunk and not rejects:
            return
        yield chunk, rejects


def _chunk_source(source, kind, mapping, guard=None):
    """The chunks of a source, read and checked in this process.

    (A forked reader process, checking rows on one core while this one writes on the other, was
    tried and removed: on this shared 2-core machine it was slower in wall and CPU time, 300,000
    rows 25.8-31.9 s against 21.0-32.6 s one-process, and it made behaviour depend on the load.)
    """
    return _chunks(records, source, kind, mapping, guard)


def _store(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _reject_duplicates(conn, kind: Kind, chunk: list[tuple], key_pos: list[int], batch_id: int,
                       pending: list, field_columns: dict | None = None) -> int:
    """Find the rows of ``chunk`` that an earlier row of this import already wrote; reject each,
    naming the line of the first. Runs only for chunks where some upsert changed nothing."""
    table = _q(kind.table)
    where = " AND ".join(f"{_q(k)} IS ?" for k in kind.key)
    label = "+".join(kind.key)
    column = "+".join(c for c in ((field_columns or {}).get(k) for k in kind.key) if c) or None
    found = 0
    for row in chunk:
        key = [row[i] for i in key_pos]
        hit = conn.execute(f"SELECT seen_line FROM {table} WHERE {where} AND seen_batch = ?", (*key, batch_id)).fetchone()
        if hit is None:  # INSERT OR IGNORE (fresh table) skipped it for a constraint the row checks missed
            found += 1
            pending.append((row[0], label, "/".join("" if k is None else str(k) for k in key),
                            "could not be stored: it breaks a constraint of the database table", column))
        elif hit[0] != row[0]:
            found += 1
            shown = "/".join("" if k is None else str(k) for k in key)
            pending.append((row[0], label, shown, f"duplicate {label}: the same record is on line {hit[0]}", column))
    return found

