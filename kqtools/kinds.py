"""The six import kinds, read from their JSON Schemas in ``schemas/``.

A schema is the single source of truth for a kind: its table, key, fields,
required fields, the Chinese headers accepted (``x-aliases``), the enumeration
values accepted (``x-values``) and how a raw cell is read (``x-convert``).
"""
from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

from . import fields as F
from .uscc import check_uscc

KINDS = ("enterprises", "designations", "metrics", "credit", "specialists", "visits", "requests")


def load_schema(name: str) -> dict:
    """A schema shipped with the package (``schemas/NAME.schema.json``)."""
    path = resources.files("kqtools.schemas").joinpath(f"{name}.schema.json")
    return json.loads(path.read_text(encoding="utf-8"))


def header_key(header: str) -> str:
    """Headers match ignoring width, case, spaces, a leading '*' and a trailing unit in brackets."""
    text = unicodedata.normalize("NFKC", str(header)).strip().lstrip("*＊").strip()
    text = re.sub(r"\s*[(\[][^()\[\]]*[)\]]\s*$", "", text)
    return F.lookup_key(text)


_TRAILING_BRACKET = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]\s*$")


def header_unit(header: str) -> str | None:
    """The text in a trailing bracket of a header (``营业收入（元）`` -> ``元``), or None."""
    m = _TRAILING_BRACKET.search(unicodedata.normalize("NFKC", str(header)).strip())
    return m.group(1).strip() or None if m else None


# columns of no field that are left out rather than kept in ``extra``: the row number clerks put
# first (序号), and the two columns kq's rejects file adds (行号, 错误原因), so that a fixed rejects
# file imports as it is
IGNORED_HEADERS = frozenset(header_key(h) for h in ("序号", "序", "No.", "行号", "错误原因"))

# rows below the data that are not data: totals, signatures, stamps and notes (the first cell with a
# value begins with one of these); skipped and counted, not rejected
FOOTER_STARTS = ("合计", "总计", "小计", "共计", "填表人", "填报人", "制表人", "审核人", "负责人", "填报单位", "填表单位",
                 "填报日期", "填表日期", "盖章", "单位盖章", "注：", "注:", "说明：", "说明:", "备注：", "备注:")

MEMO_LIMIT = 50_000  # distinct raw strings remembered per field (dates, codes, enumerations repeat a lot)


@dataclass
class Field:
    name: str
    convert: Callable[[Any], Any]
    values: dict[str, Any] | None = None   # enumeration aliases: lookup_key(raw) -> canonical
    memo: dict | None = None               # raw string -> canonical value, for converters worth caching
    unit: str | None = None                # the canonical unit of a quantity (x-unit: 万元, 亩, ...)
    open_values: bool = False              # x-values add to what the converter reads (在岗 -> true, 全区 -> [])
    shown_values: str = ""                 # the accepted values for messages: Chinese first, then canonical

    def __call__(self, raw):
        memo = self.memo
        if memo is not None and raw.__class__ is str:
            value = memo.get(raw)
            if value is None:
                value = self._convert(raw)
                if len(memo) < MEMO_LIMIT and value.__class__ is not list:
                    memo[raw] = value
            return value
        return self._convert(raw)

    def _convert(self, raw):
        if self.values is None:
            return self.convert(raw)
        if self.open_values:
            key = F.lookup_key(F.to_text(raw)) if not isinstance(raw, (list, tuple)) else None
            return self.values[key] if key in self.values else self.convert(raw)
        if isinstance(raw, (list, tuple)) or self.convert is F.to_list:
            return [self._one(x) for x in F.to_list(raw)]
        return self._one(raw)

    def _one(self, raw):
        key = F.lookup_key(F.to_text(raw))
        if key in self.values:
            return self.values[key]
        raise ValueError(f"unknown value {F.to_text(raw)!r}; expected one of {self.shown_values}")


