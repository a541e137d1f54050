"""kq ladder status: firms per tier in force on a date, and the movement over the year before it.

Real SQLite files and the real import pipeline; the database query is held to the firm-by-firm
rules of kqtools.ladder by a property test.
"""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import import_rows
from kqtools import ladder as L
from kqtools.storage import open_db
from kqtools.storage.ladder import ladder_status, load_setup
from kqtools.uscc import make_uscc

AS_OF = dt.date(2025, 6, 30)          # compared with 2024-06-30


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


def row(status, tier, district=None):
    return next(r for r in status.rows if r["tier"] == tier and r["district"] == district)


def movement_only(r) -> dict:
    return {k: r[k] for k in ("count", "previous", "new", "promoted", "demoted", "lost", "moved_up", "at_risk")}


def test_promotion_from_tech_sme_to_high_tech_counts_once_under_promoted(db):
    a, newcomer = code(1), code(30)
    import_rows(db, "designations", [
        {"uscc": a, "kind": "tsme", "recognized_on": "2024-05-10"},     # register year: to 2025-05-09
        {"uscc": a, "kind": "hte", "recognized_on": "2025-03-01"},      # certificate: to 2028-02-28
        {"uscc": newcomer, "kind": "hte", "recognized_on": "2024-12-01"},   # straight to high-tech: new
    ])
    s = ladder_status(db, AS_OF)
    assert movement_only(row(s, "hte")) == {"count": 2, "previous": 0, "new": 1, "promoted": 1, "demoted": 0,
                                            "lost": 0, "moved_up": 0, "at_risk": 0}
    # it left the tech-SME row upwards: not lost, not counted there any more
    assert movement_only(row(s, "tsme")) == {"count": 0, "previous": 1, "new": 0, "promoted": 0, "demoted": 0,
                                             "lost": 0, "moved_up": 1, "at_risk": 0}
    tech = [r for r in s.rows if r["ladder"] == "tech"]
    assert sum(r["new"] + r["promoted"] + r["demoted"] for r in tech) == 2      # each firm once


def test_promoted_firm_still_registered_as_tech_sme_counts_once_at_its_highest_tier(db):
    a = code(1)
    import_rows(db, "designations", [
        {"uscc": a, "kind": "tsme", "recognized_on": "2024-05-10"},
        {"uscc": a, "kind": "tsme", "recognized_on": "2025-05-05"},     # registered again this year
        {"uscc": a, "kind": "hte", "recognized_on": "2025-03-01"},
    ])
    s = ladder_status(db, AS_OF)
    assert (row(s, "hte")["count"], row(s, "hte")["promoted"], row(s, "tsme")["count"]) == (1, 1, 0)


def test_expired_high_tech_certificate_without_renewal_counts_under_lost(db):
    b = code(2)
    import_rows(db, "designations", [{"uscc": b, "kind": "hte", "recognized_on": "2021-11-01"}])   # to 2024-10-31
    s = ladder_status(db, AS_OF)
    assert movement_only(row(s, "hte")) == {"count": 0, "previous": 1, "new": 0, "promoted": 0, "demoted": 0,
                                            "lost": 1, "moved_up": 0, "at_risk": 0}


def test_renewal_in_time_keeps_the_firm_in_force_neither_lost_nor_new(db):
    c = code(3)
    import_rows(db, "designations", [
        {"uscc": c, "kind": "hte", "recognized_on": "2021-11-01"},      # to 2024-10-31
        {"uscc": c, "kind": "hte", "recognized_on": "2024-10-15"},      # renewed before it ran out
    ])
    s = ladder_status(db, AS_OF)
    assert movement_only(row(s, "hte")) == {"count": 1, "previous": 1, "new": 0, "promoted": 0, "demoted": 0,
                                            "lost": 0, "moved_up": 0, "at_risk": 0}


