"""The command-line conventions every command shares: help, startup, exit codes, output formats, pipes."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from conftest import run_kq, write_csv

HEAVY = ("apscheduler", "sqlalchemy", "python_calamine", "xlsxwriter", "openpyxl", "rapidfuzz", "sqlite_utils",
         "fastjsonschema", "jsonschema", "tabulate")

FIRMS = [
    ["91110108551385082Q", "北京示例科技有限公司", "湖东街道", "C3911", "规上", "2015/3/1"],
    ["9144030071526726XG", "深圳示例电子有限公司", "湖西街道", "C3976", "规下", "2024年7月1日"],
    ["91310000631696382C", "@上海示例医药有限公司", "湖东街道", "C2710", "规上", "2010-05-05"],
]
HEADER = ["统一社会信用代码", "企业名称", "所属区域", "行业代码", "企业规模", "成立日期"]


def test_help_lists_every_command_without_importing_heavy_libraries():
    code = ("import sys; from kqtools.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    rc = e.code\n"
            f"print('\\nLOADED', [m for m in {HEAVY!r} if m in sys.modules], rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "import" in proc.stdout and "score" in proc.stdout and "screen" in proc.stdout
    assert proc.stdout.strip().endswith("LOADED [] 0"), proc.stdout[-300:]


def test_unknown_command_is_a_usage_error_with_exit_2():
    r = run_kq("no-such-command")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_db_from_option_before_or_after_the_command_and_from_env(tmp_path):
    src = write_csv(tmp_path / "firms.csv", HEADER, FIRMS)
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert run_kq("--db", a, "import", "enterprises", src).returncode == 0
    assert run_kq("import", "enterprises", src, "--db", b).returncode == 0
    assert len(run_kq("enterprises", "list", db=a).jsonl()) == 3
    assert len(run_kq("enterprises", "list", "--db", b).jsonl()) == 3


def test_init_is_idempotent_and_reports_the_schema_version(kq, db_path):
    first = kq("init")
    again = kq("init")
    assert first.returncode == again.returncode == 0
    assert "applied" in first.stderr and "up to date" in again.stderr
    import sqlite3

    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [v for v, in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions and versions == sorted(set(versions)) and versions[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == versions[-1]


def test_output_formats_and_csv_file_for_excel(kq, tmp_path):
    kq("import", "enterprises", write_csv(tmp_path / "f.csv", HEADER, FIRMS))
    rows = kq("enterprises", "list").jsonl()  # a pipe gets jsonl
    assert {r["uscc"] for r in rows} == {f[0] for f in FIRMS}
    as_json = json.loads(kq("enterprises", "list", "-f", "json").stdout)
    assert as_json == rows
    table = kq("enterprises", "list", "-f", "table").stdout
    assert "北京示例科技有限公司" in table and "uscc" in table.splitlines()[0]
    tsv = kq("enterprises", "list", "-f", "tsv").stdout.splitlines()
    assert tsv[0].split("\t")[:2] == ["uscc", "name"]

    out = tmp_path / "firms.csv"
    r = kq("enterprises", "list", "-o", out)
    assert r.returncode == 0 and r.stdout == ""
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese correctly
    cells = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    names = [c[1] for c in cells[1:]]
    assert "'@上海示例医药有限公司" in names  # CSV injection neutralized
    stdout_csv = kq("enterprises", "list", "-f", "csv").stdout
    assert ",@上海示例医药有限公司," in stdout_csv  # pipelines get the data as it is


def test_xlsx_output_is_a_real_workbook(kq, tmp_path):
    kq("import", "enterprises", write_csv(tmp_path / "f.csv", HEADER, FIRMS))
    out = tmp_path / "firms.xlsx"
    assert kq("enterprises", "list", "-o", out).returncode == 0
    import python_calamine

    rows = python_calamine.CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
    assert rows[0][:2] == ["uscc", "name"]
    assert sorted(r[0] for r in rows[1:]) == sorted(f[0] for f in FIRMS)
    assert "@上海示例医药有限公司" in [r[1] for r in rows[1:]]  # string cells are never formulas: no apostrophe


def test_unknown_output_extension_is_one_line_error(kq, tmp_path):
    kq("import", "enterprises", write_csv(tmp_path / "f.csv", HEADER, FIRMS))
    r = kq("enterprises", "list", "-o", tmp_path / "x.pdf")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "extension" in r.stderr


def test_enterprise_filters_accept_chinese_values(kq, tmp_path):
    kq("import", "enterprises", write_csv(tmp_path / "f.csv", HEADER, FIRMS))
    kq("import", "designations", write_csv(tmp_path / "d.csv", ["统一社会信用代码", "荣誉类型", "级别", "认定日期"], [
        ["91110108551385082Q", "专精特新", "省级", "2025-06-01"],
        ["9144030071526726XG", "专精特新“小巨人”", "", "2025-06-01"],
        ["91310000631696382C", "高新技术企业", "", "2019-01-01"],  # expired by now
    ]))
    by_kind = kq("enterprises", "list", "--kind", "专精特新").jsonl()
    assert {r["uscc"] for r in by_kind} == {"91110108551385082Q", "9144030071526726XG"}
    national = kq("enterprises", "list", "--kind", "zjtx", "--level", "国家级").jsonl()
    assert [r["uscc"] for r in national] == ["9144030071526726XG"]
    assert kq("enterprises", "list", "--kind", "hte").jsonl() == []
    assert {r["uscc"] for r in kq("enterprises", "list", "--district", "湖东街道").jsonl()} == {
        "91110108551385082Q", "91310000631696382C"}
    bad = kq("enterprises", "list", "--level", "宇宙级")
    assert bad.returncode == 2 and "unknown value" in bad.stderr
    giants = kq("enterprises", "list", "--kind", '专精特新"小巨人"')  # a kind and a level at once
    assert giants.returncode == 0 and [r["uscc"] for r in giants.jsonl()] == ["9144030071526726XG"]
    assert [r["uscc"] for r in kq("enterprises", "list", "--size", "规下").jsonl()] == ["9144030071526726XG"]


def test_show_gathers_designations_metrics_and_credit(kq, tmp_path):
    kq("import", "enterprises", write_csv(tmp_path / "f.csv", HEADER, FIRMS))
    kq("import", "metrics", write_csv(tmp_path / "m.csv", ["统一社会信用代码", "年度", "用地面积（亩）", "实缴税收（万元）"],
                                      [["91110108551385082Q", "2025", "12.5", "1,234.5"]]))
    kq("import", "credit", write_csv(tmp_path / "c.csv", ["uscc", "source", "grade", "year"],
                                     [["91110108551385082Q", "纳税信用等级", "A", "2025"]]))
    shown = kq("enterprises", "show", "９１１１０１０８５５１３８５０８２ｑ").json()  # full-width, lower case
    assert shown["enterprise"]["name"] == "北京示例科技有限公司"
    assert shown["metrics"][0]["tax"] == 1234.5 and shown["metrics"][0]["land_mu"] == 12.5
    assert shown["credit"][0]["source"] == "tax_rating"
    missing = kq("enterprises", "show", "121200004013590816")
    assert missing.returncode == 1 and "no such firm" in missing.stderr
    out = tmp_path / "firm.xlsx"
    assert kq("enterprises", "show", "91110108551385082Q", "-o", out).returncode == 0
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(str(out))
    assert book.sheet_names == ["enterprise", "designations", "metrics", "credit", "requests"]
    assert book.get_sheet_by_name("metrics").to_python()[1][0] == 2025


def test_show_a_firm_known_only_from_a_credit_list(kq, tmp_path):
    """A blacklisted firm outside the register can still be looked up, with its records."""
    kq("import", "credit", write_csv(tmp_path / "c.csv", ["统一社会信用代码", "企业名称", "信用类型", "列入日期"],
                                     [["121200004013590816", "外地失信有限公司", "失信被执行人", "2025/3/1"]]))
    shown = kq("enterprises", "show", "121200004013590816")
    assert shown.returncode == 0
    record = shown.json()
    assert record["enterprise"]["name"] == "外地失信有限公司" and "register" in record["enterprise"]["note"]
    assert record["credit"][0]["source"] == "dishonest_debtor"


def test_a_mistyped_db_directory_is_an_error_not_a_new_folder(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "kq.db"
    for args in (["init"], ["enterprises", "list"], ["demo", "--db", target]):
        r = run_kq("--db", target, *args)
        assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "no").exists()


def test_check_uscc_arguments_and_stdin():
    ok = run_kq("check-uscc", "91110108551385082Q", "ｎ2330100ma27xl8n3q")
    assert ok.returncode == 0 and all(r["valid"] for r in ok.jsonl())
    bad = run_kq("check-uscc", "-", input="91110108551385082Q\n362322198709086409\n9.13205E+17\n")
    assert bad.returncode == 1
    results = bad.jsonl()
    assert [r["valid"] for r in results] == [True, False, False]
    assert "resident ID" in results[1]["reason"] and "Excel" in results[2]["reason"]


def test_confirmed_code_is_accepted_by_import(kq, tmp_path):
    src = write_csv(tmp_path / "f.csv", ["uscc", "name"], [["91350203M0001QKT19", "厦门老企业有限公司"]])
    assert kq("import", "enterprises", src).returncode == 1
    assert kq("check-uscc", "--allow", "91350203M0001QKT19").returncode == 2  # --reason is required
    assert kq("check-uscc", "--allow", "--reason", "市监局书面确认", "91350203M0001QKT19").returncode == 0
    assert kq("import", "enterprises", src).returncode == 0


def test_broken_pipe_exits_quietly(kq, tmp_path):
    from kqtools.uscc import make_uscc

    firms = [[make_uscc("91", "320500", f"{i:08d}"), f"示例公司{i}"] for i in range(3000)]
    kq("import", "enterprises", write_csv(tmp_path / "f.csv", ["uscc", "name"], firms))
    env_db = str(tmp_path / "kq.db")
    codes = tmp_path / "codes.txt"
    codes.write_text("\n".join(f[0] for f in firms) + "\n")
    for command in ("enterprises list", "check-uscc -"):
        proc = subprocess.run(["bash", "-c", f"{sys.executable} -m kqtools --db {env_db} {command} < {codes} | head -n 1;"
                               " echo rc=${PIPESTATUS[0]} >&2"], capture_output=True, text=True)
        assert proc.stdout.count("\n") == 1
        assert "Traceback" not in proc.stderr and "Error" not in proc.stderr
        assert proc.stderr.strip() == "rc=141"  # 128 + SIGPIPE, never 1 ("needs attention")


def test_rules_show_prints_the_shipped_defaults_for_copying():
    r = run_kq("rules", "list")
    assert r.returncode == 0
    assert "scoring-huaian-2024" in r.stdout.split()
    short = run_kq("rules", "show", "huaian-2024")  # the name --rules takes works here too
    assert short.returncode == 0 and short.stdout == run_kq("rules", "show", "scoring-huaian-2024").stdout
    unknown = run_kq("rules", "show", "nonsense")
    assert unknown.returncode == 2 and "kq rules list" in unknown.stderr


def test_a_migration_that_lands_after_a_higher_one_is_still_applied(db_path):
    """Two capabilities landing in either order: a database at version 5 still gets 0002."""
    from kqtools.storage import applied_versions, migrations, open_db

    db = open_db(str(db_path))
    all_versions = {v for v, _, _ in migrations()}
    assert applied_versions(db) == all_versions
    lowest_feature = sorted(all_versions)[1]
    name = next(n for v, n, _ in migrations() if v == lowest_feature)
    db.conn.execute("DELETE FROM schema_migrations WHERE version = ?", [lowest_feature])
    tables = [t for t in db.table_names()]
    # drop what that migration created, as if it had never run
    created = [line.split()[2] for line in next(sql for v, _, sql in migrations() if v == lowest_feature).splitlines()
               if line.upper().startswith("CREATE TABLE ")]
    for table in created:
        db.conn.execute(f"DROP TABLE {table}")
    db.conn.close()
    again = open_db(str(db_path))
    assert applied_versions(again) == all_versions
    assert set(created) <= set(again.table_names()) and created, name
    assert len(tables) == len(again.table_names())
