"""Units in headers and cells (营业收入（元）, 3.5亿元, 8000平方米), converted exactly to a field's unit.

The table of units is data (``schemas/units.json``): each dimension (money, land, electricity,
energy, mass, count) has a canonical unit and every unit's factor to it as an exact fraction. A
schema property names its canonical unit with ``x-unit`` (money in 万元, land in 亩, energy in
吨标准煤, emissions in 吨, electricity in 千瓦时). Pure: plain data in, numbers or ``ValueError`` out.

**Exact arithmetic.** A value is read as the decimal the clerk typed (an Excel number: the shortest
decimal that is that number), multiplied by the exact factor as a :class:`fractions.Fraction`, and
only then made a float: the float nearest the exact result (``6667 平方米`` = 20001/2000 亩 =
10.0005). A unit of another dimension (``税收（平方米）``) or one kq cannot read is refused, naming
the unit and the field's unit; never read with a silent factor of 1.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

_KEY_DROP = re.compile(r"[\s\"'“”‘’]+")
_NUMBER = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(.*)$")
_SEPARATORS = re.compile(r"[,\s_，]")
_UNIT_LIKE = re.compile(r"^[^\d.+\-=]{1,8}$")   # a short tail that is not part of a number: a unit (or not)
ONE = Fraction(1)


def unit_key(text: str) -> str:
    """How units are compared: NFKC (㎡ -> m2, ｔ -> t), no spaces or quotes, lower case."""
    return _KEY_DROP.sub("", unicodedata.normalize("NFKC", str(text))).lower()


@dataclass(frozen=True)
class Unit:
    name: str             # as the table writes it (元, 平方米)
    dimension: str        # money, land, ...
    factor: Fraction      # to the dimension's canonical unit


class UnitTable:
    """The units of ``schemas/units.json``: find a unit by its written form, the dimension of a
    canonical unit, and the units a dimension accepts (for messages)."""

    def __init__(self, data: dict):
        self.by_key: dict[str, Unit] = {}
        self.canonical: dict[str, str] = {}          # dimension -> canonical unit
        self.dimension_of: dict[str, str] = {}       # unit_key(canonical unit) -> dimension
        self.names: dict[str, list[str]] = {}        # dimension -> unit names, in table order
        for dim, spec in data["dimensions"].items():
            self.canonical[dim] = spec["canonical"]
            self.dimension_of[unit_key(spec["canonical"])] = dim
            self.names[dim] = list(spec["units"])
            for name, factor in spec["units"].items():
                self.by_key[unit_key(name)] = Unit(name, dim, Fraction(factor))
        self._suffixes = sorted(self.by_key, key=len, reverse=True)   # 万千瓦时 before 千瓦时

    def find(self, text: str) -> Unit | None:
        return self.by_key.get(unit_key(text))

    def split_suffix(self, text: str) -> tuple[str, Unit] | None:
        """``(text without the unit, unit)`` when ``text`` ends with a known unit, else None."""
        key = unit_key(text)
        for suffix in self._suffixes:
            if key.endswith(suffix) and len(key) > len(suffix):
                return key[: -len(suffix)], self.by_key[suffix]
        return None

    def accepted(self, dimension: str) -> str:
        return ", ".join(self.names.get(dimension, ()))


def factor_text(factor: Fraction) -> str:
    """``1/10000`` -> ``0.0001``, ``15`` -> ``15``, ``3/2000`` -> ``0.0015`` (every factor of the table ends)."""
    if factor.denominator == 1:
        return str(factor.numerator)
    exact = Decimal(factor.numerator) / Decimal(factor.denominator)
    return format(exact.normalize(), "f")


class UnitError(ValueError):
    """A unit that does not fit the field, or that kq cannot read."""


def misfit(unit_text: str, found: Unit | None, field: str, canonical: str, table: UnitTable) -> UnitError:
    dim = table.dimension_of.get(unit_key(canonical))
    if found is not None:
        return UnitError(f"unit {unit_text} does not fit {field}, which is in {canonical} "
                         f"(kq reads {table.accepted(dim)})")
    return UnitError(f"unknown unit {unit_text!r}: {field} is in {canonical} (kq reads {table.accepted(dim)})")


def check_unit(unit_text: str, field: str, canonical: str, table: UnitTable) -> Unit:
    """The unit a header names for ``field`` (canonical unit ``canonical``), or :class:`UnitError`."""
    found = table.find(unit_text)
    if found is None or found.dimension != table.dimension_of.get(unit_key(canonical)):
        raise misfit(unit_text, found, field, canonical, table)
    return found


def exact(number_text: str, factor: Fraction) -> float:
    """``number_text`` (a decimal) times ``factor``, exactly, then the nearest float."""
    if factor == ONE:
        return float(number_text)
    try:
        value = Fraction(Decimal(number_text))
    except (InvalidOperation, ValueError):
        raise ValueError(f"not a number: {number_text!r}") from None
    return float(value * factor)


def quantity_converter(field: str, canonical: str, table: UnitTable, header_unit: Unit | None = None,
                       counts: dict | None = None):
    """``convert(raw) -> float`` for a field in ``canonical`` units whose column is in ``header_unit``
    (None: the canonical unit). A cell with a unit of its own (``3.5亿元``) is read in that unit, and
    ``counts[unit name]`` counts such cells. Raises ``ValueError`` with a clerk's reason."""
    dim = table.dimension_of.get(unit_key(canonical))
    column_factor = header_unit.factor if header_unit is not None else ONE

    def convert(raw):
        if raw.__class__ is bool:
            raise ValueError("not a number")
        if raw.__class__ is float or raw.__class__ is int:
            value = float(raw)
            if column_factor != ONE and value == value and value not in (float("inf"), float("-inf")):
                value = exact(repr(value), column_factor)
            return _finite(value, raw)
        text = str(raw).strip()
        try:
            value = float(text)
        except ValueError:
            pass
        else:
            if column_factor != ONE and value == value and value not in (float("inf"), float("-inf")):
                value = exact(text, column_factor)
            return _finite(value, raw)
        clean = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
        m = _NUMBER.match(clean)
        if m is None:
            raise ValueError(f"not a number: {text!r}")
        number, tail = m.groups()
        if not tail:
            return _finite(exact(number, column_factor), raw)
        if not _UNIT_LIKE.match(tail):
            raise ValueError(f"not a number: {text!r}")
        unit = table.find(tail)
        if unit is None or unit.dimension != dim:
            raise misfit(tail, unit, field, canonical, table)
        if counts is not None:
            counts[unit.name] = counts.get(unit.name, 0) + 1
        return _finite(exact(number, unit.factor), raw)
    return convert


def _finite(value: float, raw) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"not a number: {raw!r}")
    return value
