"""The row-code compiler: one generated Python function per header plan checks and converts a row.

Generated code (like fastjsonschema) instead of a loop over converter objects: the common case of a
cell costs a few inline operations, and every rare case (empty, formula-like, too long, needs
converting) goes to a per-field function (:func:`_field_checker`) that does it fully. The checks of
the simple kinds come from the schema (type, enum, pattern, lengths, bounds, default, required);
kinds with conditional rules (designations, credit) are validated per record by fastjsonschema.
A property test (tests/test_import_compiled.py) holds the generated checks to the schema validator.
"""
from __future__ import annotations

import json
import re
from json.encoder import encode_basestring as _enc  # C; the same output as json.dumps(ensure_ascii=False)
from typing import Any, Callable

from .. import fields as F
from ..clock import today
from ..kinds import COMPLETE, MEMO_LIMIT, Kind
from ..uscc import is_valid_clean
from .checks import checks_for, run_checks
from .plan import Plan, Reject, column_of, merge_columns, stage_columns

_FORMULA = "looks like a spreadsheet formula, not a value; in Excel copy the column and paste it as values"
# text beginning with one of these is what Excel would take for a formula (kq's CSV export puts an
# apostrophe before it, which the import removes again); stored as text, counted in the summary
FORMULA_START = frozenset("=+-@")
_SLOW_START = frozenset("=+-@'#")     # first characters the generated fast path leaves to the full check
# ('#': an Excel error value such as #N/A, rejected by the full check)
_NEUTRALIZED = frozenset("=+-@\t\r")   # after kq's apostrophe


class _Bad:
    """Marks a cell whose conversion failed (so no second reject says it is missing)."""


_BAD = _Bad()


def unneutralize(text: str, stats: dict | None) -> str:
    """Remove exactly the apostrophe kq's CSV export puts before text that begins like a formula."""
    if text[:1] == "'" and text[1:2] in _NEUTRALIZED:
        if stats is not None:
            stats["apostrophes_removed"] = stats.get("apostrophes_removed", 0) + 1
        return text[1:]
    return text


def _text_cell(raw: str, stats: dict | None) -> str:
    """A stripped text cell with kq's neutralizing apostrophe removed; formula-like text counted."""
    value = unneutralize(raw.strip(), stats).strip()
    if value[:1] in FORMULA_START and stats is not None and not _is_number(value):
        stats["formula_like"] = stats.get("formula_like", 0) + 1
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _extra_text(value) -> str:
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return F.to_text(value)


def _extra_value(c, stats: dict | None) -> str | None:
    """One cell of an unknown column as a JSON string (``None``: empty). The common cases, a plain
    text cell and an XLSX number, are done inline by the generated code; this is everything else."""
    if c is None:
        return None
    if c.__class__ is str:
        c = c.strip()
        if c in F.EMPTY:
            return None
        return _enc(_text_cell(c, stats)) if c[:1] in _SLOW_START else _enc(c)
    if c.__class__ is float:  # XLSX numbers: as to_text writes them
        return '"' + (str(int(c)) if c.is_integer() else repr(c)) + '"'
    return _enc(_extra_text(c))


def _extra_join(pairs) -> str | None:
    """``{"key": value, ...}`` of the pairs whose value is not None (values already JSON strings)."""
    parts = [k + v for k, v in pairs if v is not None]
    return "{" + ", ".join(parts) + "}" if parts else None


def _extra_patch(pairs) -> str:
    """As :func:`_extra_join`, with ``null`` for the empty cells: a JSON merge patch (SQLite's
    ``json_patch``) that leaves the keys of columns the row does not have alone."""
    return "{" + ", ".join(k + ("null" if v is None else v) for k, v in pairs) + "}"


# Which schema keywords the compiled row checks implement; a kind using anything else (if/then,
# allOf, ...) is validated per row by fastjsonschema instead.
_SIMPLE_KEYWORDS = frozenset({"type", "pattern", "minLength", "maxLength", "minimum", "maximum", "enum", "format",
                              "items", "default", "description", "title", "$comment"})


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
                None, "uscc", "date", "number", "integer", "year", "boolean", "list", "code"}:
            return False
        if isinstance(prop.get("type"), list):
            return False
        items = prop.get("items", {})
        if set(items) - {"type", "enum"}:
            return False
    return True



