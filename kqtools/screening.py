"""Screening an incoming list (申报名单) against a credit list. Pure: rows in, hits out.

CREDIT.md, "Screening":

1. codes are normalized and validated (:func:`kqtools.uscc.check_uscc`);
2. a valid code equal to a listed code is a definite hit (``match=uscc``, ``verdict=listed``);
   a row with a valid code that is not listed has no hit: two valid but different codes are
   never the same firm, whatever their names;
3. rows whose code is missing or invalid are matched by cleaned name
   (:mod:`kqtools.names`): ``match=name``, ``verdict=review`` — never "listed";
4. every hit carries why: the rule, both cleaned names and what was stripped, the score, the
   list and its version, and the reasons (records) behind the list entry;
5. never a silent pass: a row with neither a valid code nor a name to match by (no name column,
   or an empty name) is reported as ``verdict=unscreened`` with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from . import names as N
from .uscc import check_uscc

COLUMNS = ["line", "input_uscc", "input_name", "uscc", "name", "match", "score", "verdict", "reasons",
           "input_clean", "list_clean", "stripped", "branch", "raw_score", "code_problem", "list", "version", "details"]


@dataclass(frozen=True)
class Settings:
    threshold: float = 90.0
    short: tuple[tuple[int, float], ...] = ((2, 10.0), (4, 5.0))
    max_hits: int = 5
    block_width: int = 3
    cleaner: N.Cleaner | None = None


def settings_from_rules(data: dict, threshold: float | None = None) -> Settings:
    """Screening settings from a ``lists`` rule file's ``[screening]`` table (``--threshold`` wins)."""
    s = data.get("screening", {})
    cleaner = N.make_cleaner(s.get("legal_forms", N.LEGAL_FORMS), s.get("regions", ()),
                             s.get("branch_marker", N.BRANCH))
    return Settings(
        threshold=float(threshold if threshold is not None else s.get("threshold", 90)),
        short=tuple((int(x["max_length"]), float(x["raise_by"])) for x in s.get("short_names", ())),
        max_hits=int(s.get("max_hits_per_row", 5)), block_width=int(s.get("block_width", 3)), cleaner=cleaner)


@dataclass
class Row:
    line: int
    uscc: object       # raw cell
    name: object       # raw cell
    unreadable: str | None = None   # why the line could not be read (e.g. in another encoding): never matched


def screen(rows: Iterable[Row], entries: Sequence[dict], settings: Settings, *, list_name: str = "blacklist",
           version: int | None = None, allowed: frozenset | set = frozenset(),
           reasons_text=None, name_column: bool = True) -> list[dict]:
    """One dict per hit or unscreened row (see :data:`COLUMNS`), in input order; rows screened
    without a hit produce nothing.

    ``entries``: the list's entries (``uscc``, ``name``, ``reasons``, ``since``, ``until``).
    ``reasons_text``: optional function turning an entry's reasons into one readable line.
    ``name_column``: whether the input has a name column (said in an unscreened row's reason).
    """
    by_code = {e["uscc"]: e for e in entries}
    cleaner = settings.cleaner or N.default_cleaner()
    hits: list[dict] = []
    pending: list[tuple[Row, str, str | None, N.Cleaned]] = []
    for row in rows:
        if row.unreadable:
            hits.append(_unscreened(row.line, "", row.unreadable, name_column, list_name, version, reasons_text,
                                    name_problem="the line could not be read"))
            continue
        raw_code = "" if row.uscc is None else str(row.uscc).strip()
        raw_name = "" if row.name is None else str(row.name).strip()
        problem = None
        if raw_code:
            code, problem = check_uscc(row.uscc, allowed)
            if problem is None:
                entry = by_code.get(code)
                if entry is not None:
                    hits.append(_hit(row.line, raw_code, raw_name, entry, "uscc", 100.0, "listed", list_name,
                                     version, reasons_text, extra={"rule": "uscc", "uscc": code}))
                continue  # a valid code decides: listed or not, never by name
        else:
            problem = "no credit code"
        if raw_name:
            pending.append((row, raw_code, problem, cleaner(raw_name)))
        else:
            hits.append(_unscreened(row.line, raw_code, problem, name_column, list_name, version, reasons_text))
    if pending:
        hits.extend(_name_hits(pending, entries, settings, cleaner, list_name, version, reasons_text))
    if pending:  # code hits and unscreened rows are in input order already; name hits go in their place
        hits.sort(key=lambda h: (h["line"], -(h["score"] or 0), h["uscc"] or ""))
    return hits


