"""The growth ladder speaks the clerk's language: ``kq --lang zh ladder/targets/watch`` say what they did
and what is wrong in Chinese, one line each, with the same exit codes; English is unchanged and the
records themselves (JSON) are the same in both languages."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from conftest import import_rows, write_csv
from kqtools import i18n
from kqtools import targets as T
from kqtools.errors import ExitStatus
from kqtools.uscc import make_uscc

ZH = ("--lang", "zh")


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


def one_line(stderr: str) -> bool:
    return stderr.count("\n") == 1 and "Traceback" not in stderr


def test_ladder_status_says_what_it_counted_in_chinese_and_the_records_do_not_change(kq, db):
    import_rows(db, "designations", [{"uscc": code(1), "kind": "hte", "recognized_on": "2024-12-01"}])
    zh = kq(*ZH, "ladder", "status", "--as-of", "2025-06-30", "-f", "json")
    en = kq("ladder", "status", "--as-of", "2025-06-30", "-f", "json")
    assert zh.returncode == en.returncode == ExitStatus.OK, (zh, en)
    assert "2025-06-30 各梯次企业数，及与 2024-06-30 相比的变动（规则：" in zh.stderr
    assert "ladder status on 2025-06-30, movement since 2024-06-30 (rules " in en.stderr
    assert zh.stdout == en.stdout and any(r["tier"] == "hte" and r["count"] == 1 for r in zh.json())


def test_the_chinese_status_table_heads_firms_now_and_a_year_earlier_as_such(kq, db):
    """The shared column labels would say 次数 (count) and 上一版本 (previous version): wrong here."""
    head = kq(*ZH, "ladder", "status", "--as-of", "2025-06-30", "-f", "table").stdout.splitlines()[0]
    assert "梯次名称" in head and "企业数" in head and "一年前" in head
    assert "次数" not in head and "上一版本" not in head


def test_a_bad_targets_table_is_one_chinese_line_naming_line_and_column_and_nothing_is_written(kq, db, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", ["梯次", "目标年度", "目标值", "基期年度"],
                    [["高新技术企业", "2027", "8000", "2022"], ["瞪羚企业", "2207", "20", "2022"]])
    zh = kq(*ZH, "targets", "import", bad)
    en = kq("targets", "import", bad)
    assert zh.returncode == en.returncode == ExitStatus.USAGE
    assert one_line(zh.stderr) and one_line(en.stderr)
    assert f"{bad}：第 3 行第 B 列（target_year）：'2207' 不是 1990 至 2100 之间的年份" in zh.stderr
    assert f"{bad}: line 3, column B (target_year): '2207' is not a year between 1990 and 2100" in en.stderr
    assert db.conn.execute("SELECT count(*) FROM targets").fetchone()[0] == 0


def test_a_targets_table_without_its_headers_and_a_repeated_target_are_chinese_too(kq, tmp_path):
    headless = write_csv(tmp_path / "headless.csv", ["tier", "year"], [["hte", "2027"]])
    r = kq(*ZH, "targets", "import", headless)
    assert r.returncode == ExitStatus.USAGE and one_line(r.stderr)
    assert f"{headless}：前几行中没有包含 tier (梯次), target_year (目标年度)" in r.stderr
    twice = write_csv(tmp_path / "twice.csv", ["梯次", "目标年度", "目标值", "基期年度"],
                      [["高新技术企业", "2027", "8000", "2022"], ["hte", "2027", "9000", "2022"]])
    r = kq(*ZH, "targets", "import", twice)
    assert r.returncode == ExitStatus.USAGE and one_line(r.stderr)
    assert f"{twice}：第 3 行：hte、全区、2027 年的目标重复（第一次出现在第 2 行）" in r.stderr


def test_command_and_rule_file_errors_of_the_ladder_are_chinese(kq, tmp_path):
    r = kq(*ZH, "ladder", "status", "--ladder", "xiamen")
    assert r.returncode == ExitStatus.USAGE and one_line(r.stderr)
    assert "中没有梯队 'xiamen'（现有梯队：tech" in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[ladders]]\nid = "t"\n[[ladders.tiers]]\nid = "a"\nkind = "hte"\n[[ladders.tiers]]\n'
                   'id = "b"\nkind = "hte"\n', encoding="utf-8")
    r = kq(*ZH, "ladder", "status", "--rules", bad)
    assert r.returncode == ExitStatus.USAGE and one_line(r.stderr)
    assert "ladders.t：梯次 'a' 和 'b' 都按同一级别的 'hte' 认定" in r.stderr
    r = kq(*ZH, "ladder", "candidates", "--tier", "tsme")
    assert r.returncode == ExitStatus.USAGE and one_line(r.stderr)
    assert "没有 tsme 的认定条件（有认定条件的梯次：hte）；请添加 [candidates.tsme]" in r.stderr
    r = kq(*ZH, "watch")
    assert r.returncode == ExitStatus.USAGE and one_line(r.stderr) and "数据库中没有年度指标" in r.stderr
    r = kq(*ZH, "targets", "progress")
    assert r.returncode == ExitStatus.USAGE and "还没有目标：请先导入（kq targets import changzhou-2027" in r.stderr


def test_the_options_shared_by_the_ladder_commands_have_chinese_help(kq):
    for command in (("ladder", "status"), ("ladder", "classes"), ("targets", "progress")):
        r = kq(*ZH, *command, "--help")
        assert r.returncode == ExitStatus.OK, r
        assert "统计日期" in r.stdout and "梯次规则文件" in r.stdout and "The date to count on" not in r.stdout


BAD_VALUES = st.one_of(st.text(st.sampled_from("x二〇,. -1.5年家"), min_size=1, max_size=6), st.booleans(),
                       st.integers(-5, 3000), st.floats(allow_nan=False, allow_infinity=False))


@given(target_year=BAD_VALUES, target=BAD_VALUES)
def test_every_reason_a_target_value_is_refused_is_chinese_and_names_its_field(target_year, target):
    """Whatever is wrong with a row, the reader gets the field (to find its column) and a Chinese reason."""
    values = {"tier": "高新技术企业", "target_year": target_year, "target": target, "baseline_year": 2020}
    token = i18n.use("zh")
    try:
        T.target_from(values, {"高新技术企业": "hte"})
    except T.FieldError as exc:
        assert exc.field in T.REQUIRED
        assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.reason), exc.reason
    finally:
        i18n.reset(token)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_field_error_reads_field_colon_reason_as_before(lang):
    token = i18n.use(lang)
    try:
        with pytest.raises(ValueError, match=r"^target: ") as caught:
            T.target_from({"tier": "hte", "target_year": 2027, "target": "many", "baseline_year": 2022}, {"hte": "hte"})
    finally:
        i18n.reset(token)
    assert caught.value.reason == {"en": "'many' is not a number", "zh": "'many' 不是数字"}[lang]
