"""Firms in the database (企业名录): the list with current designations, everything known about one
firm, and the credit codes a clerk confirmed although they fail the check (``uscc_allowlist``).

Services over an open database (``kq enterprises list|show``, ``kq check-uscc``): plain arguments
in, plain rows or small result objects out; the command line renders them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ..errors import ExitStatus, KqtoolsError
from ..i18n import _
from . import write_transaction

LIST_COLUMNS = ["uscc", "name", "district", "industry_code", "size_class", "founded_on", "designations"]
CHECK_COLUMNS = ["input", "uscc", "valid", "reason"]

_CURRENT = "(d.expires_on IS NULL OR d.expires_on >= :as_of) AND d.recognized_on <= :as_of"


class FirmNotFound(KqtoolsError):
    """Nothing in the database about this credit code (exit 1: the answer is "no", not a usage error)."""

    exit_status = ExitStatus.ATTENTION


class UnknownDistrict(KqtoolsError):
    """``--district`` naming no district in the database; the message suggests the ones that contain it."""


def check_district(db, district: str, table: str = "enterprises") -> None:
    """Refuse a ``--district`` that no firm has, suggesting the known districts that contain it
    (``高新`` -> ``高新区``), or else listing them all (at most 20)."""
    known = [r[0] for r in db.execute(f"SELECT DISTINCT district FROM {table} WHERE district IS NOT NULL "
                                      "AND district != '' ORDER BY district")]
    if district in known:
        return
    near = [d for d in known if district in d or d in district]
    if near:
        raise UnknownDistrict(_("no district {district!r}; did you mean {names}?").format(
            district=district, names=", ".join(near[:20])))
    shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "")
    raise UnknownDistrict(_("no district {district!r} (known districts: {names})").format(
        district=district, names=shown or _("none yet")))


def looks_like_code(text: str) -> bool:
    """A credit code as typed (letters, digits, spaces, hyphens, an apostrophe), not a firm's name."""
    import re

    return re.fullmatch(r"[\s'\-]*[0-9A-Za-zＡ-Ｚａ-ｚ０-９][0-9A-Za-zＡ-Ｚａ-ｚ０-９\s\-]{5,30}", text.strip()) is not None


@dataclass
class FirmLookup:
    """``kq enterprises show TEXT``: the record of the one firm found, or the candidates (needs attention)."""
    record: dict | None = None
    candidates: list[dict] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return self.record is None


CANDIDATE_COLUMNS = ["uscc", "name", "district"]


def lookup_firm(db, text: str) -> FirmLookup:
    """A firm by its credit code or its name. A name is compared cleaned (:func:`kqtools.names.clean_name`:
    no legal form, no region, no punctuation: ``常州甲精密机械有限公司`` = ``甲精密机械``): one firm whose
    cleaned name is the cleaned text is shown; several, or none but some whose names contain it, are
    candidates. Raises :class:`FirmNotFound` when nothing matches."""
    if looks_like_code(text):
        return FirmLookup(firm_record(db, text))
    from ..names import clean_name

    wanted = clean_name(text).name
    like = [r for r in db.query("SELECT uscc, name, district FROM enterprises WHERE name LIKE ? ORDER BY uscc",
                                [f"%{wanted}%"])] if wanted else []
    exact = [r for r in like if clean_name(r["name"]).name == wanted]
    if len(exact) == 1:
        return FirmLookup(firm_record(db, exact[0]["uscc"]))
    found = exact or like
    if not found:
        raise FirmNotFound(_("{text}: no firm of that name in the database (compared as {cleaned!r})").format(
            text=text, cleaned=wanted))
    return FirmLookup(None, found[:50])


class NotConfirmable(KqtoolsError):
    """A code that is not 18 characters of the credit-code alphabet cannot be confirmed."""


def list_enterprises(db, as_of: dt.date, *, district: str | None = None, kind: str | None = None,
                     level: str | None = None, size_class: str | None = None, name_like: str | None = None,
                     limit: int | None = None) -> Iterator[dict]:
    """Firms (``LIST_COLUMNS``) by district and code, with their designations current on ``as_of``
    (``kind:level`` separated by spaces). Filters: district, size class, a name fragment, a current
    designation of ``kind`` and/or ``level`` (canonical values)."""
    where, params = [], {"as_of": as_of.isoformat()}
    if district:
        check_district(db, district)
        where.append("e.district = :district")
        params["district"] = district
    if size_class:
        where.append("e.size_class = :size")
        params["size"] = size_class
    if name_like:
        where.append("e.name LIKE :name")
        params["name"] = f"%{name_like}%"
    if kind or level:
        cond = ["d.uscc = e.uscc", _CURRENT]
        if kind:
            cond.append("d.kind = :kind")
            params["kind"] = kind
        if level:
            cond.append("d.level = :level")
            params["level"] = level
        where.append(f"EXISTS (SELECT 1 FROM designations d WHERE {' AND '.join(cond)})")
    sql = f"""
        SELECT e.uscc, e.name, e.district, e.industry_code, e.size_class, e.founded_on,
               (SELECT group_concat(d.kind || CASE WHEN d.level != '' THEN ':' || d.level ELSE '' END, ' ')
                  FROM (SELECT DISTINCT kind, level FROM designations d
                         WHERE d.uscc = e.uscc AND {_CURRENT} ORDER BY kind, level) d) AS designations
          FROM enterprises e {'WHERE ' + ' AND '.join(where) if where else ''}
         ORDER BY e.district, e.uscc {'LIMIT :limit' if limit else ''}"""
    if limit:
        params["limit"] = limit
    return db.query(sql, params)