def _unscreened(line, raw_code, problem, name_column, list_name, version, reasons_text,
                name_problem: str | None = None) -> dict:
    """A row that could be matched neither by code nor by name: reported, never passed silently."""
    why = {"rule": "unscreened", "code_problem": problem,
           "name_problem": name_problem or ("the input has no name column" if not name_column else "no name in the row")}
    hit = _hit(line, raw_code, None, {"uscc": None, "name": None}, None, None, "unscreened", list_name, version,
               reasons_text, extra=why)
    hit["code_problem"] = problem
    return hit


def unscreened_text(why: dict) -> str:
    return (f"not screened: {why['code_problem']} and {why['name_problem']}; check this row by hand "
            "(or give a name column: --map 'HEADER=name')")


def _name_hits(pending, entries, settings, cleaner, list_name, version, reasons_text) -> list[dict]:
    from rapidfuzz import fuzz

    named = [e for e in entries if e.get("name")]
    cleaned = [cleaner(e["name"]) for e in named]
    index = N.NameIndex.build([c.name for c in cleaned], settings.block_width)
    # a branch is also looked up by the firm it belongs to, and flagged
    queries, owner = [], []
    for i, (_, _, _, c) in enumerate(pending):
        queries.append(c.name)
        owner.append((i, False))
        if c.branch and c.parent:
            queries.append(c.parent)
            owner.append((i, True))
    out, seen = [], set()
    for h in N.match_names(queries, index, settings.threshold, settings.short, settings.max_hits):
        i, via_parent = owner[h.query]
        if (i, h.choice) in seen:
            continue
        seen.add((i, h.choice))
        row, raw_code, problem, qc = pending[i]
        entry, lc = named[h.choice], cleaned[h.choice]
        compared = qc.parent if via_parent else qc.name
        why = {"rule": "branch_of" if via_parent else "name",
               "threshold": N.threshold_for(compared, lc.name, settings.threshold, settings.short),
               "input_clean": compared, "list_clean": lc.name,
               "input_stripped": list(qc.stripped), "list_stripped": list(lc.stripped)}
        if via_parent:
            why["branch"] = (f"{qc.raw} is a branch (分公司) of a firm named like the listed one: "
                             "another entity, check before deciding")
        elif qc.branch or lc.branch:
            why["branch"] = "a branch (分公司) is another entity: check which one is meant"
        hit = _hit(row.line, raw_code, qc.raw, entry, "name", round(h.score, 1), "review", list_name, version,
                   reasons_text, extra=why)
        hit.update(input_clean=compared, list_clean=lc.name,
                   stripped={"input": list(qc.stripped), "list": list(lc.stripped)},
                   branch=qc.branch or lc.branch, raw_score=round(fuzz.ratio(qc.raw, entry["name"]), 1),
                   code_problem=problem)
        out.append(hit)
    return out


def _hit(line, raw_code, raw_name, entry, match, score, verdict, list_name, version, reasons_text, extra) -> dict:
    reasons = [extra, *entry.get("reasons", [])]
    return {"line": line, "input_uscc": raw_code or None, "input_name": raw_name or None, "uscc": entry["uscc"],
            "name": entry.get("name"), "match": match, "score": score, "verdict": verdict,
            "reasons": reasons_text(reasons) if reasons_text else reasons, "details": reasons,
            "input_clean": None, "list_clean": None, "stripped": None, "branch": False, "raw_score": None,
            "code_problem": None, "list": list_name, "version": version,
            "since": entry.get("since"), "until": entry.get("until")}


def match_text(why: dict) -> str:
    """The match part of a hit's reasons as one line."""
    if why.get("rule") == "unscreened":
        return unscreened_text(why)
    if why.get("rule") == "uscc":
        return f"same credit code {why.get('uscc')}"
    label = "branch of" if why.get("rule") == "branch_of" else "name"
    text = f"{label} {why.get('input_clean')} ~ {why.get('list_clean')} (threshold {why.get('threshold'):g}"
    stripped = [*why.get("input_stripped", []), *why.get("list_stripped", [])]
    if stripped:
        text += "; stripped " + " ".join(dict.fromkeys(stripped))
    text += ")"
    if why.get("branch"):
        text += "; 分公司: a branch is another entity, check"
    return text
