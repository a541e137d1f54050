"""``kq demo`` tells its story in the clerk's language: every line it composes is in Chinese with
``--lang zh`` (data stays as stored), the English story is unchanged, and the exit code is the same."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from conftest import run_kq
from kqtools.cli.demo import STEPS
from kqtools.errors import ExitStatus
from kqtools.i18n import display_width, pad

EN = {"KQ_LANG": "en"}
#: steps whose owner translates them in their own change (the story's lines they print stay English meanwhile)
PENDING_STEPS: set[str] = set()
#: sentences of the English story, one or more from each part the demo composes
ENGLISH_STORY = [
    "kq demo: fresh database", "  imported enterprises", " read, ", " inserted, ", " rejected", "    line 62: uscc:",
    "Credit lists as of", "whitelisted", "  blacklist 9", "  whitelist 9", "Screened applicants.csv",
    "against the blacklist", "-> listed", "-> review",
    "firms: A ", "kq score show --top 10:", "group  rank", "  above ", "  below ",
    "firms in scope", "without an eligible specialist", "firms due", "key firms not visited", "specialist_name",
    "cadence", " plan\n",
    "Reminder jobs due at", "done, 4 messages", "Outbox:", "recipient", "pending\n", "… and 4 more",
    "requests routed on the day received", "request 1: routed", "request 2: answered", "six more answered",
    "escalation(s)", "overdue\n", "days_overdue", "department", "received,", "sent back",
    "Reports with charts", " bytes", " charts", "sheets ",
    "Explore it:",
]
#: lines that are data, the same in every language: an escalation's note in the request's timeline, why a
#: firm got no specialist (the assignment's record)
DATA_LINE = re.compile(r"^    (#\d+ |[0-9A-Z]{18} )")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-language")
    en = run_kq("demo", "--db", folder / "en.db", env=EN)
    zh = run_kq("--lang", "zh", "--db", folder / "zh.db", "demo", env=EN)     # the flag beats $KQ_LANG
    return en, zh


def blocks(stdout: str) -> list[list[str]]:
    """The story in parts: the imports, each step of STEPS (each begins after an empty line), the hint."""
    return [part.splitlines() for part in stdout.split("\n\n")]


def test_the_chinese_story_has_no_english_sentence_and_the_same_exit_code(runs):
    en, zh = runs
    assert en.returncode == zh.returncode == ExitStatus.OK, (en, zh)
    assert zh.stderr == en.stderr == ""
    own = "\n\n".join("\n".join(b) for b, step in zip(blocks(zh.stdout)[1:], STEPS) if step not in PENDING_STEPS)
    text = "\n".join(blocks(zh.stdout)[0]) + "\n\n" + own + "\n\n" + "\n".join(blocks(zh.stdout)[-1]) + "\n"
    assert [phrase for phrase in ENGLISH_STORY if phrase in text] == []
    for line in ("kq demo：新建数据库", "  导入企业名录 enterprises.csv", "第 62 行：统一社会信用代码：",
                 "信用名单（截至 2026-06-30，第 1 版）：白名单 55 家，黑名单 6 家", "  黑名单 91320594135803871H",
                 "applicants.csv（35 行）对照黑名单筛查：列入 3 家，待核查 5 家",
                 "  分组   排名     得分 加减分  等级  企业名称", "  规上      1   189.75",
                 "服务范围内 185 家企业，已分配 175 家", "走访频次", "年度计划", "完成，4 条消息", "发件箱：10 条消息",
                 "待发送", "诉求 1：转办、办理、答复、回访（满意），2025-11-17 已销号", "逾期工作日",
                 "带图表的报表", "字节，3 张图表，工作表 汇总/", "接着看看："):
        assert line in zh.stdout, line


def test_only_data_is_the_same_in_both_languages(runs):
    """A line of the story the same in English and in Chinese is a stored record (or a pending step's)."""
    en, zh = runs
    en_blocks, zh_blocks = blocks(en.stdout), blocks(zh.stdout)
    assert len(en_blocks) == len(zh_blocks) == len(STEPS) + 2
    kept = [(b, step) for b, step in zip(range(1, len(STEPS) + 1), STEPS) if step not in PENDING_STEPS]
    for i in [0, *(b for b, _step in kept), len(STEPS) + 1]:
        same = set(en_blocks[i]) & set(zh_blocks[i])
        assert [line for line in same if not DATA_LINE.match(line)] == [], (STEPS[i - 1] if 0 < i <= len(STEPS) else i)


def test_the_english_story_is_unchanged(runs):
    en, _zh = runs
    out = en.stdout
    assert out.startswith("kq demo: fresh database ")
    assert "\n  imported enterprises   from enterprises.csv      (csv, gb18030): 305 read, 300 inserted, 5 rejected\n" in out
    assert "\n    line 62: uscc: Excel turned this code into a number" in out
    assert "\nCredit lists as of 2026-06-30 (version 1): 55 whitelisted, 6 blacklisted\n" in out
    assert "\nScreened applicants.csv (35 rows) against the blacklist: 3 listed, 5 to review, 0 unscreened\n" in out
    assert "\n  line 3: 澜思智能科技(苏州)有限公司 -> review (name 100) 91320594135803871H" in out
    assert "\n  group  rank    score bonus grade  name\n" in out
    assert "\nkq visits due --as-of 2026-01-05: 7 firms due (0 key firms not visited this quarter, 7 to keep" in out
    assert "\n  expiry-reminders   2026-01-05T00:30:00Z  done, 4 messages\n" in out
    assert "\nOutbox: 10 message(s) (kq outbox list; delivered by run-due when KQ_SMTP_URL" in out
    assert "\nrequest 2: answered, revisit 不满意 -> routed again, new due date 2025-11-28, reopened 1\n" in out
    assert "\nReports with charts (written to a temporary folder and removed; run the commands to keep them):\n" in out
    assert re.search(r"\n  kq report lists -o lists\.xlsx {20,}[\d,]+ bytes, 2 charts, sheets ", out)
    assert out.endswith(" imports\n") and "\nExplore it: kq --db " in out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_score_table_lines_up_under_its_headers(runs, lang):
    """Right-aligned columns end where their header ends, and names start under the name header,
    counting a Chinese character as two columns."""
    out = runs[lang == "zh"].stdout.splitlines()
    head = next(i for i, line in enumerate(out) if line.startswith("kq score show")) + 1

    def edges(line):
        return [(display_width(line[:m.start()]), display_width(line[:m.end()])) for m in re.finditer(r"\S+", line)]

    header = edges(out[head])
    for row in out[head + 1:head + 21]:
        cells = edges(row)
        assert cells[0][0] == header[0][0]                                  # group: left-aligned
        assert [c[1] for c in cells[1:5]] == [h[1] for h in header[1:5]], row    # rank, score, bonus, grade
        assert cells[5][0] == header[5][0], row                             # the name starts under its header


def test_a_refusal_is_one_line_in_either_language_with_the_same_exit_code(tmp_path):
    notes = tmp_path / "notes.db"
    notes.write_text("notes\n", encoding="utf-8")
    en = run_kq("demo", "--db", notes, env=EN)
    zh = run_kq("--lang", "zh", "demo", "--db", notes)
    assert en.returncode == zh.returncode == ExitStatus.USAGE
    assert "exists and is not an SQLite database" in en.stderr
    assert "已存在，且不是 SQLite 数据库" in zh.stderr and len(zh.stderr.strip().splitlines()) == 1
    assert notes.read_text(encoding="utf-8") == "notes\n" and en.stdout == zh.stdout == ""


@given(st.text(st.sampled_from("ab 1企业名录（）：—“é\u0301")), st.integers(0, 40), st.sampled_from("<>"))
def test_pad_fills_to_the_display_width_and_keeps_the_text(text, width, align):
    padded = pad(text, width, align)
    assert display_width(padded) == max(width, display_width(text))
    assert padded.strip(" ") == text.strip(" ") and (padded.startswith(text) if align == "<" else padded.endswith(text))
    if text.isascii():
        assert padded == f"{text:{align}{width}}"
