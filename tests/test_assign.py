"""`kq assign`, `kq assignments`, `kq specialists list` through real subprocesses on a real database file."""
from __future__ import annotations

import pytest

from conftest import import_rows, write_csv
from assignment_oracle import may_serve
from kqtools.assignment import specialist_from_row
from kqtools.rules import load_rules
from kqtools.uscc import make_uscc

AS_OF = "2026-01-05"
SPEC_HEADER = ["工号", "姓名", "处室", "负责区域", "服务企业类型", "服务上限", "邮箱", "在岗"]
SPECS = [
    ["S01", "张三", "高新技术处", "湖塘镇、牛塘镇", "", "4", "zs@example.cn", "是"],
    ["S02", "李四", "高新技术处", "湖塘镇", "", "", "ls@example.cn", "是"],
    ["S03", "王五", "中小企业服务处", "牛塘镇|湖塘镇", "", "3", "ww@example.cn", "是"],
    ["S04", "赵六", "社会发展处", "湖塘镇", "", "", "zl@example.cn", "是"],
    ["S05", "孙八", "高新技术处", "湖塘镇", "", "", "", "1"],
]


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


def firm(i, district, industry="C3911"):
    return {"uscc": code(i), "name": f"常州{i:02d}科技有限公司", "district": district, "industry_code": industry}


@pytest.fixture
def world(tmp_path, kq, db):
    """12 high-tech firms (湖塘镇 8, 牛塘镇 4), 3 tech SMEs, 1 medical firm, 1 firm in a district nobody covers."""
    firms = [firm(i, "湖塘镇" if i < 8 else "牛塘镇") for i in range(12)]
    firms += [firm(20 + i, "牛塘镇") for i in range(3)]
    firms += [firm(30, "湖塘镇", "C2710"), firm(40, "雪堰镇")]
    import_rows(db, "enterprises", firms)
    des = [{"uscc": code(i), "kind": "hte", "recognized_on": "2024-11-06"} for i in range(12)]
    des += [{"uscc": code(20 + i), "kind": "tsme", "recognized_on": "2025-05-01", "expires_on": "2026-04-30"}
            for i in range(3)]
    des += [{"uscc": code(30), "kind": "tsme", "recognized_on": "2025-05-01", "expires_on": "2026-04-30"},
            {"uscc": code(40), "kind": "hte", "recognized_on": "2024-11-06"},
            # an expired designation: this firm is out of scope
            {"uscc": code(50), "name": "常州过期有限公司", "kind": "hte", "recognized_on": "2021-01-01"}]
    import_rows(db, "designations", des)
    path = write_csv(tmp_path / "专员.csv", SPEC_HEADER, SPECS)
    r = kq("import", "specialists", path)
    assert r.returncode == 0, r
    return tmp_path


def current(db) -> dict:
    return dict(db.conn.execute("SELECT uscc, specialist_id FROM assignments"))


def check_invariants(db, as_of=AS_OF):
    """Every assignment is to an active, eligible specialist within capacity."""
    rules = load_rules("assignment").data
    cur = db.conn.execute("SELECT * FROM specialists")
    cols = [d[0] for d in cur.description]
    specs = {row[0]: specialist_from_row(dict(zip(cols, row))) for row in cur}
    rows = db.conn.execute(
        "SELECT a.uscc, a.specialist_id, e.district, e.industry_code, "
        "(SELECT group_concat(kind) FROM designations d WHERE d.uscc = a.uscc AND d.recognized_on <= ? "
        " AND (d.expires_on IS NULL OR d.expires_on >= ?)) FROM assignments a "
        "LEFT JOIN enterprises e ON e.uscc = a.uscc", (as_of, as_of)).fetchall()
    load = {}
    for uscc, sid, district, industry, kinds in rows:
        assert may_serve(specs[sid], district, (kinds or "").split(","), industry, rules), (uscc, sid)
        load[sid] = load.get(sid, 0) + 1
    for sid, n in load.items():
        assert specs[sid].capacity is None or n <= specs[sid].capacity