def shape_columns(kind: Kind, plan: Plan) -> tuple[str, ...]:
    """The stored columns a row read with this plan speaks for, in staging order: its fields, the key,
    derived fields, ``extra`` when there are unknown columns. Other columns are left as they are."""
    merge = merge_columns(kind, plan)
    return tuple(c for c in stage_columns(kind) if c in merge)


def compile_row(kind: Kind, plan: Plan, columns=None, stats: dict | None = None,
                patch: bool = False, full_width: bool = False) -> Callable[[list, int], tuple | list]:
    """Generate the per-row function for one header plan: ``row(cells, line)`` returns the staged
    tuple ``(line, *columns)`` (default: every column of :func:`stage_columns`) or a list of
    :class:`Reject`. ``stats`` counts formula-like text and removed apostrophes. ``patch``: the row
    lacks some unknown columns of its file; ``extra`` is then followed by a JSON merge patch (see
    :func:`_extra_patch`). ``full_width``: the caller passes only rows with a cell for every column
    of the plan (no padding needed).

    Generated code (like fastjsonschema) instead of a loop over converter objects: the common
    case of a cell costs a few inline operations, and every rare case (empty, formula-like, too long,
    needs converting) goes to a per-field function :func:`_field_checker` that does it fully.
    Cells that repeat (dates, codes, enumerations) are converted and checked once per distinct text.
    """
    simple = _is_simple(kind)
    props = kind.schema["properties"]
    cols = list(columns) if columns is not None else stage_columns(kind)
    width = max([idx + 1 for _, idx in plan.fields] + [i + 1 for i, _ in plan.unknown] + [0])
    enc = _enc
    env: dict = {"EMPTY": F.EMPTY, "SLOW": _SLOW_START, "_BAD": _BAD, "_MISS": _MISS, "_json_dumps": json.dumps,
                 "_extra_value": _extra_value, "_extra_join": _extra_join, "_extra_patch": _extra_patch,
                 "enc": enc, "STATS": stats, "USCC_FAST": is_valid_clean, "MEMO_LIMIT": MEMO_LIMIT}
    src = ["def row(cells, line):"]
    if not full_width:
        src += [f"    if len(cells) < {width}:",
                f"        cells = [*cells, *([None] * ({width} - len(cells)))]"]
    src.append("    errs = None")
    var: dict[str, str] = {}
    for k, (fname, idx) in enumerate(plan.fields + [(f, None) for f, _ in plan.constants]):
        v = f"v{k}"
        var[fname] = v
        prop = props[fname]
        column = plan.column_name(idx) if idx is not None else "--set"
        fld = kind.fields[fname]
        env[f"FULL{k}"] = full = _field_checker(kind, fname, column, simple, stats, plan.units.get(fname))
        slow = [f"        {v}, e = FULL{k}(raw, line)",
                "        if e is not None:",
                "            errs = e if errs is None else errs + e"]
        if idx is None:  # --set FIELD=VALUE: the same value, read like a cell, for every row
            env[f"CONST{k}"] = dict(plan.constants)[fname]
            src.append(f"    raw = CONST{k}")
        else:
            src.append(f"    raw = cells[{idx}]")
        text = fld.convert is _text_converter() and fld.values is None
        if text and simple:
            # the common case: a non-empty string, not formula-like, within the length limits
            fast = [f"{v}[0] not in SLOW"]
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
    src += _extra_source(plan, env, patch)
    src += ["    if errs is not None:", "        return errs"]
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
        if patch:
            out.append("patch")
        src.append(f"    return (line, {', '.join(out)},)")
    else:
        env.update(_complete_record=_complete_record, KIND=kind, PLAN=plan, COLS=cols,
                   CHECKS=checks_for(kind.name), TODAY=today().isoformat())
        src.append("    rec = {" + ", ".join(f"{f!r}: {v}" for f, v in var.items()) + "}")
        src.append("    if extra is not None: rec['extra'] = extra")
        src.append("    out = _complete_record(KIND, PLAN, rec, line, COLS, CHECKS, TODAY)")
        src.append("    return out if out.__class__ is list else (*out, patch)" if patch else "    return out")
    code = "\n".join(src) + "\n"
    exec(compile(code, f"<kq row {kind.name}>", "exec"), env)  # noqa: S102 - generated from our own schema
    row = env["row"]
    row.source = code  # for debugging: print(compile_row(kind, plan).source)
    return row


