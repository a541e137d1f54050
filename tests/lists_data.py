"""Credit records, designations and overrides written straight into a database, and the lists
both ways: built through the database (``build_lists``, with its SQL pre-filter) and by the pure
rules applied to every record. Shared by the boundary tests and the parity property."""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from kqtools import creditlists as C
from kqtools.storage.lists import build_lists, entries
from kqtools.uscc import check_uscc

CODES = ("91110108551385082Q", "9144030071526726XG", "91310000631696382C", "121200004013590816",
         "12440600MB2C07549J")
_DESIGNATION_COLUMNS = C.DESIGNATION_COLUMNS
_OVERRIDE_COLUMNS = ("id", "list", "action", "uscc", "reason", "operator", "created_at", "until", "name",
                     "revoked_at")
_TABLES = ("list_changes", "list_entries", "list_versions", "list_overrides", "credit_records", "designations")


def insert(db, records=(), designations=(), overrides=()) -> None:
    """Write the rows as they are (no import checks), in one transaction."""
    def sql(table, cols):
        return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"

    conn = db.conn
    conn.execute("BEGIN")
    conn.executemany(sql("credit_records", C.RECORD_COLUMNS), [tuple(r) for r in records])
    conn.executemany(sql("designations", _DESIGNATION_COLUMNS),
                     [tuple(d)[:len(_DESIGNATION_COLUMNS)] for d in designations])
    conn.executemany(sql("list_overrides", _OVERRIDE_COLUMNS),
                     [tuple(getattr(o, c) for c in _OVERRIDE_COLUMNS) for o in overrides])
    conn.execute("COMMIT")


def clear(db) -> None:
    conn = db.conn
    conn.execute("BEGIN")
    for table in _TABLES:
        conn.execute(f"DELETE FROM {table}")
    conn.execute("COMMIT")


def _comparable(since, until, reasons, override_id) -> dict:
    # reasons as JSON would store them; names are left out (the database adds the register's)
    return {"since": since, "until": until, "reasons": json.loads(json.dumps(reasons, default=str)),
            "override_id": override_id}


def database_lists(db, as_of: dt.date, rules_name: str | None = None) -> dict[str, dict[str, dict]]:
    """list -> uscc -> entry, as ``kq lists build`` stores them."""
    version = build_lists(db, as_of, rules_name)["version"]
    return {lst: {e["uscc"]: _comparable(e["since"], e["until"], e["reasons"], e["override_id"])
                  for e in entries(db, lst, version)} for lst in C.LISTS}


def rule_lists(records, designations, overrides, lr: C.ListRules, as_of: dt.date) -> dict[str, dict[str, dict]]:
    """The same lists from the pure rules over every record: no pre-filter, every firm checked."""
    black = C.blacklist(records, lr, as_of)
    C.apply_overrides(black, overrides, C.BLACKLIST, as_of)
    facts: dict[str, C.Facts] = defaultdict(C.Facts)
    for r in records:
        facts[r.uscc].records.append(r)
    for d in designations:
        facts[d.uscc].designations.append(d)
    white = {}
    for uscc, f in facts.items():
        entry, _ = C.whitelist_check(uscc, f, lr, as_of, blacklisted=uscc in black,
                                     valid_code=check_uscc(uscc)[1] is None)
        if entry is not None:
            white[uscc] = entry
    C.apply_overrides(white, overrides, C.WHITELIST, as_of)
    return {lst: {u: _comparable(C.iso(e.since), C.iso(e.until), e.reasons, e.override_id)
                  for u, e in found.items()} for lst, found in ((C.WHITELIST, white), (C.BLACKLIST, black))}