def test_assign_everyone_eligible_within_capacity_and_reports_the_rest(world, kq, db):
    r = kq("assign", "--as-of", AS_OF)
    assert r.returncode == 1, r            # one firm nobody may take: needs attention
    rows = {x["uscc"]: x for x in r.jsonl()}
    assert set(rows) == {code(i) for i in [*range(12), 20, 21, 22, 30, 40]}
    # 雪堰镇 is covered by nobody: reported with the reason, not assigned
    lost = rows[code(40)]
    assert lost["to_specialist"] is None and lost["action"] == "unassigned"
    assert "雪堰镇" in lost["reason"]
    assert code(40) not in current(db)
    # the out-of-scope firm is not assigned; the medical SME goes to 社会发展处 or 中小企业服务处
    assert code(50) not in current(db)
    assert current(db)[code(30)] in {"S03", "S04"}
    # columns a clerk reads
    assert set(lost) >= {"uscc", "name", "from_specialist", "to_specialist", "reason"}
    assert rows[code(0)]["name"] == "常州00科技有限公司" and rows[code(0)]["reason"] == "new in scope"
    check_invariants(db)
    # 牛塘镇 high-tech firms: only S01 (cap 4) covers them; S03 takes the SMEs
    assert all(current(db)[code(i)] == "S01" for i in range(8, 12))
    assert all(current(db)[code(20 + i)] == "S03" for i in range(3))
    assert "in scope" in r.stderr and "1 unassigned" in r.stderr
    history = db.conn.execute("SELECT count(*), min(reason), min(changed_at) FROM assignment_history").fetchone()
    assert history[0] == 16 and history[1] == "new in scope" and history[2]


def test_rerun_changes_nothing(world, kq, db):
    kq("assign", "--as-of", AS_OF)
    before = (current(db), db.conn.execute("SELECT count(*) FROM assignment_history").fetchone()[0],
              db.conn.execute("SELECT count(*) FROM assignment_runs").fetchone()[0])
    r = kq("assign", "--as-of", AS_OF)
    assert [x["action"] for x in r.jsonl()] == ["unassigned"]       # only the report of the lost firm
    assert "0 assigned, 0 moved, 0 released" in r.stderr and "nothing to change" in r.stderr
    after = (current(db), db.conn.execute("SELECT count(*) FROM assignment_history").fetchone()[0],
             db.conn.execute("SELECT count(*) FROM assignment_runs").fetchone()[0])
    assert after == before


def test_dry_run_writes_nothing(world, kq, db):
    r = kq("assign", "--as-of", AS_OF, "--dry-run")
    assert len([x for x in r.jsonl() if x["to_specialist"]]) == 16
    assert "dry run" in r.stderr
    assert current(db) == {}
    assert db.conn.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 0


def test_deactivating_moves_only_that_specialists_firms(world, kq, db):
    kq("assign", "--as-of", AS_OF)
    before = current(db)
    s02 = {u for u, s in before.items() if s == "S02"}
    assert s02
    specs = [row[:] for row in SPECS]
    specs[1][7] = "否"                      # S02 leaves: re-import with active false
    r = kq("import", "specialists", write_csv(world / "专员2.csv", SPEC_HEADER, specs))
    assert r.returncode == 0, r
    r = kq("assign", "--as-of", AS_OF)
    moved = [x for x in r.jsonl() if x["action"] == "move"]
    assert {x["uscc"] for x in moved} == s02
    assert all(x["from_specialist"] == "S02" and x["reason"] == "specialist S02 inactive" for x in moved)
    after = current(db)
    assert "S02" not in after.values()
    assert {u: s for u, s in after.items() if u not in s02} == {u: s for u, s in before.items() if u not in s02}
    check_invariants(db)
    # S01 (cap 4) is full with 牛塘镇: S02's 湖塘镇 high-tech firms all go to S05
    assert {x["to_specialist"] for x in moved} == {"S05"}
    assert [x["action"] for x in r.jsonl() if x["action"] != "move"] == ["unassigned"]
    hist = db.conn.execute("SELECT from_specialist, to_specialist, reason FROM assignment_history "
                           "WHERE from_specialist = 'S02'").fetchall()
    assert len(hist) == len(s02) and all(h[2].startswith("specialist S02 inactive") for h in hist)