def _extra_source(plan: Plan, env: dict, patch: bool) -> list[str]:
    """Generated lines that build ``extra`` (JSON text, or None) from the unknown columns: inline for
    the common case of plain text in every column, :func:`_extra_value` for anything else."""
    if not plan.unknown:
        return ["    extra = None"] + (["    patch = None"] if patch else [])
    enc = env["enc"]
    src, names = [], []
    for n, (i, name) in enumerate(plan.unknown):
        x, key = f"x{n}", f"K{n}"
        env[key] = enc(name) + ": "
        names.append((key, x))
        src += [f"    {x} = cells[{i}]",
                f"    if {x}.__class__ is str:",
                f"        {x} = {x}.strip()",
                f"        {x} = None if {x} in EMPTY else enc({x}) if {x}[0] not in SLOW else _extra_value({x}, STATS)",
                f"    elif {x}.__class__ is float:  # an XLSX number, as Excel shows it",
                f"        {x} = '\"' + (str(int({x})) if {x}.is_integer() else repr({x})) + '\"'",
                f"    elif {x} is not None:",
                f"        {x} = _extra_value({x}, STATS)"]
    pairs = "(" + ", ".join(f"({k}, {x})" for k, x in names) + ",)"
    if patch:
        src += [f"    extra = _extra_join({pairs})", f"    patch = _extra_patch({pairs})"]
    elif len(names) == 1:
        k, x = names[0]
        src.append(f"    extra = None if {x} is None else '{{' + {k} + {x} + '}}'")
    else:
        whole = "f'{{" + ", ".join(f"{{{k}}}{{{x}}}" for k, x in names) + "}}'"
        src += [f"    if {' and '.join(f'{x} is not None' for _, x in names)}:",
                f"        extra = {whole}",
                "    else:",
                f"        extra = _extra_join({pairs})"]
    return src


class _Miss:
    pass


_MISS = _Miss()


