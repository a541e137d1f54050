"""Output in both languages: machine output never changes, human output is labelled and imports back.

JSON, JSONL and CSV/TSV on standard output keep the canonical field names and values in every
language; a table, and a workbook or CSV written with ``-o``, show labels in the chosen language
(``--labels/--no-labels`` override). A file kq wrote imports back as it is: its headers are the
schemas' header aliases, its values their value aliases, and the columns kq computes are left out.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from conftest import run_kq
from kqtools.errors import ExitStatus

ZH, EN = {"KQ_LANG": "zh"}, {"KQ_LANG": "en"}
DATA_TABLES = ("enterprises", "designations", "metrics", "credit_records", "specialists", "visits", "requests",
               "request_events", "assignments")


#: bookkeeping of the import that last saw a row (which batch, which line): every import moves it
SEEN = ("seen_batch", "seen_line")


def dump(path: Path) -> dict:
    """Every row of the data tables (not the import batches and rejects, which record each import,
    nor the columns that say which import saw a row last)."""
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        out = {}
        for t in DATA_TABLES:
            if t in tables:
                cols = [r[1] for r in conn.execute(f"PRAGMA table_info({t})") if r[1] not in SEEN]
                out[t] = sorted(map(repr, conn.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall()))
        return out
    finally:
        conn.close()


# ---------------------------------------------------------------- machine output is the same
#: read-only commands whose records cover the enumerations that have labels
MACHINE_COMMANDS = [
    ["enterprises", "list"],
    ["enterprises", "list", "-f", "json"],
    ["enterprises", "list", "-f", "csv"],
    ["enterprises", "list", "-f", "tsv"],
    ["enterprises", "show", "91320594136674960H"],
    ["check-uscc", "91110108551385082Q", "91110108551385082A", "123"],
    ["imports"],
    ["score", "show"],
    ["score", "runs"],
    ["score", "explain", "91320594138575528G"],
    ["lists", "versions"],
    ["lists", "show", "blacklist"],
    ["lists", "diff", "blacklist"],
    ["specialists", "list"],
    ["assignments", "show"],
    ["visits", "due", "--as-of", "2026-01-05"],
    ["jobs", "history"],
    ["outbox", "list"],
    ["requests", "list", "--as-of", "2026-01-05"],
    ["requests", "show", "2", "--as-of", "2026-01-05"],
    ["requests", "stats", "--as-of", "2026-01-05", "--by", "department"],
]


@pytest.mark.parametrize("args", MACHINE_COMMANDS, ids=lambda a: " ".join(a))
def test_machine_output_is_byte_identical_in_both_languages(demo, args):
    en = run_kq(*args, db=demo, env=EN)
    zh = run_kq(*args, db=demo, env=ZH)
    assert en.returncode == zh.returncode
    assert en.stdout and en.stdout == zh.stdout


def test_the_same_screening_gives_the_same_jsonl_and_differs_on_stderr(demo, tmp_path):
    src = tmp_path / "applicants.csv"
    src.write_text("统一社会信用代码,企业名称\n91320594135803871H,苏州澜思智能科技股份有限公司\n,苏州远航新材料有限公司\n"
                   "123,\n", encoding="utf-8")
    en = run_kq("screen", src, db=demo, env=EN)
    zh = run_kq("screen", src, db=demo, env=ZH)
    assert en.returncode == zh.returncode == ExitStatus.ATTENTION
    assert en.stdout == zh.stdout
    assert {r["verdict"] for r in en.jsonl()} == {"listed", "review", "unscreened"}
    assert "rows with hits" in en.stderr and "行有命中" in zh.stderr


# ---------------------------------------------------------------- human output is labelled
def test_a_table_in_chinese_shows_labels_and_value_labels(demo):
    out = run_kq("enterprises", "list", "-f", "table", db=demo, env=ZH).stdout
    head = out.splitlines()[0].split()
    assert head == ["统一社会信用代码", "企业名称", "所属区域", "企业规模", "成立日期", "现有荣誉资质"]   # the table's default columns
    assert "规上" in out and "above" not in out
    assert "国家级专精特新" in out and "zjtx:national" not in out
    blacklist = run_kq("lists", "versions", "-f", "table", db=demo, env=ZH).stdout
    assert blacklist.splitlines()[0].split()[:3] == ["版本", "截至日期", "生成时间"]


def test_screening_verdicts_in_chinese(demo, tmp_path):
    src = tmp_path / "applicants.csv"
    src.write_text("统一社会信用代码,企业名称\n91320594135803871H,苏州澜思智能科技股份有限公司\n,苏州远航新材料有限公司\n",
                   encoding="utf-8")
    out = run_kq("screen", src, "-f", "table", db=demo, env=ZH).stdout
    assert "筛查结论" in out and "列入" in out and "待核查" in out
    assert "listed" not in out.split("\n", 2)[2].replace("blacklisted", "")   # values, not just headers


def test_labels_and_no_labels_override_the_default(demo):
    plain = run_kq("enterprises", "list", "-f", "table", "--no-labels", db=demo, env=ZH).stdout
    assert plain.splitlines()[0].split()[0] == "uscc" and "above" in plain and "规上" not in plain
    assert plain == run_kq("enterprises", "list", "-f", "table", db=demo, env=EN).stdout
    labelled = run_kq("enterprises", "list", "--labels", db=demo, env=ZH).jsonl()
    assert labelled[0]["企业规模"] in ("规上", "规下") and "uscc" not in labelled[0]
    stdout_csv = run_kq("enterprises", "list", "-f", "csv", db=demo, env=ZH).stdout
    assert stdout_csv.startswith("uscc,name,district,")


SUMMARIES = [
    ["lists", "build", "--as-of", "2026-07-01"],
    ["score", "run", "--year", "2025"],
    ["requests", "add", "91320594136674960H", "--category", "融资", "--summary", "贷款贴息"],
    ["lists", "override", "add", "blacklist", "91320594136674960H", "--reason", "核查", "--operator", "王"],
]


def test_every_field_of_a_summary_has_a_chinese_label(copy):
    from kqtools import labels

    missing: set = set()
    token = labels.collect_missing(missing)
    try:
        for args in SUMMARIES:
            r = run_kq(*args, "-f", "table", db=copy, env=ZH, subprocess=False)
            assert r.returncode == ExitStatus.OK, r
    finally:
        labels.stop_collecting(token)
    assert missing == set()


def test_a_summary_table_is_labelled_and_its_json_is_not(copy):
    zh = run_kq("lists", "build", "--as-of", "2026-07-01", "-f", "table", db=copy, env=ZH)
    assert zh.returncode == ExitStatus.OK
    assert "白名单" in zh.stdout and "项目" in zh.stdout and "whitelist" not in zh.stdout
    js = run_kq("lists", "build", "--as-of", "2026-07-02", db=copy, env=ZH).json()
    assert "whitelist" in js and "白名单" not in json.dumps(js, ensure_ascii=False)


def test_files_for_excel_are_labelled_files_for_programs_are_not(demo, tmp_path):
    run_kq("enterprises", "list", "-o", tmp_path / "e.csv", db=demo, env=ZH)
    run_kq("enterprises", "list", "-o", tmp_path / "e.jsonl", db=demo, env=ZH)
    head = (tmp_path / "e.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert head.startswith("统一社会信用代码,企业名称,所属区域")
    first = json.loads((tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert "uscc" in first and first["size_class"] in ("above", "below")


def test_a_workbook_in_chinese_has_chinese_headers(demo, tmp_path):
    from python_calamine import CalamineWorkbook

    run_kq("enterprises", "list", "-o", tmp_path / "e.xlsx", db=demo, env=ZH)
    rows = CalamineWorkbook.from_path(str(tmp_path / "e.xlsx")).get_sheet_by_index(0).to_python()
    assert rows[0][:3] == ["统一社会信用代码", "企业名称", "所属区域"]
    assert {r[4] for r in rows[1:]} <= {"规上", "规下", ""}


# ---------------------------------------------------------------- a file kq wrote imports back
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_an_exported_list_imports_back_and_changes_nothing(copy, tmp_path, lang, suffix):
    env = {"KQ_LANG": lang}
    before = dump(copy)
    path = tmp_path / f"企业名录{suffix}"
    assert run_kq("enterprises", "list", "-o", path, db=copy, env=env).returncode == ExitStatus.OK
    r = run_kq("import", "enterprises", path, db=copy, env=env)
    assert r.returncode == ExitStatus.OK, r
    summary = r.json()
    assert (summary["inserted"], summary["updated"], summary["rejected"]) == (0, 0, 0)
    assert summary["unchanged"] == summary["read"] > 0
    assert summary["unknown_columns"] == []          # the computed 现有荣誉资质 column is left out, not kept
    assert dump(copy) == before


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_exported_specialist_list_imports_back_without_unknown_columns(copy, tmp_path, lang):
    """离岗日期 and 离岗原因 come from kq specialists deactivate, not from an import: the importer leaves
    them out instead of keeping them in extra. (Districts are listed sorted, so a specialist whose
    districts were imported in another order counts as updated: the set is the same.)"""
    env = {"KQ_LANG": lang}
    path = tmp_path / "服务专员.xlsx"
    assert run_kq("specialists", "list", "-o", path, db=copy, env=env).returncode == ExitStatus.OK
    r = run_kq("import", "specialists", path, db=copy, env=env)
    assert r.returncode == ExitStatus.OK, r
    summary = r.json()
    assert summary["unknown_columns"] == [] and summary["inserted"] == summary["rejected"] == 0


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_exported_request_list_imports_back_as_it_is(copy, tmp_path, lang):
    """The ledger's own number (id) was headed 编号, a header alias of the ticket number, so the
    Chinese export could not be imported (two columns for external_id); where a request stands
    (status, due date, department …) is kq's, not the file's."""
    env = {"KQ_LANG": lang}
    path = tmp_path / "诉求台账.xlsx"
    assert run_kq("requests", "list", "-o", path, db=copy, env=env).returncode == ExitStatus.OK
    r = run_kq("import", "requests", path, db=copy, env=env)
    assert r.returncode == ExitStatus.OK, r
    summary = r.json()
    assert summary["read"] > 0 and summary["unknown_columns"] == []
    assert (summary["inserted"], summary["rejected"]) == (0, 0)


def test_a_corrected_export_updates_only_what_the_clerk_changed(copy, tmp_path):
    path = tmp_path / "e.csv"
    run_kq("enterprises", "list", "-o", path, db=copy, env=ZH)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    header, first = rows[0], rows[1]
    first[header.index("所属区域")] = "新区"
    first[header.index("企业规模")] = "规下"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    summary = run_kq("import", "enterprises", path, db=copy, env=ZH).json()
    assert (summary["updated"], summary["inserted"]) == (1, 0)
    firm = run_kq("enterprises", "show", first[0], db=copy).json()["enterprise"]
    assert (firm["district"], firm["size_class"]) == ("新区", "below")


def test_every_label_of_an_import_field_is_one_of_its_header_aliases():
    """By construction: a labelled export of any import kind's fields maps back to those fields, and
    every enumerated value's label back to that value."""
    from kqtools import i18n, labels
    from kqtools.kinds import KINDS, get_kind, header_key

    token = i18n.use("zh")
    try:
        for name in KINDS:
            kind = get_kind(name)
            for field, prop in kind.schema["properties"].items():
                label = labels.column_label(field, name)
                assert kind.headers.get(header_key(label)) == field, (name, field, label)
                show = labels.value_mapper(field, name)
                for value in set(v for v in prop.get("x-values", {}).values() if isinstance(v, str)):
                    shown = show(value)
                    assert shown != value or not labels._chinese(shown), (name, field, value)
                    assert kind.fields[field](shown) == value, (name, field, value, shown)
            for computed in labels.COMPUTED.get(name, ()):
                label = labels.column_label(computed, name)
                assert header_key(label) not in kind.headers, (name, computed, label)
    finally:
        i18n.reset(token)


