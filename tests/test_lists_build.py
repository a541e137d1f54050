"""kq lists build / show / diff / override against a real database file and the real CLI."""
from __future__ import annotations

import datetime as dt
import json

from conftest import import_rows, write_csv

from kqtools.storage.lists import build_lists, entries, latest_blacklist

D = dt.date
GOOD = "91110108551385082Q"      # whitelisted: A, A, high-tech
DEBTOR = "9144030071526726XG"    # dishonest debtor, still listed
OLD = "91310000631696382C"       # dishonest debtor removed in 2021
PENALTY = "121200004013590816"   # serious administrative penalty in 2025
OTHER = "12440600MB2C07549J"     # good ratings but a general penalty this year


def seed(db):
    import_rows(db, "enterprises", [
        {"uscc": GOOD, "name": "苏州科达科技股份有限公司"}, {"uscc": DEBTOR, "name": "苏州宏达机械有限公司"},
        {"uscc": OLD, "name": "苏州旧案电子有限公司"}, {"uscc": PENALTY, "name": "苏州处罚化工有限公司"},
        {"uscc": OTHER, "name": "苏州一般处罚科技有限公司"}])
    import_rows(db, "designations", [
        {"uscc": GOOD, "kind": "高新技术企业", "recognized_on": "2024-11-06", "certificate_no": "GR202432000123"},
        {"uscc": OTHER, "kind": "科技型中小企业", "recognized_on": "2026-05-01"}])
    assert not import_rows(db, "credit", [
        {"uscc": GOOD, "source": "纳税信用等级", "grade": "A", "year": 2025},
        {"uscc": GOOD, "source": "纳税信用等级", "grade": "A级", "year": 2024},
        {"uscc": OTHER, "source": "纳税信用等级", "grade": "A", "year": 2025},
        {"uscc": OTHER, "source": "纳税信用等级", "grade": "A", "year": 2024},
        {"uscc": OTHER, "source": "行政处罚", "severity": "一般", "started_on": "2026-02-10", "reference": "苏环罚〔2026〕8号"},
        {"uscc": DEBTOR, "source": "失信被执行人", "started_on": "2025-03-01", "reference": "(2025)苏0505执123号"},
        {"uscc": OLD, "source": "失信被执行人", "started_on": "2019-03-01", "ended_on": "2021-05-10",
         "reference": "(2019)苏0505执9号"},
        {"uscc": PENALTY, "source": "行政处罚", "severity": "严重", "started_on": "2025-09-01",
         "reference": "苏市监罚〔2025〕77号"},
    ]).rejects


def test_build_as_of_a_date_gives_both_lists_with_reasons_since_and_until(db):
    seed(db)
    result = build_lists(db, D(2026, 6, 30))
    assert (result["version"], result["whitelist"], result["blacklist"]) == (1, 1, 2)
    assert result["entered"] == 3 and result["left"] == 0
    black = {e["uscc"]: e for e in entries(db, "blacklist", 1)}
    assert set(black) == {DEBTOR, PENALTY}
    assert black[DEBTOR]["until"] is None and black[DEBTOR]["reasons"][0]["reference"] == "(2025)苏0505执123号"
    assert black[PENALTY]["until"] == "2028-09-01"          # serious: leaves at the 3-year maximum
    white = entries(db, "whitelist", 1)
    assert [e["uscc"] for e in white] == [GOOD]
    assert white[0]["name"] == "苏州科达科技股份有限公司" and white[0]["until"] == "2027-04-01"
    assert latest_blacklist(db) == {DEBTOR, PENALTY}


def test_latest_blacklist_is_empty_before_any_build(db):
    assert latest_blacklist(db) == set()


def test_versions_are_kept_and_changes_say_why(db):
    seed(db)
    build_lists(db, D(2026, 6, 30))
    second = build_lists(db, D(2028, 9, 1))
    assert second["version"] == 2
    left = {c["uscc"]: c for c in second["changes"] if c["change"] == "left"}
    assert left[PENALTY]["why"][0] == {"rule": "window_ended", "until": "2028-09-01"}
    assert any("no tax rating for 2027" in w.get("reason", "") for w in left[GOOD]["why"])
    assert len(entries(db, "blacklist", 1)) == 2                     # version 1 untouched