#: the sections of ``firm_record`` after ``enterprise``, in the order they are shown
SECTIONS = ("designations", "metrics", "credit", "requests")


def firm_record(db, raw_code: str) -> dict:
    """Everything known about one firm: ``enterprise`` (the register row and the source of its last
    import, with its cultivation class today: ``class``, ``class_label``, ``class_reason``), ``designations``, ``metrics`` (by year, latest first) and ``credit``. A firm known only
    from a list (a credit record, a designation) is shown with the name the list gives it.
    Raises :class:`FirmNotFound` when nothing is known about the code."""
    from ..uscc import check_uscc
    from .request_views import requests_for_firm

    code, error = check_uscc(raw_code)
    firm = next(db.query("SELECT e.*, b.source AS batch_source FROM enterprises e "
                         "LEFT JOIN batches b ON b.id = e.batch_id WHERE e.uscc = ?", [code]), None)
    record = {
        "designations": list(db.query(
            "SELECT kind, level, recognized_on, expires_on, certificate_no, batch, name, batch_id FROM designations "
            "WHERE uscc = ? ORDER BY recognized_on DESC", [code])),
        "metrics": list(db.query(
            "SELECT year, land_mu, revenue, tax, value_added, energy_tce, electricity_kwh, emissions_t, rd_expense, "
            "employees, incident, name, batch_id FROM metrics WHERE uscc = ? ORDER BY year DESC", [code])),
        "credit": list(db.query(
            "SELECT source, grade, year, started_on, ended_on, severity, term_years, reference, note, name, batch_id "
            "FROM credit_records WHERE uscc = ? ORDER BY coalesce(started_on, year) DESC", [code])),
        "requests": requests_for_firm(db, code),
    }
    if firm is None:
        names = [r["name"] for rows in record.values() for r in rows if r.get("name")]
        if not names and not any(record.values()):
            hint = f" ({error})" if error else ""
            raise FirmNotFound(_("{raw_code}: no such firm in the database{hint}").format(
                                   raw_code=raw_code, hint=hint))
        firm = {"uscc": code, "name": names[0] if names else None,
                "note": "not in the enterprise register; known from imported lists only"}
    firm.update(cultivation_of(db, code))
    return {"enterprise": firm, **record}


#: the cultivation-class fields of ``firm_record``'s ``enterprise`` (None: in no class)
CLASS_FIELDS = ("class", "class_label", "class_reason")


def cultivation_of(db, code: str, as_of: dt.date | None = None) -> dict:
    """The firm's cultivation class today (``kq ladder classes``): ``class``, ``class_label``,
    ``class_reason``, each None when the firm is in no class."""
    from ..clock import today
    from .ladder import classes_for

    c = classes_for(db, [code], as_of or today()).get(code)
    return dict(zip(CLASS_FIELDS, (c["class"], c["label"], c["reason"]) if c else (None, None, None)))


@dataclass
class CodeCheck:
    """``kq check-uscc``: one row per code given (``CHECK_COLUMNS``); needs attention when any is invalid."""

    rows: list[dict] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return sum(not r["valid"] for r in self.rows)

    @property
    def needs_attention(self) -> bool:
        return self.invalid > 0


def confirmed_codes(db) -> set[str]:
    """Codes a clerk confirmed although they fail the check (``kq check-uscc --allow``)."""
    return {r[0] for r in db.execute("SELECT uscc FROM uscc_allowlist")}


def check_codes(db, codes: Iterable[str]) -> CodeCheck:
    """Check credit codes (GB 32100-2015) as typed; codes confirmed in the database (``db``; None:
    no database yet) pass."""
    from ..uscc import check_uscc

    allowed = confirmed_codes(db) if db is not None else set()
    result = CodeCheck()
    for raw in codes:
        code, error = check_uscc(raw, allowed)
        result.rows.append({"input": raw, "uscc": code, "valid": error is None, "reason": error or ""})
    return result


def confirm_codes(db, codes: Iterable[str], reason: str) -> int:
    """Record codes as confirmed although they fail the check (imports then accept them); all or
    none. Returns how many. Raises :class:`NotConfirmable` for a code that is not 18 characters of
    the alphabet (only a check-character failure can be confirmed)."""
    from ..clock import now_iso
    from ..uscc import ALPHABET, normalize

    now = now_iso()
    n = 0
    with write_transaction(db):
        for raw in codes:
            code = normalize(raw)
            if len(code) != 18 or any(c not in ALPHABET for c in code):
                raise NotConfirmable(_("{raw}: not 18 characters of the credit-code alphabet; only codes that "
                                       "fail the check digits can be confirmed").format(raw=raw))
            db.conn.execute("INSERT OR REPLACE INTO uscc_allowlist (uscc, reason, added_at) VALUES (?, ?, ?)",
                            (code, reason, now))
            n += 1
    return n