def test_at_risk_is_expiry_within_180_days_without_a_renewal_recorded(db):
    due, renewed, later = code(4), code(5), code(6)
    import_rows(db, "designations", [
        {"uscc": due, "kind": "hte", "recognized_on": "2022-10-01"},        # to 2025-09-30: 92 days left
        {"uscc": renewed, "kind": "hte", "recognized_on": "2022-10-01"},
        {"uscc": renewed, "kind": "hte", "recognized_on": "2025-09-15"},    # renewal already recorded
        {"uscc": later, "kind": "hte", "recognized_on": "2023-01-10"},      # to 2026-01-09: 193 days left
    ])
    s = ladder_status(db, AS_OF)
    assert (row(s, "hte")["count"], row(s, "hte")["at_risk"]) == (3, 1)
    # the 180th day counts, the 181st does not
    import_rows(db, "designations", [
        {"uscc": code(40), "kind": "hte", "recognized_on": "2023-01-01", "expires_on": "2025-12-27"},
        {"uscc": code(41), "kind": "hte", "recognized_on": "2023-01-01", "expires_on": "2025-12-28"}])
    assert row(ladder_status(db, AS_OF), "hte")["at_risk"] == 2
    db.conn.execute("DELETE FROM designations WHERE uscc IN (?, ?)", (code(40), code(41)))
    # 180 days is rule data: a file that says 200 puts the third firm at risk too
    assert ladder_status(db, AS_OF, rules_name=str(_rules_with(db, "at_risk_days = 200"))).rows[1]["at_risk"] == 2


def _rules_with(db, line: str):
    from importlib import resources
    from pathlib import Path

    text = resources.files("kqtools").joinpath("rules", "ladder.toml").read_text(encoding="utf-8")
    path = Path(db.conn.execute("PRAGMA database_list").fetchone()[2]).with_name("ladder-edited.toml")
    path.write_text(text.replace("at_risk_days = 180", line), encoding="utf-8")
    return path


def test_a_lapsed_gazelle_falls_back_to_high_tech_as_demoted(db):
    g = code(7)
    import_rows(db, "designations", [
        {"uscc": g, "kind": "hte", "recognized_on": "2023-03-01"},
        {"uscc": g, "kind": "gazelle", "recognized_on": "2024-06-18"},     # the 2024 list: to 2024-12-31
    ])
    s = ladder_status(db, AS_OF)
    assert (row(s, "gazelle")["previous"], row(s, "gazelle")["lost"], row(s, "gazelle")["count"]) == (1, 1, 0)
    assert (row(s, "hte")["count"], row(s, "hte")["demoted"], row(s, "hte")["previous"]) == (1, 1, 0)


def test_zjtx_ladder_takes_provincial_and_national_but_not_city_honours(db):
    import_rows(db, "designations", [
        {"uscc": code(8), "kind": "zjtx", "level": "city", "recognized_on": "2024-09-01"},
        {"uscc": code(9), "kind": "zjtx", "level": "provincial", "recognized_on": "2024-12-01"},
        {"uscc": code(9), "kind": "innovative_sme", "level": "provincial", "recognized_on": "2023-08-01"},
        {"uscc": code(10), "kind": "zjtx", "level": "national", "recognized_on": "2025-07-18"},   # after the date
    ])
    s = ladder_status(db, AS_OF, ladder_id="zjtx")
    assert {r["tier"]: r["count"] for r in s.rows} == {"innovative_sme": 0, "zjtx_sme": 1, "little_giant": 0}
    assert row(s, "zjtx_sme")["promoted"] == 1                   # innovative SME a year ago


def test_by_district_splits_the_counts_and_firms_without_a_district_keep_theirs(db):
    import_rows(db, "enterprises", [{"uscc": code(11), "name": "甲", "district": "武进区"},
                                    {"uscc": code(12), "name": "乙", "district": "新北区"}])
    import_rows(db, "designations", [{"uscc": code(i), "kind": "hte", "recognized_on": "2024-12-01"}
                                     for i in (11, 12, 13)])
    s = ladder_status(db, AS_OF, by_district=True)
    assert {r["district"]: r["count"] for r in s.rows if r["tier"] == "hte"} == {"新北区": 1, "武进区": 1, None: 1}