def test_override_survives_a_rebuild_and_expires_on_its_date(kq, db):
    seed(db)
    # relative to today: an override whose --until is already past is refused
    until = D.today() + dt.timedelta(days=60)
    r = kq("lists", "override", "add", "blacklist", OTHER, "--reason", "区市场监管局通报", "--until", until.isoformat(),
           "--operator", "王科员")
    assert r.returncode == 0, r
    kq("lists", "override", "remove", "blacklist", DEBTOR, "--reason", "已履行完毕, 法院证明", "--operator", "王科员")
    for _ in range(2):                                    # rebuild: still applied
        assert kq("lists", "build", "--as-of", (until - dt.timedelta(days=1)).isoformat()).returncode == 0
        shown = {e["uscc"]: e for e in kq("lists", "show", "blacklist").jsonl()}
        assert OTHER in shown and DEBTOR not in shown
        assert shown[OTHER]["override"] == 1 and "区市场监管局通报" in shown[OTHER]["reasons"]
        assert shown[OTHER]["until"] == until.isoformat()
    kq("lists", "build", "--as-of", until.isoformat())         # the override's own date: no longer applied
    shown = {e["uscc"] for e in kq("lists", "show", "blacklist").jsonl()}
    assert OTHER not in shown and DEBTOR not in shown     # the removal has no expiry
    diff = {e["uscc"]: e for e in kq("lists", "diff", "blacklist").jsonl()}
    assert diff[OTHER]["change"] == "left" and diff[OTHER]["details"][0]["rule"] == "override_ended"
    listed = kq("lists", "override", "list", "--all").jsonl()
    assert {o["status"] for o in listed} == {"active"}    # status is about today, not the as-of date
    assert {o["operator"] for o in listed} == {"王科员"}


def test_cli_build_show_diff_round_trip(kq, tmp_path):
    firms = write_csv(tmp_path / "firms.csv", ["统一社会信用代码", "企业名称"],
                      [[DEBTOR, "苏州宏达机械有限公司"], [OLD, "苏州旧案电子有限公司"]])
    credit = write_csv(tmp_path / "credit.csv", ["统一社会信用代码", "信用类型", "列入日期", "移出日期", "案号"],
                       [[DEBTOR, "失信被执行人", "2025-03-01", "", "(2025)苏0505执123号"],
                        [OLD, "失信被执行人", "2026-01-05", "2026-09-01", "(2026)苏0505执7号"]])
    assert kq("import", "enterprises", firms).returncode == 0
    assert kq("import", "credit", credit).returncode == 0
    first = kq("lists", "build", "--as-of", "2026-06-30")
    assert first.returncode == 0 and first.json()["blacklist"] == 2
    assert "entered blacklist" in first.stderr
    second = kq("lists", "build", "--as-of", "2026年9月1日")
    assert second.json()["left"] == 1
    d = kq("lists", "diff", "blacklist").jsonl()
    assert [(x["uscc"], x["change"]) for x in d] == [(OLD, "left")]
    assert "2026-09-01" in d[0]["reasons"]
    old = kq("lists", "show", "blacklist", "--version", "1", "-f", "csv")
    assert old.stdout.splitlines()[0].startswith("uscc,name,since,until,reasons") and OLD in old.stdout
    assert len(kq("lists", "versions").jsonl()) == 2


def test_cli_errors_are_one_line(kq, tmp_path):
    r = kq("lists", "show", "blacklist")
    assert r.returncode == 2 and "kq lists build" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.toml"
    text = open(__import__("kqtools").__path__[0] + "/rules/lists.toml", encoding="utf-8").read()
    bad.write_text(text.replace('length = "2y"', 'length = "two years"'), encoding="utf-8")
    r = kq("lists", "build", "--rules", bad)
    assert r.returncode == 2 and "rules.0.length" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = kq("lists", "override", "add", "blacklist", "91110108551385082A", "--reason", "x", "--operator", "a")
    assert r.returncode == 2 and "check character" in r.stderr
    r = kq("lists", "build", "--as-of", "2026-02-30")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_lists_show_diff_and_override_take_the_chinese_list_names(kq, db):
    seed(db)
    assert kq("lists", "build", "--as-of", "2026-06-30").returncode == 0
    black = kq("lists", "show", "黑名单").jsonl()
    assert {e["uscc"] for e in black} == {DEBTOR, PENALTY}
    assert [e["uscc"] for e in kq("lists", "show", "白名单").jsonl()] == [GOOD]
    r = kq("lists", "override", "add", "黑名单", OTHER, "--reason", "区市场监管局通报", "--operator", "王科员")
    assert r.returncode == 0 and r.json()["list"] == "blacklist"