def test_the_designation_labels_the_issue_names():
    from kqtools import i18n, labels

    token = i18n.use("zh")
    try:
        assert labels.value_mapper("designations", "enterprises")("zjtx:national hte") == "国家级专精特新 高新技术企业"
        assert labels.value_mapper("size_class", "enterprises")("above") == "规上"
        assert labels.value_mapper("source", "credit")("dishonest_debtor") == "失信被执行人"
        assert labels.value_mapper("verdict")("listed") == "列入"
        assert labels.value_mapper("verdict")("review") == "待核查"
        assert labels.value_mapper("grade")("A") == "A"
    finally:
        i18n.reset(token)


# ---------------------------------------------------------------- every listing is translated
LISTINGS = MACHINE_COMMANDS + [
    ["jobs", "list"], ["visits", "coverage", "--year", "2025"], ["requests", "top"], ["lists", "override", "list"],
    ["assignments", "history", "91320594136674960H"], ["rejects", "1"],
]


@pytest.mark.parametrize("args", LISTINGS, ids=lambda a: " ".join(a))
def test_every_header_and_value_of_a_listing_has_a_chinese_label(demo, args):
    """Fails when a listing shows a column (or an enumerated value) the catalog has no label for:
    add it to a *_COLUMNS list, kqtools.labels.EXTRA_COLUMNS or VALUES, then python tools/catalog.py."""
    from kqtools import labels

    missing: set = set()
    token = labels.collect_missing(missing)
    try:
        r = run_kq(*[a for a in args if a not in ("-f", "json", "csv", "tsv")], "-f", "table", db=demo, env=ZH,
                   subprocess=False)
    finally:
        labels.stop_collecting(token)
    assert r.returncode in (ExitStatus.OK, ExitStatus.ATTENTION), r
    assert missing == set()


