"""The stored per-firm periods behind ladder status and targets progress (migration 0017): the same
answers as counting from the designations, and never stale (triggers mark the firms that change)."""
from __future__ import annotations

import datetime as dt
import io

from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import import_rows
from kqtools import ladder as L
from kqtools.storage import open_db
from kqtools.storage import ladder_spans as S
from kqtools.storage.ladder import designation_transitions, ladder_status, load_setup
from kqtools.storage.targets import _count_in_force, import_targets, target_progress
from kqtools.uscc import make_uscc

AS_OF = dt.date(2025, 6, 30)


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


KINDS = [("tsme", ""), ("hte", ""), ("gazelle", ""), ("potential_unicorn", ""), ("unicorn", ""),
         ("innovative_sme", "provincial"), ("zjtx", "provincial"), ("zjtx", "national"), ("zjtx", "city")]
EDGES = [dt.date(2024, 6, 30), dt.date(2025, 6, 30), dt.date(2025, 12, 27), dt.date(2024, 7, 1),
         dt.date(2025, 7, 1), dt.date(2024, 2, 29)]
DAYS = st.one_of(st.sampled_from(EDGES), st.dates(dt.date(2022, 1, 1), dt.date(2026, 12, 31)))
designation = st.tuples(st.sampled_from(KINDS), DAYS, st.one_of(st.none(), DAYS), st.one_of(st.none(), DAYS))
firm = st.tuples(st.sampled_from([None, "武进区", "新北区"]), st.lists(designation, max_size=6))


def load(db, firms, revocations: bool):
    for i, (district, recs) in enumerate(firms):
        u = code(100 + i)
        if district:
            db.conn.execute("INSERT INTO enterprises (uscc, name, district) VALUES (?, ?, ?)", (u, f"企业{i}", district))
        seen = set()
        for (kind, level), day, end, revoked in recs:
            if (kind, level, day) in seen:
                continue
            seen.add((kind, level, day))
            db.conn.execute("INSERT INTO designations (uscc, kind, level, recognized_on, expires_on, revoked_on) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (u, kind, level, day.isoformat(), None if end is None else max(day, end).isoformat(),
                             revoked.isoformat() if revocations and revoked else None))


def movement(setup, transitions):
    rows = []
    for lad in setup.rules.ladders:
        rows += [r for r in L.movement(lad, transitions[lad.id], True)
                 if any(r[k] for k in ("count", "previous", "at_risk"))]
    return sorted(rows, key=lambda r: (r["ladder"], r["tier"], r["district"] or ""))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(firms=st.lists(firm, min_size=1, max_size=6), revocations=st.booleans(),
       as_of=st.one_of(st.sampled_from([AS_OF, dt.date(2024, 2, 29)]), st.dates(dt.date(2023, 1, 1), dt.date(2026, 6, 30))))
def test_status_from_the_spans_is_the_status_from_the_designations(firms, revocations, as_of):
    db = open_db(":memory:")
    load(db, firms, revocations)
    setup = load_setup()
    assert S.fresh(db, setup)
    want = movement(setup, designation_transitions(db, setup, as_of, True))
    assert movement(setup, S.status_transitions(db, setup, as_of, True)) == want
    db.conn.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(firms=st.lists(firm, min_size=1, max_size=6), revocations=st.booleans(),
       days=st.lists(DAYS, min_size=1, max_size=3, unique=True))
def test_targets_counts_from_the_spans_are_the_counts_from_the_designations(firms, revocations, days):
    db = open_db(":memory:")
    load(db, firms, revocations)
    setup = load_setup()
    assert S.fresh(db, setup)
    wanted = [(ids, "in_force", d) for ids in (("hte",), ("tsme",), ("unicorn", "potential_unicorn"),
                                               ("zjtx_sme", "little_giant")) for d in sorted(days)]
    for by_district in (False, True):
        got, want = {w: {} for w in wanted}, {w: {} for w in wanted}
        S.count_in_force(db, setup, wanted, by_district, got)
        _count_in_force(db, setup, wanted, by_district, want)
        assert got == want
    db.conn.close()