def test_an_override_that_has_already_expired_is_refused(kq, db):
    seed(db)
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    for until in (yesterday, dt.date.today().isoformat(), "2020-01-01"):
        r = kq("lists", "override", "add", "blacklist", OTHER, "--reason", "x", "--until", until, "--operator", "a")
        assert r.returncode == 2 and "not in the future" in r.stderr, r
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert db.execute("SELECT count(*) FROM list_overrides").fetchone()[0] == 0
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    r = kq("lists", "override", "add", "blacklist", OTHER, "--reason", "x", "--until", tomorrow, "--operator", "a")
    assert r.returncode == 0 and r.json()["until"] == tomorrow


def test_rules_show_lists_prints_the_defaults_with_every_duration(kq):
    r = kq("rules", "show", "lists")
    assert r.returncode == 0
    for text in ('length = "2y"', 'length = "1y"', 'max = "3y"', 'serious = { min = "1y", max = "3y" }',
                 "publication_month = 4", 'unknown_basis = "direct"', 'negative_until_removed = ["abnormal_operation"]'):
        assert text in r.stdout


def test_a_build_writes_nothing_when_the_rule_file_is_unusable(db, tmp_path):
    import pytest

    from kqtools.rules import RulesError

    seed(db)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tax": {}}), encoding="utf-8")
    with pytest.raises(RulesError):
        build_lists(db, D(2026, 6, 30), str(bad))
    assert db.execute("SELECT count(*) FROM list_versions").fetchone()[0] == 0


def test_synthetic_credit_mix_is_realistic_and_the_stress_mix_is_kept():
    import collections

    import synth  # tools/synth.py (conftest puts tools/ on the path)

    rows = list(synth.iter_credit_rows(10_000, 30_000, seed=3))
    share = {k: v / len(rows) for k, v in collections.Counter(r[2] for r in rows).items()}
    assert set(share) == set(synth.CREDIT_SOURCES)                       # every source present
    assert 0.8 < share["tax_rating"] < 0.9
    assert share["dishonest_debtor"] + share["serious_violation"] + share["research_misconduct"] < 0.01
    grades = collections.Counter(r[3] for r in rows if r[2] == "tax_rating")
    assert grades["A"] + grades["B"] > 0.8 * sum(grades.values()) and grades["D"] < 0.01 * sum(grades.values())
    stress = list(synth.iter_credit_rows(10_000, 30_000, seed=3, mix="stress"))
    assert sum(r[2] == "dishonest_debtor" for r in stress) > 0.04 * len(stress)


def test_credit_terms_from_an_office_file_through_the_command_line(kq, tmp_path):
    """直接判级 and 信用修复日期 columns as a tax office and a credit platform send them."""
    credit = write_csv(tmp_path / "信用记录.csv",
                       ["统一社会信用代码", "信用类型", "等级", "年度", "直接判级", "列入日期", "移出日期", "信用修复日期", "文号"],
                       [[GOOD, "纳税信用等级", "D", 2024, "是", "", "", "", "税评〔2025〕1号"],
                        [DEBTOR, "纳税信用等级", "D", 2024, "否", "", "", "", "税评〔2025〕2号"],
                        [OLD, "纳税信用等级", "D", 2024, "", "", "", "", "税评〔2025〕3号"],
                        [PENALTY, "严重违法失信名单", "", "", "", "2025-01-10", "2026-03-10", "", "市监严列〔2025〕4号"],
                        [OTHER, "失信被执行人", "", "", "", "2025-02-01", "", "2026-05-20", "(2025)苏0505执77号"]])
    r = kq("import", "credit", credit)
    assert r.returncode == 0, r
    assert kq("lists", "build", "--as-of", "2026-03-09").json()["blacklist"] == 5
    shown = {e["uscc"]: e for e in kq("lists", "show", "blacklist").jsonl()}
    assert shown[GOOD]["until"] == "2027-04-01" and "2024 D (assigned directly)" in shown[GOOD]["reasons"]
    assert shown[DEBTOR]["until"] == "2026-04-01" and "2024 D (by score)" in shown[DEBTOR]["reasons"]
    assert shown[OLD]["until"] == "2027-04-01" and "basis unknown: treated as direct" in shown[OLD]["reasons"]
    assert shown[PENALTY]["until"] == "2026-03-10"          # removed after 14 months: leaves on its removal date
    assert shown[OTHER]["until"] == "2026-05-20"            # repaired: stops counting on the repair date
    assert shown[OTHER]["details"][0]["repaired_on"] == "2026-05-20"
    kq("lists", "build", "--as-of", "2026-06-30")
    assert {e["uscc"] for e in kq("lists", "show", "blacklist").jsonl()} == {GOOD, OLD}