# ---------------------------------------------------------------- reports for leaders
@pytest.mark.parametrize("env, chinese", [({}, True), ({"LANG": "en_US.UTF-8"}, True), ({"KQ_LANG": "zh"}, True),
                                          ({"KQ_LANG": "en"}, False)])
def test_a_report_is_in_chinese_unless_english_is_asked_for(demo, tmp_path, env, chinese):
    """Reports go to section chiefs and district leaders: the locale of the terminal or of cron does
    not make them English; --lang en or KQ_LANG=en does."""
    page = tmp_path / "lists.html"
    r = run_kq("report", "lists", "-o", page, db=demo, env=env)
    assert r.returncode == ExitStatus.OK, r
    html = page.read_text(encoding="utf-8")
    assert ("信用红黑名单报告" in html) == chinese
    assert ("Credit whitelist and blacklist report" in html) == (not chinese)
    assert r.json()["report"] == "lists"                # the summary record is canonical either way


# ---------------------------------------------------------------- shell completion
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_that_names_kq(shell):
    r = run_kq("completion", shell)
    assert r.returncode == ExitStatus.OK
    assert r.stdout.strip() and "_KQ_COMPLETE" in r.stdout and "kq" in r.stdout
    assert {"bash": "complete ", "zsh": "compdef", "fish": "--command kq"}[shell] in r.stdout


def test_the_completion_script_completes_lazy_commands(tmp_path):
    """What the script asks kq (``_KQ_COMPLETE=bash_complete``) answers with the command names."""
    r = run_kq(env={"_KQ_COMPLETE": "bash_complete", "COMP_WORDS": "kq sc", "COMP_CWORD": "1"}, subprocess=True)
    assert set(r.stdout.split()) >= {"plain,score", "plain,screen", "plain,scheduler"}