def counts(status):
    return {(r["tier"], r["district"]): (r["count"], r["new"], r["lost"]) for r in status.rows if r["count"] or r["lost"]}


def test_importing_more_designations_changes_the_counts_at_once(db):
    import_rows(db, "enterprises", [{"uscc": code(1), "name": "常州甲科技有限公司", "district": "武进区"},
                                    {"uscc": code(2), "name": "常州乙电子有限公司", "district": "武进区"}])
    import_rows(db, "designations", [{"uscc": code(1), "kind": "hte", "recognized_on": "2022-11-06"}])
    before = ladder_status(db, AS_OF, by_district=True)
    assert counts(before)[("hte", "武进区")] == (1, 0, 0)
    assert db.conn.execute("SELECT count(*) FROM ladder_dirty").fetchone()[0] == 0      # built, nothing pending
    # the same list imported again changes nothing: nothing to refresh
    import_rows(db, "designations", [{"uscc": code(1), "kind": "hte", "recognized_on": "2022-11-06"}])
    import_rows(db, "enterprises", [{"uscc": code(1), "name": "常州甲科技有限公司", "district": "武进区"}])
    assert db.conn.execute("SELECT count(*) FROM ladder_dirty").fetchone()[0] == 0
    # a second firm certified, the first one's certificate revoked: the triggers mark both firms
    import_rows(db, "designations", [{"uscc": code(2), "kind": "hte", "recognized_on": "2024-12-01"}])
    db.conn.execute("UPDATE designations SET revoked_on = '2025-03-01' WHERE uscc = ?", (code(1),))
    assert db.conn.execute("SELECT count(*) FROM ladder_dirty").fetchone()[0] == 2
    after = counts(ladder_status(db, AS_OF, by_district=True))
    assert after[("hte", "武进区")] == (1, 1, 1)              # code(2) new, code(1) lost
    # the district moves with the register
    import_rows(db, "enterprises", [{"uscc": code(2), "name": "常州乙电子有限公司", "district": "新北区"}])
    assert counts(ladder_status(db, AS_OF, by_district=True))[("hte", "新北区")] == (1, 1, 0)
    # and targets progress counts from the same spans
    import_targets(db, "t.csv", io.BytesIO(b"tier,district,target_year,target,baseline_year,baseline\nhte,,2027,10,2024,0\n"))
    assert target_progress(db, AS_OF).rows[0]["current"] == 1
    db.conn.execute("DELETE FROM designations WHERE uscc = ?", (code(2),))
    assert target_progress(db, AS_OF).rows[0]["current"] == 0


def test_other_rules_or_a_read_only_database_count_from_the_designations(db, tmp_path):
    import_rows(db, "designations", [{"uscc": code(1), "kind": "hte", "recognized_on": "2022-11-06"}])
    setup = load_setup()
    assert S.fresh(db, setup)
    import_rows(db, "designations", [{"uscc": code(2), "kind": "tsme", "recognized_on": "2025-01-01"}])
    other = setup.__class__(setup.name, "0" * 64, setup.rules, setup.candidates, setup.flags)
    assert S.fresh(db, other, "my-ladder.toml") is False      # a --rules file: never rebuilt for it
    assert db.conn.execute("SELECT count(*) FROM ladder_dirty").fetchone()[0] == 1


def test_a_read_only_database_with_changes_pending_still_counts_right(db_path, kq):
    kq("import", "designations", "-", input="统一社会信用代码,资质类型,认定日期\n" + f"{code(1)},高新技术企业,2022-11-06\n")
    assert kq("ladder", "status", "--as-of", "2025-06-30", "-f", "json").returncode == 0      # builds the spans
    kq("import", "designations", "-", input="统一社会信用代码,资质类型,认定日期\n" + f"{code(2)},高新技术企业,2024-12-01\n")
    import sqlite3

    import sqlite_utils

    ro = sqlite_utils.Database(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True))
    status = ladder_status(ro, AS_OF)
    assert {r["tier"]: r["count"] for r in status.rows if r["count"]} == {"hte": 2}
    assert ro.conn.execute("SELECT count(*) FROM ladder_dirty").fetchone()[0] == 1     # nothing written