def test_a_revoked_override_is_not_applied_by_later_builds(kq, db):
    seed(db)
    r = kq("lists", "override", "add", "blacklist", OTHER, "--reason", "区市场监管局通报", "--operator", "王科员")
    assert r.returncode == 0, r
    kq("lists", "build", "--as-of", "2026-06-30")
    assert OTHER in {e["uscc"] for e in kq("lists", "show", "blacklist").jsonl()}
    r = kq("lists", "override", "revoke", str(r.json()["id"]), "--operator", "李科长")
    assert r.returncode == 0 and "revoked" in r.stderr
    assert kq("lists", "override", "list").jsonl() == []
    assert [o["status"] for o in kq("lists", "override", "list", "--all").jsonl()] == ["revoked"]
    kq("lists", "build", "--as-of", "2026-06-30")
    assert OTHER not in {e["uscc"] for e in kq("lists", "show", "blacklist").jsonl()}
    left = kq("lists", "diff", "blacklist").jsonl()
    assert [(x["uscc"], x["change"], x["details"][0]["rule"]) for x in left] == [(OTHER, "left", "override_ended")]
    again = kq("lists", "override", "revoke", "1", "--operator", "李科长")
    assert again.returncode == 2 and "no active override #1" in again.stderr


def test_lists_built_as_of_a_past_date_are_a_version_of_their_own(db):
    """The scoring veto builds the lists as of the evaluation's last day, after later builds."""
    from kqtools.storage.lists import blacklist_codes, version_as_of

    seed(db)
    import_rows(db, "credit", [{"uscc": OTHER, "source": "失信被执行人", "started_on": "2025-03-01",
                                "ended_on": "2026-01-15", "reference": "(2025)苏0505执9号"}])
    late = build_lists(db, D(2026, 6, 30))
    past = build_lists(db, D(2025, 12, 31))
    assert (late["version"], past["version"]) == (1, 2)
    assert blacklist_codes(db, 1) == {DEBTOR, PENALTY}
    assert blacklist_codes(db, 2) == {DEBTOR, PENALTY, OTHER}
    assert version_as_of(db, D(2025, 12, 31)) == 2 and version_as_of(db, D(2024, 12, 31)) is None
    assert version_as_of(db, D(2025, 12, 31), rules_sha256=past["rules_sha256"]) == 2
    assert version_as_of(db, D(2025, 12, 31), rules_sha256="0" * 64) is None
    assert latest_blacklist(db) == {DEBTOR, PENALTY, OTHER}      # the latest version, whatever its date


def test_a_revoked_designation_no_longer_makes_a_firm_whitelisted(db):
    """撤销认定: a designation revoked on or before the as-of date is not current (revoked_on, migration 0009)."""
    seed(db)
    assert build_lists(db, D(2026, 6, 30))["whitelist"] == 1
    assert not import_rows(db, "designations", [
        {"uscc": GOOD, "kind": "高新技术企业", "recognized_on": "2024-11-06", "revoked_on": "2026-06-30"}]).rejects
    assert build_lists(db, D(2026, 6, 30))["whitelist"] == 0
    assert build_lists(db, D(2026, 6, 29))["whitelist"] == 1             # revoked the next day: current until then
    assert entries(db, "whitelist", 3)[0]["until"] == "2026-06-30"


def test_list_rules_whose_minimum_exceeds_their_maximum_are_refused_by_check_and_build(kq, tmp_path):
    text = open(__import__("kqtools").__path__[0] + "/rules/lists.toml", encoding="utf-8").read()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('general = { min = "3m", max = "1y" }', 'general = { min = "2y", max = "1y" }'),
                   encoding="utf-8")
    r = kq("rules", "check", "lists", bad)
    assert r.returncode == 1 and "repair.general: min 2y exceeds max 1y" in r.stderr and str(bad) in r.stderr
    r = kq("lists", "build", "--rules", bad)
    assert r.returncode == 2 and "repair.general: min 2y exceeds max 1y" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert kq("lists", "versions").jsonl() == []
    assert kq("rules", "check", "lists", "lists").returncode == 0
