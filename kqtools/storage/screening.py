"""The screening service (``kq screen``): read an incoming list (申报名单) and screen it against a
stored list version.

The matching rules live in :mod:`kqtools.screening` (pure). This module finds the credit-code and
name columns of the incoming table, loads the list version and the ``[screening]`` settings of
the rule file it was built with, calls :func:`kqtools.screening.screen` and returns a
:class:`ScreenResult` that says whether it needs a person's attention (a hit, or a row that
could not be screened at all).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Iterator

from ..errors import KqtoolsError
from ..i18n import _
from .lists import allowed_codes, entries, existing_version, version_info

#: Name headers of application lists (申报名单) besides the enterprise register's own
#: (企业名称, 单位名称, 企业(单位)名称, 公司名称, 名称); matched ignoring width, spaces and a trailing unit.
NAME_HEADERS = ("申报单位", "申报企业", "申报单位名称", "申报企业名称", "单位名称", "企业（单位）名称", "公司名称",
                "企业全称", "单位全称", "纳税人名称", "市场主体名称", "主体名称")
#: How many non-blank rows may stand above the header (titles, notes).
HEADER_SCAN_ROWS = 10


class ScreeningError(KqtoolsError):
    """An incoming list that cannot be screened at all (no code or name column, a bad --map)."""


@dataclass
class ScreenResult:
    """What ``kq screen`` prints: one row per hit or unscreened input row, in input order."""
    rows: list[dict]
    read: int                      # data rows read from the input
    version: int                   # the list version screened against
    against: str                   # whitelist | blacklist
    name_column: bool = True       # whether the input has a name column
    counts: dict = field(default_factory=dict)

    def __post_init__(self):
        verdicts = [r["verdict"] for r in self.rows]
        self.counts = {"listed": verdicts.count("listed"), "review": verdicts.count("review"),
                       "unscreened": verdicts.count("unscreened"),
                       "rows_hit": len({r["line"] for r in self.rows if r["verdict"] != "unscreened"})}

    @property
    def screened(self) -> int:
        return self.read - self.counts["unscreened"]

    @property
    def needs_attention(self) -> bool:
        """A hit to look at, or a row nobody checked: never a silent pass."""
        return bool(self.rows)


# ---------------------------------------------------------------- reading the incoming list
def _headers(mapping: dict[str, str] | None) -> dict[str, str]:
    """header_key -> ``uscc`` | ``name``: the enterprise register's headers, the application-list name
    headers, then ``--map`` (which wins)."""
    from ..kinds import get_kind, header_key

    kind = get_kind("enterprises")
    out = {k: f for k, f in kind.headers.items() if f in ("uscc", "name")}
    for h in NAME_HEADERS:
        out.setdefault(header_key(h), "name")
    for header, target in (mapping or {}).items():
        key = header_key(target)
        fname = target if target in ("uscc", "name") else out.get(key)
        if fname is None:
            raise ScreeningError(_("--map {header}={target}: screening reads only the credit code (uscc) and "
                                   "the name (name)").format(header=header, target=target))
        out[header_key(header)] = fname
    return out


def _columns(cells, headers: dict[str, str]) -> tuple[int | None, int | None]:
    """(uscc index, name index) of a header row; the first column wins when two match."""
    from ..kinds import header_key
    from ..readers import header_text

    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        text = header_text(cell)
        if text.strip():
            f = headers.get(header_key(text))
            if f is not None:
                found.setdefault(f, i)
    return found.get("uscc"), found.get("name")


def read_rows(src, mapping: dict[str, str] | None = None) -> tuple[bool, Iterator]:
    """(whether there is a name column, :class:`kqtools.screening.Row` per data row) of an opened
    source. Raises :class:`ScreeningError` when neither a code nor a name column is found."""
    from ..readers import BadRow, SourceError, is_blank
    from ..screening import Row

    headers = _headers(mapping)
    rows = iter(src.rows)
    first = next(rows, None)
    if first is None:
        raise SourceError(_("{name}: empty file").format(name=src.name))

    def chain():
        yield first
        yield from rows

    if isinstance(first[1], dict):  # JSON objects: the keys of each object are its header
        def objects():
            plans: dict[tuple, tuple] = {}
            for line, obj in chain():
                keys = tuple(obj)
                if keys not in plans:
                    iu, iname = _columns(keys, headers)
                    plans[keys] = (keys[iu] if iu is not None else None, keys[iname] if iname is not None else None)
                ku, kn = plans[keys]
                yield Row(line, obj.get(ku) if ku else None, obj.get(kn) if kn else None)
            if not any(u or n for u, n in plans.values()):
                raise ScreeningError(_("{name}: no key for the credit code or the name (统一社会信用代码, 企业名称, 申报单位 "
                                       "…; add one with --map 'KEY=uscc' or 'KEY=name')").format(name=src.name))
        return True, objects()

    it = chain()
    header = None
    scanned = 0
    for _line, cells in it:
        if is_blank(cells):
            continue
        scanned += 1
        iu, iname = _columns(cells, headers)
        if iu is not None or iname is not None:
            header = (iu, iname)
            break
        if scanned >= HEADER_SCAN_ROWS:
            break
    if header is None:
        raise ScreeningError(_("{name}: no column for the credit code or the name (looked for 统一社会信用代码, "
                               "社会信用代码, 企业名称, 单位名称, 申报单位, 名称 …; add one with --map 'HEADER=uscc' or "
                               "'HEADER=name')").format(name=src.name))
    iu, iname = header

    def table():
        for line, cells in it:
            if cells.__class__ is BadRow:  # a line in another encoding: its cells cannot be trusted
                yield Row(line, None, None, unreadable=cells.reason or "the line could not be decoded")
                continue
            if is_blank(cells):
                continue
            n = len(cells)
            yield Row(line, cells[iu] if iu is not None and iu < n else None,
                      cells[iname] if iname is not None and iname < n else None)
    return iname is not None, table()


# ---------------------------------------------------------------- the use case
def screening_settings(version_row: dict, rules_name: str | None = None, threshold: float | None = None):
    """The ``[screening]`` settings of the rule file a version was built with (or of ``rules_name``)."""
    from ..rules import load_rules, parse, validate
    from ..screening import settings_from_rules

    if rules_name:
        data = load_rules("lists", rules_name).data
    else:
        text = version_row["rules_text"]
        fmt = "json" if text.lstrip().startswith("{") else "toml"
        data = parse(text, fmt, version_row["rules_name"])
        validate("lists", data, version_row["rules_name"])
    return settings_from_rules(data, threshold)


def screen_source(db, stream: IO[bytes], name: str, *, against: str = "blacklist", version: int | None = None,
                  threshold: float | None = None, rules_name: str | None = None, fmt: str | None = None,
                  encoding: str | None = None, sheet: str | None = None,
                  mapping: dict[str, str] | None = None) -> ScreenResult:
    """Screen one incoming table (a binary stream named ``name``) against a list version (default the
    latest). Rows without a valid code are matched by name; rows with neither are ``unscreened``."""
    from ..creditlists import reasons_text
    from ..readers import SourceError, open_table
    from ..screening import match_text, screen

    version = existing_version(db, version)
    settings = screening_settings(version_info(db, version), rules_name, threshold)
    listed = entries(db, against, version)
    read = 0

    def counted(rows):
        nonlocal read
        for r in rows:
            read += 1
            yield r

    try:
        src = open_table(stream, name, fmt, encoding, sheet)
        name_column, rows = read_rows(src, mapping)
        hits = screen(counted(rows), listed, settings, list_name=against, version=version,
                      allowed=allowed_codes(db), name_column=name_column,
                      reasons_text=lambda rs: "; ".join(filter(None, [match_text(rs[0]), reasons_text(rs[1:])])))
    except UnicodeDecodeError as exc:
        raise SourceError(_("{name}: not valid {encoding} text (use --encoding)").format(
                              name=name, encoding=exc.encoding)) from None
    return ScreenResult(hits, read, version, against, name_column)


# ---------------------------------------------------------------- kq demo
def demo_step(db, echo) -> None:
    """``kq demo``: build the lists as of 2026-06-30 and screen the bundled applicant list."""
    import datetime as dt
    from importlib import resources

    from ..creditlists import reasons_text
    from ..i18n import pgettext
    from ..labels import value_mapper
    from .lists import build_lists, show_list

    result = build_lists(db, dt.date(2026, 6, 30))
    echo(_("Credit lists as of {as_of} (version {version}): {whitelist} whitelisted, {blacklist} blacklisted").format(
        as_of=result["as_of"], version=result["version"], whitelist=result["whitelist"],
        blacklist=result["blacklist"]))
    for which, top in (("blacklist", 5), ("whitelist", 3)):
        shown = pgettext("value:list", which)             # 黑名单 / 白名单; the reasons are data, as stored
        for e in show_list(db, which, result["version"])[1][:top]:
            echo(f"  {shown} {e['uscc']} {e['name'] or ''}: {reasons_text(e['reasons'])}")
    try:
        entry = resources.files("kqtools.fixtures").joinpath("demo", "applicants.csv")
        present = entry.is_file()
    except (ModuleNotFoundError, FileNotFoundError):
        present = False
    if not present:
        echo(_("  (no demo applicant list to screen)"))
        return
    with entry.open("rb") as fh:
        screened = screen_source(db, fh, "applicants.csv")
    c = screened.counts
    echo(_("Screened {name} ({read} rows) against the blacklist: {listed} listed, {review} to review, "
           "{unscreened} unscreened").format(name="applicants.csv", read=screened.read, listed=c["listed"],
                                             review=c["review"], unscreened=c["unscreened"]))
    verdict, match = value_mapper("verdict"), value_mapper("match")
    for h in [h for h in screened.rows if h["verdict"] != "unscreened"][:8]:
        echo(_("  line {line}: {input} -> {verdict} ({match} {score}) {uscc} {name}").format(
            line=h["line"], input=h["input_name"] or h["input_uscc"], verdict=verdict(h["verdict"]),
            match=match(h["match"]), score=f"{h['score']:g}", uscc=h["uscc"], name=h["name"] or ""))