def test_lowered_capacity_moves_the_newest_firms(world, kq, db):
    kq("assign", "--as-of", AS_OF)
    specs = [row[:] for row in SPECS]
    specs[0][5] = "2"                       # S01: 4 -> 2
    specs[0][3] = "湖塘镇、牛塘镇、雪堰镇"
    specs.append(["S06", "钱七", "高新技术处", "牛塘镇", "", "", "", "是"])
    kq("import", "specialists", write_csv(world / "专员3.csv", SPEC_HEADER, specs))
    r = kq("assign", "--as-of", AS_OF)
    rows = r.jsonl()
    over = [x for x in rows if x["reason"].startswith("specialist S01 over capacity")]
    assert len(over) == 2 and all(x["to_specialist"] == "S06" for x in over)
    # all four were assigned the same day: the highest codes give way, the lowest stay
    assert {x["uscc"] for x in over} == {code(10), code(11)}
    assert current(db)[code(8)] == current(db)[code(9)] == "S01"
    check_invariants(db)
    # 雪堰镇 is now covered, but S01 is full: still reported
    assert next(x for x in rows if x["uscc"] == code(40))["reason"].startswith("all 1 eligible")
    assert r.returncode == 1


def test_out_of_scope_assignment_is_released(world, kq, db):
    kq("assign", "--as-of", AS_OF)
    assert current(db)[code(20)] == "S03"
    r = kq("assign", "--as-of", "2026-05-01")          # the tech-SME registrations ran out on 04-30
    rel = {x["uscc"]: x for x in r.jsonl() if x["action"] == "release"}
    assert set(rel) == {code(20), code(21), code(22), code(30)}
    assert rel[code(20)]["reason"].startswith("out of scope")
    assert code(20) not in current(db)


def test_custom_rules_and_bad_rules(world, kq, db, tmp_path):
    text = load_rules("assignment").text.replace('method = "fewest"', 'method = "round_robin"')
    text = text.replace('empty_districts = "all"', 'empty_districts = "none"')
    good = tmp_path / "rr.toml"
    good.write_text(text, encoding="utf-8")
    r = kq("assign", "--as-of", AS_OF, "--rules", good, "--dry-run")
    assert r.returncode == 1 and "round_robin" in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('"round_robin"', '"random"'), encoding="utf-8")
    r = kq("assign", "--rules", bad)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "strategy.method" in r.stderr
    assert "Traceback" not in r.stderr
    r = kq("rules", "show", "assignment")
    assert r.returncode == 0 and "yearly_coverage_goal" in r.stdout


def test_assignments_show_filters_and_xlsx(world, kq, db, tmp_path):
    kq("assign", "--as-of", AS_OF)
    r = kq("assignments", "show", "--specialist", "S01")
    rows = r.jsonl()
    assert rows and all(x["specialist_id"] == "S01" and x["specialist_name"] == "张三" for x in rows)
    assert set(rows[0]) >= {"uscc", "name", "district", "specialist_id", "specialist_name", "assigned_on"}
    assert rows[0]["assigned_on"] == AS_OF
    r = kq("assignments", "show", "--district", "牛塘镇")
    assert {x["district"] for x in r.jsonl()} == {"牛塘镇"} and len(r.jsonl()) == 7
    out = tmp_path / "服务专员.xlsx"
    r = kq("assignments", "show", "-o", out)
    assert r.returncode == 0, r
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(out))
    assert book.sheet_names == sorted(book.sheet_names) and "S01 张三" in book.sheet_names
    s01 = book.get_sheet_by_name("S01 张三").to_python()
    assert s01[0][:4] == ["uscc", "name", "district", "specialist_id"]
    assert len(s01) - 1 == sum(1 for s in current(db).values() if s == "S01")
    r = kq("assignments", "history", code(0))
    assert r.jsonl()[0]["to_specialist"] and r.jsonl()[0]["reason"] == "new in scope"


