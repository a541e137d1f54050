"""`kq import` and `kq imports` as a clerk runs them: real subprocesses, real files, a real database."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import sqlite3
import subprocess
import sys

import pytest

from conftest import write_csv

A, B, C = "91110108551385082Q", "91310000631696382C", "9144030071526726XG"
HEADER = ["统一社会信用代码", "企业名称", "所属区域", "企业规模"]


def table(db_path, sql, *params):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_clean_import_exits_0_with_json_summary(kq, tmp_path, db_path):
    src = write_csv(tmp_path / "firms.csv", HEADER, [[A, "甲公司", "高新区", "规上"], [B, "乙公司", "经开区", "规下"]])
    r = kq("import", "enterprises", src, "-f", "json")
    assert r.returncode == 0, r
    s = r.json()
    assert {k: s[k] for k in ("read", "inserted", "updated", "unchanged", "rejected")} == \
        {"read": 2, "inserted": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert isinstance(s["batch"], int)
    assert s["encoding"] == "utf-8" and s["format"] == "csv"
    assert table(db_path, "SELECT uscc, name, district, size_class, batch_id FROM enterprises ORDER BY uscc") == [
        (A, "甲公司", "高新区", "above", s["batch"]), (B, "乙公司", "经开区", "below", s["batch"])]


def test_table_summary_is_the_default_on_request(kq, tmp_path):
    src = write_csv(tmp_path / "firms.csv", HEADER, [[A, "甲公司", "高新区", "规上"]])
    r = kq("import", "enterprises", src, "-f", "table")
    assert r.returncode == 0 and "inserted" in r.stdout and not r.stdout.lstrip().startswith("{")


def test_reimport_counts_inserted_updated_unchanged(kq, tmp_path, db_path):
    src = write_csv(tmp_path / "v1.csv", HEADER, [[A, "甲公司", "高新区", "规上"], [B, "乙公司", "经开区", "规下"]])
    first = kq("import", "enterprises", src, "-f", "json").json()
    again = kq("import", "enterprises", src, "-f", "json").json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    src2 = write_csv(tmp_path / "v2.csv", HEADER, [[A, "甲公司", "高新区", "规下"], [B, "乙公司", "经开区", "规下"],
                                                   [C, "丙公司", "高新区", "规上"]])
    third = kq("import", "enterprises", src2, "-f", "json").json()
    assert (third["inserted"], third["updated"], third["unchanged"]) == (1, 1, 1)
    batches = dict(table(db_path, "SELECT uscc, batch_id FROM enterprises"))
    assert batches == {A: third["batch"], B: first["batch"], C: third["batch"]}  # the batch that last wrote it
    assert table(db_path, "SELECT count(*) FROM enterprises")[0][0] == 3


def test_columns_missing_from_a_file_are_left_alone(kq, tmp_path, db_path):
    kq("import", "enterprises", write_csv(tmp_path / "a.csv", HEADER, [[A, "甲公司", "高新区", "规上"]]))
    r = kq("import", "enterprises", write_csv(tmp_path / "b.csv", ["信用代码", "企业名称"], [[A, "甲公司（新）"]]),
           "-f", "json")
    assert r.json()["updated"] == 1
    assert table(db_path, "SELECT name, district, size_class FROM enterprises") == [("甲公司（新）", "高新区", "above")]


def test_rejects_name_line_field_value_reason_and_exit_1(kq, tmp_path, db_path):
    rows = [[A, "甲公司", "高新区", "规上"],
            ["362322198709086409", "张三", "", ""],            # line 3: resident ID
            ["9.13205E+17", "丁公司", "", ""],                  # line 4: Excel number
            [B, "乙公司", "", "中型"],                          # line 5: unknown size class
            [C, "", "", ""],                                    # line 6: name missing
            [A, "甲公司重复", "", ""]]                          # line 7: duplicate of line 2
    src = write_csv(tmp_path / "bad.csv", HEADER, rows)
    rejects = tmp_path / "rejects.csv"
    r = kq("import", "enterprises", src, "--rejects", rejects, "-f", "json")
    assert r.returncode == 1, r
    s = r.json()
    assert (s["read"], s["inserted"], s["rejected"]) == (6, 1, 5)
    with open(rejects, encoding="utf-8-sig", newline="") as fh:
        got = list(csv.DictReader(fh))
    # each rejected row whole, under the file's own headers, with 行号 (line) and 错误原因 (reasons)
    assert list(got[0]) == HEADER + ["行号", "错误原因"]
    by_line = {int(g["行号"]): g for g in got}
    assert sorted(by_line) == [3, 4, 5, 6, 7]
    assert by_line[3]["错误原因"].startswith("统一社会信用代码: ") and "resident ID" in by_line[3]["错误原因"]
    assert by_line[3]["统一社会信用代码"] == "362322198709086409" and by_line[3]["企业名称"] == "张三"
    assert "Excel turned this code into a number" in by_line[4]["错误原因"]
    assert by_line[5]["企业规模"] == "中型" and by_line[5]["错误原因"].startswith("企业规模: unknown value '中型'")
    assert by_line[6]["错误原因"] == "企业名称: required value missing: name"
    assert "line 2" in by_line[7]["错误原因"]   # a duplicate, found while writing: its line and reason
    # each reject is on stderr as one line naming file, line, column and reason
    assert "bad.csv: line 3, column 统一社会信用代码: uscc: looks like a resident ID" in r.stderr
    assert "Traceback" not in r.stderr
    # the valid row went in, and the rejects are kept with the batch
    assert table(db_path, "SELECT uscc, name FROM enterprises") == [(A, "甲公司")]
    stored = table(db_path, "SELECT line, field FROM rejects WHERE batch_id = ? ORDER BY line", s["batch"])
    assert [l for l, _ in stored] == [3, 4, 5, 6, 7]
    shown = kq("rejects", str(s["batch"]), "-f", "jsonl").jsonl()
    assert [x["line"] for x in shown] == [3, 4, 5, 6, 7]


def test_line_numbers_count_quoted_newlines_and_blank_lines(kq, tmp_path):
    src = tmp_path / "multi.csv"
    src.write_text("统一社会信用代码,企业名称,地址\n"
                   f'{A},甲公司,"第一行\n第二行"\n'
                   "\n"
                   f"{B[:-1]}X,乙公司,\n", encoding="utf-8")
    r = kq("import", "enterprises", src, "-f", "json")
    assert r.returncode == 1
    assert "multi.csv: line 5, column 统一社会信用代码" in r.stderr


def test_strict_writes_nothing(kq, tmp_path, db_path):
    src = write_csv(tmp_path / "bad.csv", HEADER, [[A, "甲公司", "", ""], ["123", "坏", "", ""]])
    r = kq("import", "enterprises", src, "--strict", "-f", "json")
    assert r.returncode == 1
    assert r.json()["written"] is False and r.json()["batch"] is None
    assert "nothing written" in r.stderr
    assert table(db_path, "SELECT count(*) FROM enterprises")[0][0] == 0
    assert table(db_path, "SELECT count(*) FROM batches")[0][0] == 0


def test_strict_clean_file_is_written(kq, tmp_path, db_path):
    src = write_csv(tmp_path / "ok.csv", HEADER, [[A, "甲公司", "", ""]])
    assert kq("import", "enterprises", src, "--strict").returncode == 0
    assert table(db_path, "SELECT count(*) FROM enterprises")[0][0] == 1


def test_stdin_dash(kq, db_path):
    data = f"统一社会信用代码,企业名称\n{A},甲公司\n".encode("gbk")
    r = kq("import", "enterprises", "-", "-f", "json", input=data)
    assert r.returncode == 0, r
    s = r.json()
    assert s["source"] == "-" and s["encoding"] == "gb18030" and s["inserted"] == 1
    assert s["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_encodings_detected(kq, tmp_path, db_path, encoding):
    src = write_csv(tmp_path / "enc.csv", HEADER, [[A, "苏州甲乙丙科技有限公司", "工业园区", "规上"]], encoding=encoding)
    r = kq("import", "enterprises", src, "-f", "json")
    assert r.returncode == 0, r
    expected = {"gbk": "gb18030", "gb18030": "gb18030", "utf-8-sig": "utf-8-sig", "utf-8": "utf-8"}[encoding]
    assert r.json()["encoding"] == expected
    assert table(db_path, "SELECT name FROM enterprises") == [("苏州甲乙丙科技有限公司",)]


def test_encoding_override(kq, tmp_path, db_path):
    # short GBK text that also decodes as UTF-8 garbage is not possible; force a wrong guess instead
    src = write_csv(tmp_path / "enc.csv", HEADER, [[A, "甲公司", "", ""]], encoding="gbk")
    r = kq("import", "enterprises", src, "--encoding", "gbk", "-f", "json")
    assert r.returncode == 0 and r.json()["encoding"] == "gbk"
    r = kq("import", "enterprises", src, "--encoding", "no-such-codec")
    assert r.returncode == 2 and "unknown encoding" in r.stderr


def test_gbk_after_a_long_ascii_prefix(kq, tmp_path, db_path):
    """The sniffed head is ASCII (looks like UTF-8), the Chinese comes later. A file is checked to
    the end and read as GBK; a pipe cannot be re-read: a one-line error that says what to do."""
    src = tmp_path / "late.csv"
    with open(src, "w", encoding="gbk", newline="") as fh:
        fh.write("uscc,name,note\n")
        fh.write(f"{A},ACME,x\n")
        fh.write("\n" * 70000)  # 70 KB of plain ASCII: more than the 64 KB sniffed
        fh.write(f"{B},乙公司,苏州\n")
    r = kq("import", "enterprises", src, "-f", "json")
    assert r.returncode == 0 and r.json()["encoding"] == "gb18030" and r.json()["inserted"] == 2, r
    assert kq("enterprises", "show", B).json()["enterprise"]["name"] == "乙公司"
    piped = subprocess.run(f"cat {src} | {sys.executable} -m kqtools --db {db_path} import enterprises -",
                           shell=True, capture_output=True, text=True)
    assert piped.returncode == 2
    assert len(piped.stderr.strip().splitlines()) == 1 and "--encoding gb18030" in piped.stderr
    assert kq("import", "enterprises", src, "--encoding", "gbk").returncode == 0


def test_tsv_json_jsonl(kq, tmp_path, db_path):
    (tmp_path / "a.tsv").write_text(f"信用代码\t企业名称\n{A}\t甲公司\n", encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps([{"uscc": B, "name": "乙公司"}], ensure_ascii=False), encoding="utf-8")
    (tmp_path / "c.jsonl").write_text(json.dumps({"统一社会信用代码": C, "企业名称": "丙公司"}, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    for name, fmt in (("a.tsv", "tsv"), ("b.json", "json"), ("c.jsonl", "jsonl")):
        r = kq("import", "enterprises", tmp_path / name, "-f", "json")
        assert r.returncode == 0 and r.json()["format"] == fmt and r.json()["inserted"] == 1, r
    # --format overrides the extension
    (tmp_path / "d.txt").write_text(json.dumps([{"uscc": A, "name": "甲"}], ensure_ascii=False), encoding="utf-8")
    assert kq("import", "enterprises", tmp_path / "d.txt", "--format", "json", "-f", "json").json()["format"] == "json"


def test_map_option(kq, tmp_path, db_path):
    src = write_csv(tmp_path / "m.csv", ["代码", "企业全称"], [[A, "甲公司"]])
    r = kq("import", "enterprises", src)
    assert r.returncode == 2 and "required field 'uscc'" in r.stderr and "--map" in r.stderr
    r = kq("import", "enterprises", src, "--map", "代码=uscc", "--map", "企业全称=name", "-f", "json")
    assert r.returncode == 0 and r.json()["inserted"] == 1
    r = kq("import", "enterprises", src, "--map", "nonsense")
    assert r.returncode == 2 and "HEADER=field" in r.stderr


def test_unknown_columns_reported_once(kq, tmp_path, db_path):
    src = write_csv(tmp_path / "x.csv", ["信用代码", "企业名称", "备注"], [[A, "甲", "重点"], [B, "乙", "一般"]])
    r = kq("import", "enterprises", src, "-f", "json")
    assert r.json()["unknown_columns"] == ["备注"]
    assert r.stderr.count("备注") == 1
    assert json.loads(table(db_path, "SELECT extra FROM enterprises WHERE uscc = ?", A)[0][0]) == {"备注": "重点"}


def xlsx(path, write):
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    write(wb)
    wb.close()
    return path


def test_xlsx_title_row_excel_dates_and_sheet_rows(kq, tmp_path, db_path):
    def write(wb):
        ws = wb.add_worksheet("2024年认定")
        datef = wb.add_format({"num_format": "yyyy年m月d日"})
        ws.write(0, 0, "2024年度专精特新中小企业认定名单")  # a title row above the header
        ws.write_row(2, 0, ["序号", "统一社会信用代码", "企业名称", "荣誉类型", "级别", "认定日期"])
        ws.write_row(3, 0, [1, A, "甲公司", '专精特新"小巨人"', ""])
        ws.write_datetime(3, 5, dt.datetime(2024, 7, 1), datef)
        ws.write_row(4, 0, [2, B, "乙公司", "专精特新", "省级"])
        ws.write_number(4, 5, 45474, datef)  # an Excel date serial
        ws.write_row(5, 0, [3, C, "丙公司", "专精特新", "", "2024/7/1"])  # no level: rejected, sheet row 6
        wb.add_worksheet("other").write_row(0, 0, ["x"])

    src = xlsx(tmp_path / "d.xlsx", write)
    r = kq("import", "designations", src, "-f", "json")
    assert r.returncode == 1, r
    s = r.json()
    assert s["format"] == "xlsx" and s["sheet"] == "2024年认定" and (s["inserted"], s["rejected"]) == (2, 1)
    assert "d.xlsx: line 6" in r.stderr and "level" in r.stderr
    assert table(db_path, "SELECT uscc, kind, level, recognized_on, expires_on FROM designations ORDER BY uscc") == [
        (A, "zjtx", "national", "2024-07-01", "2027-06-30"), (B, "zjtx", "provincial", "2024-07-01", "2027-06-30")]
    assert s["unknown_columns"] == []  # 序号 is left out, not kept in extra
    # new firms named in a designation list are created
    assert s["new_enterprises"] == 2


def test_xlsx_sheet_option_and_numbers(kq, tmp_path, db_path):
    def write(wb):
        wb.add_worksheet("说明").write(0, 0, "见第二页")
        ws = wb.add_worksheet("指标")
        ws.write_row(0, 0, ["统一社会信用代码", "年度", "用地面积（亩）", "营业收入（万元）", "重大安全环境事故"])
        ws.write_row(1, 0, [A, 2024, 12.5, 1234.5, "否"])
        ws.write_row(2, 0, [B, "2024年", "1,200", "3,456.7", "是"])

    src = xlsx(tmp_path / "m.xlsx", write)
    r = kq("import", "metrics", src, "--sheet", "指标", "-f", "json")
    assert r.returncode == 0, r
    assert table(db_path, "SELECT uscc, year, land_mu, revenue, incident FROM metrics ORDER BY uscc") == [
        (A, 2024, 12.5, 1234.5, 0), (B, 2024, 1200.0, 3456.7, 1)]
    assert kq("import", "metrics", src, "--sheet", "2", "-f", "json").returncode == 0
    r = kq("import", "metrics", src, "--sheet", "没有")
    assert r.returncode == 2 and "no sheet" in r.stderr and "指标" in r.stderr


def test_xlsx_code_stored_as_number(kq, tmp_path):
    src = xlsx(tmp_path / "n.xlsx", lambda wb: wb.add_worksheet().write_row(0, 0, ["信用代码", "企业名称"])
               or wb.worksheets()[0].write_row(1, 0, [913205071000000000, "甲"]))
    r = kq("import", "enterprises", src)
    assert r.returncode == 1 and "Excel turned this code into a number" in r.stderr


def test_imports_lists_batches_with_sha256(kq, tmp_path):
    src = write_csv(tmp_path / "firms.csv", HEADER, [[A, "甲公司", "", ""]])
    kq("import", "enterprises", src)
    kq("import", "enterprises", src)
    rows = kq("imports", "-f", "jsonl").jsonl()
    assert [r["batch"] for r in rows] == [2, 1]
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    assert all(r["sha256"] == digest and r["kind"] == "enterprises" and r["source"].endswith("firms.csv")
               for r in rows)
    assert rows[0]["unchanged"] == 1 and rows[1]["inserted"] == 1


@pytest.mark.parametrize("args,words", [
    (("enterprises", "no-such-file.csv"), "no such file"),
    (("enterprises", "."), "directory"),
    (("nonsense", "x.csv"), "nonsense"),
])
def test_unusable_sources_exit_2(kq, args, words):
    r = kq("import", *args)
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr


def test_every_kind_imports(kq, tmp_path, db_path):
    files = {
        "enterprises": ("统一社会信用代码,企业名称\n", f"{A},甲公司\n"),
        "designations": ("统一社会信用代码,荣誉类型,认定日期\n", f"{A},高新技术企业,2023-11-06\n"),
        "metrics": ("统一社会信用代码,年度,营业收入\n", f"{A},2024,100\n"),
        "credit": ("统一社会信用代码,信用类型,列入日期,决定书文号\n", f"{A},经营异常名录,2024-03-01,苏园市监〔2024〕1号\n"),
        "specialists": ("工号,姓名,负责区域\n", "S01,张三,高新区\n"),
        "visits": ("统一社会信用代码,专员编号,走访日期\n", f"{A},S01,2024年5月6日\n"),
    }
    for kind, (head, body) in files.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(head + body, encoding="utf-8")
        r = kq("import", kind, path, "-f", "json")
        assert r.returncode == 0 and r.json()["inserted"] == 1, (kind, r)