def _field_checker(kind: Kind, fname: str, column: str, simple: bool, stats: dict | None = None,
                   header_unit=None):
    """``check(raw, line) -> (value, rejects or None)``: one cell fully converted and checked.

    For simple kinds the checks come from the schema property (type, enum, pattern, lengths, bounds,
    default, required); other kinds are validated as a whole record by the schema validator later.
    Date bounds (``x-min-date``/``x-max-date``) are checked here for every kind. Valid results for
    text cells are remembered in the field's memo (when it has one).
    """
    prop = kind.schema["properties"][fname]
    fld = kind.fields[fname]
    required = fname in kind.schema.get("required", ())
    is_text = fld.convert is _text_converter() and fld.values is None
    checks = (_checks(prop) if simple else []) + _date_checks(prop)
    has_default = simple and "default" in prop
    default = prop.get("default")
    memo = {} if (simple and fld.memo is not None) else None  # raw text -> checked value, for this import
    convert = fld._convert if memo is not None else fld
    if fld.unit:  # a quantity: the column's unit (from its header) or a cell's own unit, converted exactly
        from ..kinds import units_table
        from ..units import quantity_converter

        counts = None
        if stats is not None:
            counts = stats.setdefault("unit_cells", {}).setdefault(column, {})
        convert = quantity_converter(fname, fld.unit, units_table(), header_unit, counts)
        if fld.convert is F.to_integer:
            convert = _whole(convert)
    is_list = prop.get("type") == "array"

    def check(raw, line):
        if raw.__class__ is list or raw.__class__ is dict:  # JSON arrays and objects
            if raw.__class__ is dict or not is_list:
                shown = json.dumps(raw, ensure_ascii=False)[:200]
                got = "an object" if raw.__class__ is dict else "a list"
                want = "a list of values" if is_list else "a single value"
                return _BAD, [Reject(line, fname, shown, f"expected {want}, got {got}", column)]
        key = raw
        if raw.__class__ is str:
            raw = raw.strip()
            if raw[:1] == "'":
                raw = unneutralize(raw, stats)
        if raw.__class__ is str and raw in F.EXCEL_ERRORS:
            return _BAD, [Reject(line, fname, raw, F.EXCEL_ERROR_REASON, column)]
        if raw is None or (raw.__class__ is str and raw.strip() in F.EMPTY):
            value = None
        elif is_text:
            value = _text_cell(raw, stats) if raw.__class__ is str else F.to_text(raw)
        elif raw.__class__ is str and raw[:1] == "=" and len(raw) > 1:
            return _BAD, [Reject(line, fname, raw[:200], _FORMULA, column)]
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
                    return _BAD, [Reject(line, fname, shown[:200], reason(value) if callable(reason) else reason,
                                         column)]
        if memo is not None and key.__class__ is str and len(memo) < MEMO_LIMIT:
            memo[key] = value
        return value, None

    check.memo = memo
    return check


def _whole(convert):
    def whole(raw):
        value = convert(raw)
        if not value.is_integer():
            raise ValueError(f"not a whole number: {raw!r}")
        return int(value)
    return whole


def _date_checks(prop: dict) -> list:
    """``x-min-date``/``x-max-date`` (an ISO date, or ``today``) of a date field."""
    if prop.get("x-convert") != "date":
        return []
    out = []
    lo, hi = prop.get("x-min-date"), prop.get("x-max-date")
    if lo:
        lo_iso = today().isoformat() if lo == "today" else lo
        out.append((lambda v: v < lo_iso, f"before {lo_iso}: not a real date for this field"))
    if hi:
        hi_iso = today().isoformat() if hi == "today" else hi
        what = "in the future" if hi == "today" else f"after {hi_iso}"
        out.append((lambda v: v > hi_iso, lambda v: f"{v} is {what}"))
    return out


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
    from ..kinds import CONVERTERS

    return CONVERTERS[None]


def _complete_record(kind: Kind, plan: Plan, rec: dict, line: int, cols=None, checks=(), today_iso: str = ""):
    """Kinds with conditional rules: fill derived fields, validate the record against the whole
    schema, then run the kind's cross-field checks (:mod:`.checks`)."""
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
    if checks:
        problems = run_checks(checks, rec, today_iso)
        if problems:
            return [Reject(line, f, F.to_text(rec.get(f)) if rec.get(f) is not None else "", why, column_of(plan, f))
                    for f, why in problems]
    return (line, *[_store(rec.get(c)) for c in (cols if cols is not None else stage_columns(kind))])


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
        return Reject(line, fname, "", f"required value missing: {missing}", column_of(plan, fname))
    column = column_of(plan, fname)
    value = rec.get(fname) if fname else None
    shown = "" if value is None else value if isinstance(value, str) else F.to_text(value)
    if rule == "maxLength":
        return Reject(line, fname, shown[:80] + "…", f"longer than {exc.rule_definition} characters", column)
    if rule in ("minimum", "maximum"):  # worded as the generated checks word them
        bound = "at least" if rule == "minimum" else "at most"
        return Reject(line, fname, shown[:200], f"must be {bound} {exc.rule_definition}", column)
    if rule == "minLength" and fname == "level":
        return Reject(line, fname, shown, "level is required for 专精特新 (zjtx): national, provincial, city or district",
                      column)
    reason = message.replace("data." + (fname or ""), fname or "row", 1) if fname else message
    return Reject(line, fname, shown[:200], reason, column)




def _store(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value