def test_specialists_list_shows_load(world, kq, db):
    kq("assign", "--as-of", AS_OF)
    rows = {x["id"]: x for x in kq("specialists", "list").jsonl()}
    loads = {}
    for s in current(db).values():
        loads[s] = loads.get(s, 0) + 1
    assert {k: v["load"] for k, v in rows.items()} == {k: loads.get(k, 0) for k in rows}
    assert rows["S01"]["capacity"] == 4 and rows["S02"]["capacity"] is None
    assert rows["S01"]["districts"] == "湖塘镇、牛塘镇" and rows["S01"]["active"] is True
    assert rows["S01"]["department"] == "高新技术处" and "hte" in rows["S01"]["serves"]


def test_assign_on_an_empty_database(kq):
    r = kq("assign")
    assert r.returncode == 0 and r.stdout == "" and "0 in scope" in r.stderr


def test_demo_step_assigns_and_shows_visits_due(world, db):
    from kqtools.storage.visits import demo_step

    lines = []
    demo_step(db, lines.append)
    text = "\n".join(lines)
    assert "17 firms in scope, 16 assigned, 1 without an eligible specialist" in text
    assert len(current(db)) == 16
    # no key firm, no visit yet: on 5 January the yearly plan's pace is one firm per specialist who serves
    # any (ceil(0.3 x firms x 5/365) = 1), and one for the firms nobody serves (雪堰镇's, for the coordinators)
    serving = len(set(current(db).values()))
    assert "雪堰镇" in text
    assert f"kq visits due --as-of 2026-01-05: {serving + 1} firms due (0 key firms" in text


def _rerun_outcome(kq, db, *args):
    r = kq("assign", "--as-of", *args)
    runs = db.conn.execute("SELECT count(*) FROM assignment_runs").fetchone()[0]
    return r.returncode, r.jsonl(), r.stderr.splitlines()[0], current(db), runs


def test_settled_state_answers_a_rerun_as_the_full_pass_does(world, kq, db):
    kq("assign", "--as-of", AS_OF)
    full = _rerun_outcome(kq, db, AS_OF)              # judged on the whole scope, then remembered
    assert db.conn.execute("SELECT as_of FROM assignment_state").fetchone() == (AS_OF,)
    assert _rerun_outcome(kq, db, AS_OF) == full      # answered from the remembered state
    assert [x["uscc"] for x in full[1]] == [code(40)] and "nothing to change" in full[2]
    # a later day with the same designations current: the same answer
    later = _rerun_outcome(kq, db, "2026-03-01")
    assert later[1:] == (full[1], full[2].replace(AS_OF, "2026-03-01"), *full[3:])
    dry = kq("assign", "--as-of", AS_OF, "--dry-run")
    assert dry.jsonl() == full[1]
    # forgetting the state gives the same answer again
    db.conn.execute("DELETE FROM assignment_state")
    assert _rerun_outcome(kq, db, AS_OF) == full


def test_settled_state_is_not_used_once_an_input_changed(world, kq, db):
    kq("assign", "--as-of", AS_OF)
    kq("assign", "--as-of", AS_OF)
    # the firm nobody covered moves to 湖塘镇 (an enterprise re-import): it is assigned now
    import_rows(db, "enterprises", [firm(40, "湖塘镇")])
    r = kq("assign", "--as-of", AS_OF)
    assert [(x["uscc"], x["action"]) for x in r.jsonl()] == [(code(40), "assign")]
    assert code(40) in current(db)
    check_invariants(db)