@dataclass
class Kind:
    name: str
    schema: dict
    table: str
    key: list[str]
    fields: dict[str, Field]
    headers: dict[str, str]           # header_key -> field
    validate: Callable[[dict], Any]
    list_fields: frozenset = field(default_factory=frozenset)
    multi_value_fields: tuple = ()    # enumerations whose aliases may set several fields at once

    def columns(self) -> list[str]:
        """Stored columns: the schema's fields, then key columns computed on import (credit's record_key)."""
        return list(self.fields) + [k for k in self.key if k not in self.fields]


def _uscc(raw):
    code, error = check_uscc(raw, _ALLOWED_USCC)
    if error:
        raise ValueError(error)
    return code


_ALLOWED_USCC: set[str] = set()


def allow_codes(codes) -> None:
    """Codes confirmed in the database's ``uscc_allowlist`` pass the check."""
    _ALLOWED_USCC.clear()
    _ALLOWED_USCC.update(codes)


def _term(raw):
    text = F.lookup_key(F.to_text(raw))
    if text in {"life", "终身", "永久", "终生", "永久禁止"}:
        return "life"
    return F.to_number(text.removesuffix("年"))


def _text(raw):
    if type(raw) is str:
        return raw.strip()
    return F.to_text(raw)


MEMO_CONVERTERS = frozenset({"date", "code", "term"})
CONVERTERS = {
    None: _text, "uscc": _uscc, "date": F.to_date, "number": F.to_number, "integer": F.to_integer,
    "year": F.to_year, "boolean": F.to_boolean, "list": F.to_list, "code": F.to_code, "term": _term,
}


def _lazy_validator(schema: dict) -> Callable[[dict], Any]:
    """fastjsonschema's compiled validator, compiled on first use: the simple kinds are checked by
    generated row code and never call it, and importing and compiling it costs ~0.1 s a process."""
    compiled = None

    def validate(data):
        nonlocal compiled
        if compiled is None:
            import fastjsonschema

            compiled = fastjsonschema.compile(schema)
        return compiled(data)
    return validate


def accepted_values(x_values: dict, fname: str) -> str:
    """The values an enumeration accepts, for a message: one Chinese name of each canonical value,
    then the canonical values (``国家级, 省级, 市级, 区级 (national, provincial, city, district)``)."""
    chinese: dict[str, str] = {}
    canonical: dict[str, None] = {}
    for raw, canon in x_values.items():
        value = canon if isinstance(canon, str) else canon.get(fname) if isinstance(canon, dict) else None
        if not isinstance(value, str) or not value:
            continue
        canonical.setdefault(value, None)
        if not raw.isascii() and value not in chinese and (isinstance(canon, str) or len(canon) == 1):
            chinese[value] = raw
    shown = [chinese[v] for v in canonical if v in chinese]
    return ", ".join(shown) + (f" ({', '.join(canonical)})" if shown else ", ".join(canonical))