def test_a_revoked_designation_is_out_of_force_from_its_revocation_day(db):
    cols = {r[1] for r in db.conn.execute("PRAGMA table_info(designations)")}
    if "revoked_on" not in cols:       # the scoring capability's migration adds it; simulate it here
        db.conn.execute("ALTER TABLE designations ADD COLUMN revoked_on TEXT")
    import_rows(db, "designations", [{"uscc": code(i), "kind": "hte", "recognized_on": "2024-01-10"}
                                     for i in (14, 15, 16)])
    for i, day in ((14, "2025-06-30"), (15, "2025-07-01"), (16, "2024-06-30")):
        db.conn.execute("UPDATE designations SET revoked_on = ? WHERE uscc = ?", (day, code(i)))
    s = ladder_status(db, AS_OF)
    # revoked on the date itself: out of force that day (code 14); the day after: still in force (15);
    # revoked on the date a year earlier (16): not counted a year ago either
    assert (row(s, "hte")["count"], row(s, "hte")["lost"], row(s, "hte")["previous"]) == (1, 1, 2)


def test_cli_status_fields_and_the_dates_compared(kq, db, tmp_path):
    import_rows(db, "designations", [{"uscc": code(1), "kind": "hte", "recognized_on": "2024-12-01"}])
    r = kq("ladder", "status", "--as-of", "2025年6月30日", "--by", "district", "-f", "json")
    assert r.returncode == 0, r
    rows = r.json()
    assert list(rows[0]) == list(L.STATUS_FIELDS)
    assert "on 2025-06-30, movement since 2024-06-30" in r.stderr
    hte = next(x for x in rows if x["tier"] == "hte")
    assert (hte["count"], hte["new"], hte["district"]) == (1, 1, None)


def test_cli_unknown_ladder_and_bad_rule_file_are_one_line_errors(kq, db, tmp_path):
    r = kq("ladder", "status", "--ladder", "xiamen")
    assert r.returncode == 2 and "no ladder 'xiamen'" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[ladders]]\nid = "t"\n[[ladders.tiers]]\nid = "a"\nkind = "hte"\n[[ladders.tiers]]\n'
                   'id = "b"\nkind = "hte"\n', encoding="utf-8")
    r = kq("ladder", "status", "--rules", bad)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "tiers 'a' and 'b' both take kind 'hte'" in r.stderr


def test_rules_show_ladder_prints_the_shipped_rules():
    from conftest import run_kq

    r = run_kq("rules", "show", "ladder")
    assert r.returncode == 0 and "[[ladders]]" in r.stdout and "国科发火〔2016〕32号" in r.stdout


def test_validity_for_stored_rows_without_expiry_agrees_with_the_import_defaults():
    from kqtools.kinds import load_schema

    schema = load_schema("designations")["x-validity-years"]
    rules = load_setup().rules.validity
    assert {k: v for k, v in rules.items() if k in schema} == schema
    assert set(schema) <= set(rules)


# ---------------------------------------------------------------- the query against the rules, firm by firm
KINDS = [("tsme", ""), ("hte", ""), ("gazelle", ""), ("potential_unicorn", ""), ("unicorn", ""),
         ("innovative_sme", "provincial"), ("zjtx", "provincial"), ("zjtx", "national"), ("zjtx", "city"),
         ("pool", ""), ("tass", "")]
# dates from a short list as well as anywhere, so that recognitions, expiries, revocations, the date,
# the date a year earlier and the at-risk horizon (+180 days) often coincide
EDGES = [dt.date(2024, 6, 30), dt.date(2025, 6, 30), dt.date(2025, 12, 27), dt.date(2024, 2, 29),
         dt.date(2023, 2, 28), dt.date(2024, 8, 27)]
DAYS = st.one_of(st.sampled_from(EDGES), st.dates(dt.date(2022, 1, 1), dt.date(2026, 12, 31)))
designation = st.tuples(st.sampled_from(KINDS), DAYS, st.one_of(st.none(), DAYS, DAYS),
                        st.one_of(st.none(), st.none(), DAYS))
firm = st.tuples(st.sampled_from([None, "武进区", "新北区"]), st.lists(designation, max_size=5))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(firms=st.lists(firm, min_size=1, max_size=6),
       as_of=st.one_of(st.sampled_from([dt.date(2025, 6, 30), dt.date(2024, 2, 29)]),
                       st.dates(dt.date(2023, 1, 1), dt.date(2026, 6, 30))))