def test_settled_state_is_not_used_when_a_designation_starts_later(world, kq, db):
    import_rows(db, "enterprises", [firm(60, "湖塘镇")])
    import_rows(db, "designations", [{"uscc": code(60), "kind": "hte", "recognized_on": "2026-02-01"}])
    kq("assign", "--as-of", AS_OF)
    kq("assign", "--as-of", AS_OF)                      # settled, remembered
    assert code(60) not in current(db)
    r = kq("assign", "--as-of", "2026-01-31")
    assert [x["action"] for x in r.jsonl()] == ["unassigned"]
    r = kq("assign", "--as-of", "2026-02-01")           # the new high-tech firm enters the scope
    assert (code(60), "assign") in [(x["uscc"], x["action"]) for x in r.jsonl()]
    check_invariants(db, "2026-02-01")


def test_a_rule_file_without_release_out_of_scope_releases_as_documented():
    # docs/specialists.md: an assignment ends when the firm leaves the scope "unless
    # release_out_of_scope = false": a copied rule file that omits the key must keep releasing
    from kqtools.assignment import Policy

    data = load_rules("assignment").data
    assert Policy.from_rules(data).release_out_of_scope is True
    scope = {k: v for k, v in data["scope"].items() if k != "release_out_of_scope"}
    assert Policy.from_rules({**data, "scope": scope}).release_out_of_scope is True
    assert Policy.from_rules({**data, "scope": {**scope, "release_out_of_scope": False}}).release_out_of_scope is False


def test_an_unassigned_firm_says_which_designation_nobody_serves(world, kq, db):
    # a gazelle firm (瞪羚) in 湖塘镇: covered, but by no department that serves gazelles
    # and a high-tech firm whose district the register does not give, with no bureau-wide specialist
    import_rows(db, "enterprises", [firm(60, "湖塘镇"), firm(61, None)])
    import_rows(db, "designations", [{"uscc": code(60), "kind": "gazelle", "recognized_on": "2026-01-01"},
                                     {"uscc": code(61), "kind": "hte", "recognized_on": "2024-11-06"}])
    rows = {x["uscc"]: x for x in kq("assign", "--as-of", AS_OF).jsonl()}
    assert rows[code(60)]["action"] == rows[code(61)]["action"] == "unassigned"
    assert rows[code(60)]["reason"] == "no active specialist in district 湖塘镇 serves gazelle"
    assert rows[code(61)]["reason"] == "firm's district is unknown and no active specialist covers every district"
    assert rows[code(40)]["reason"] == "no active specialist covers district 雪堰镇"


def test_a_rule_file_without_scope_kinds_takes_every_designation_kind():
    # docs/specialists.md: "[scope] kinds (default: all eight)"
    from kqtools.assignment import Policy

    data = load_rules("assignment").data
    scope = {k: v for k, v in data["scope"].items() if k != "kinds"}
    assert Policy.from_rules({**data, "scope": scope}).scope_kinds == {
        "zjtx", "hte", "tsme", "tass", "gazelle", "unicorn", "potential_unicorn", "innovative_sme"}


def test_firms_kept_out_of_scope_are_not_counted_as_kept_in_scope(world, kq, db, tmp_path):
    # release_out_of_scope = false: on 1 May the four tech SMEs (expired 30 April) stay with their
    # specialists, but the summary's "kept" counts the in-scope firms kept, as on any run
    rules = tmp_path / "assignment.toml"
    rules.write_text(kq("rules", "show", "assignment").stdout.replace("release_out_of_scope = true",
                                                                       "release_out_of_scope = false"), encoding="utf-8")
    assert kq("assign", "--as-of", AS_OF, "--rules", rules).returncode == 1
    r = kq("assign", "--as-of", "2026-05-01", "--rules", rules)
    assert "13 in scope, 12 kept, 0 assigned, 0 moved, 0 released, 1 unassigned" in r.stderr, r
    assert all(current(db)[code(i)] == "S03" for i in (20, 21, 22))       # still with their specialist