@functools.lru_cache(maxsize=None)
def units_table():
    """The unit table (``schemas/units.json``) as a :class:`kqtools.units.UnitTable`."""
    from .units import UnitTable

    path = resources.files("kqtools.schemas").joinpath("units.json")
    return UnitTable(json.loads(path.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=None)
def get_kind(name: str) -> Kind:
    if name not in KINDS:
        raise KeyError(name)
    schema = load_schema(name)
    fields: dict[str, Field] = {}
    headers: dict[str, str] = {}
    for fname, prop in schema["properties"].items():
        values = None
        if "x-values" in prop:
            values = {F.lookup_key(k): v for k, v in prop["x-values"].items()}
        elif "x-values-from" in prop:
            other, other_field = prop["x-values-from"].split(".")
            values = {F.lookup_key(k): (v if isinstance(v, str) else v[other_field])
                      for k, v in load_schema(other)["properties"][other_field]["x-values"].items()}
        convert = prop.get("x-convert")
        memo = {} if (values is not None or convert in MEMO_CONVERTERS) else None
        raw_values = prop.get("x-values") or (load_schema(prop["x-values-from"].split(".")[0])["properties"][
            prop["x-values-from"].split(".")[1]]["x-values"] if "x-values-from" in prop else {})
        fields[fname] = Field(fname, CONVERTERS[convert], values, memo, prop.get("x-unit"),
                              bool(prop.get("x-values-open")),
                              accepted_values(raw_values, prop.get("x-values-from", ".").split(".")[1] or fname))
        for alias in [fname, *prop.get("x-aliases", [])]:
            headers.setdefault(header_key(alias), fname)
    validate = _lazy_validator(schema)
    return Kind(name, schema, schema["x-table"], schema["x-key"], fields, headers, validate,
                frozenset(f for f, p in schema["properties"].items() if p.get("type") == "array"),
                tuple(f for f, p in schema["properties"].items()
                      if any(isinstance(v, dict) for v in p.get("x-values", {}).values())))


# ---------------------------------------------------------------- per-kind completion
def designation_defaults(rec: dict, schema: dict) -> None:
    rec.setdefault("level", "")
    if rec.get("level") is None:
        rec["level"] = ""
    if not rec.get("expires_on") and rec.get("recognized_on") and rec.get("kind"):
        validity = schema.get("x-validity-years", {}).get(rec["kind"])
        if isinstance(validity, int):
            rec["expires_on"] = F.add_years(rec["recognized_on"], validity)
        elif validity == "year-end":
            rec["expires_on"] = rec["recognized_on"][:4] + "-12-31"


def credit_defaults(rec: dict, schema: dict) -> None:
    rec["record_key"] = rec.get("reference") or (
        str(rec["year"]) if rec.get("source") == "tax_rating" and rec.get("year") else rec.get("started_on") or "")


def specialist_defaults(rec: dict, schema: dict) -> None:
    if rec.get("active") is None:
        rec["active"] = True


COMPLETE: dict[str, Callable[[dict, dict], None]] = {
    "designations": designation_defaults, "credit": credit_defaults, "specialists": specialist_defaults,
}
# columns the completion functions (or a schema default) fill in even when the file has no such column
DERIVED: dict[str, tuple[str, ...]] = {
    "designations": ("level", "expires_on"), "credit": ("record_key",), "specialists": ("active",),
}


# ---------------------------------------------------------------- documentation
def reference_markdown() -> str:
    """The header and value aliases of every kind as Markdown (docs/import.md embeds this text;
    ``python -m kqtools.kinds`` prints it, and a test checks that the document is up to date)."""
    out = []
    for name in KINDS:
        schema = load_schema(name)
        required = set(schema.get("required", []))
        out.append(f"### {name} ({schema.get('title', name)})\n")
        out.append(f"Table `{schema['x-table']}`, key: {' + '.join(schema['x-key'])}.\n")
        out.append("| field | read as | headers accepted (besides the field name) | values accepted |")
        out.append("| --- | --- | --- | --- |")
        for fname, prop in schema["properties"].items():
            star = "\\*" if fname in required else ""
            how = prop.get("x-convert") or ("list" if prop.get("type") == "array" else
                                            "enumeration" if "x-values" in prop else "text")
            if "description" in prop and len(prop["description"]) < 12:
                how += f" ({prop['description']})"
            aliases = ", ".join(prop.get("x-aliases", []))
            values = ""
            if "x-values" in prop:
                groups: dict[str, list[str]] = {}
                for raw, canon in prop["x-values"].items():
                    label = (canon if isinstance(canon, str) else " + ".join(f"{k}={v}" for k, v in canon.items())
                             if isinstance(canon, dict) else "every district" if canon == [] else json.dumps(canon))
                    if raw != label:
                        groups.setdefault(label or "''", []).append(raw)
                values = "; ".join(f"{label} ← {', '.join(raws)}" for label, raws in groups.items())
            elif "x-values-from" in prop:
                values = f"as {prop['x-values-from']}"
            elif "enum" in prop:
                values = ", ".join(map(str, prop["enum"]))
            out.append(f"| {fname}{star} | {how} | {aliases} | {values} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(reference_markdown())