def test_status_query_matches_the_firm_by_firm_rules(firms, as_of):
    db = open_db(":memory:")
    if "revoked_on" not in {r[1] for r in db.conn.execute("PRAGMA table_info(designations)")}:
        db.conn.execute("ALTER TABLE designations ADD COLUMN revoked_on TEXT")
    by_firm, districts = {}, {}
    for i, (district, recs) in enumerate(firms):
        u = code(100 + i)
        districts[u] = district
        if district:
            db.conn.execute("INSERT INTO enterprises (uscc, name, district) VALUES (?, ?, ?)", (u, f"企业{i}", district))
        seen = set()
        for (kind, level), day, end, revoked in recs:
            if (kind, level, day) in seen:
                continue
            seen.add((kind, level, day))
            expires = None if end is None else max(day, end).isoformat()
            revoked_on = None if revoked is None else revoked.isoformat()
            rec = {"kind": kind, "level": level, "recognized_on": day.isoformat(), "expires_on": expires,
                   "revoked_on": revoked_on}
            by_firm.setdefault(u, []).append(rec)
            db.conn.execute("INSERT INTO designations (uscc, kind, level, recognized_on, expires_on, revoked_on) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (u, kind, level, rec["recognized_on"], expires, revoked_on))
    rules = load_setup().rules
    got = ladder_status(db, as_of, by_district=True)
    want = []
    for lad in rules.ladders:
        want += L.movement(lad, L.firm_transitions(lad, by_firm, districts, as_of, rules.at_risk_days,
                                                   rules.validity), True)
    assert _nonzero(got.rows) == _nonzero(want)
    for r in got.rows:   # every row adds up
        assert r["count"] == r["previous"] + r["new"] + r["promoted"] + r["demoted"] - r["lost"] - r["moved_up"]
        assert 0 <= r["at_risk"] <= r["count"]
    db.conn.close()


def _nonzero(rows):
    keys = ("count", "previous", "new", "promoted", "demoted", "lost", "moved_up", "at_risk")
    return sorted((r["ladder"], r["tier"], r["district"] or "", *(r[k] for k in keys)) for r in rows
                  if any(r[k] for k in keys))


@pytest.mark.parametrize("day, years, end", [("2023-11-06", 3, "2026-11-05"), ("2024-02-29", 1, "2025-02-27"),
                                             ("2024-02-29", 4, "2028-02-28"), ("2024-12-31", 1, "2025-12-30")])
def test_validity_in_years_ends_the_day_before_as_the_import_does(day, years, end):
    from kqtools import fields

    assert L.add_years(day, years) == fields.add_years(day, years) == end


def test_rows_stored_without_expiry_take_the_kinds_validity_in_the_query_too(db):
    # a row written by another program, without expires_on: a tech-SME registration of 29 February
    # runs to 27 February (the day before 28 February, as the import computes it)
    db.conn.execute("INSERT INTO designations (uscc, kind, level, recognized_on) VALUES (?, 'tsme', '', '2024-02-29')",
                    (code(20),))
    db.conn.execute("INSERT INTO designations (uscc, kind, level, recognized_on) VALUES (?, 'tass', '', '2020-01-01')",
                    (code(21),))
    assert row(ladder_status(db, dt.date(2025, 2, 27)), "tsme")["count"] == 1
    assert row(ladder_status(db, dt.date(2025, 2, 28)), "tsme")["count"] == 0


def test_rules_check_ladder_runs_the_same_compile_step_as_the_commands(tmp_path):
    from conftest import run_kq

    text = run_kq("rules", "show", "ladder").stdout
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(text, encoding="utf-8")
    bad.write_text(text.replace('id = "zjtx_sme"', 'id = "hte"'), encoding="utf-8")
    assert run_kq("rules", "check", "ladder", good).returncode == 0
    r = run_kq("rules", "check", "ladder", bad)
    assert r.returncode == 1 and "tier id 'hte' is already a tier of ladder 'tech'" in r.stderr
