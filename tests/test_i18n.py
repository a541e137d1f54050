"""kq in the clerks' language: choosing it, help and errors in Chinese, and a catalog that is complete.

The language of a command: ``--lang``, else ``$KQ_LANG``, else the locale (``LC_ALL``, ``LC_MESSAGES``,
``LANG``: the first one set, starting with ``zh``), else English. Every message kq can say is in the
catalog with a Chinese translation (``tools/catalog.py`` extracts them; the tests here fail when one
lacks its translation or is not marked at all).
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT, run_kq
from kqtools.errors import ExitStatus

import catalog  # tools/catalog.py (conftest puts tools/ on the path)

PACKAGE = ROOT / "kqtools"
CLI = PACKAGE / "cli"
VALID = "91110108551385082Q"


def zh(*args, **kwargs):
    return run_kq(*args, env={"KQ_LANG": "zh", **kwargs.pop("env", {})}, **kwargs)


# ---------------------------------------------------------------- choosing the language
@pytest.mark.parametrize("env, flag, expected", [
    ({}, None, "en"),
    ({"LANG": "zh_CN.UTF-8"}, None, "zh"),
    ({"LANG": "C.UTF-8"}, None, "en"),
    ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, None, "zh"),
    ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, None, "en"),           # LC_ALL wins over LANG, as in POSIX
    ({"LC_ALL": "zh_TW.UTF-8", "LC_MESSAGES": "en_US"}, None, "zh"),
    ({"KQ_LANG": "en", "LC_ALL": "zh_CN.UTF-8"}, None, "en"),       # $KQ_LANG wins over the locale
    ({"KQ_LANG": "zh"}, None, "zh"),
    ({"KQ_LANG": "zh_CN"}, None, "zh"),
    ({"KQ_LANG": "zh"}, "en", "en"),                                 # the flag wins over everything
    ({"LANG": "en_US.UTF-8"}, "zh", "zh"),
])
def test_the_language_of_a_command(env, flag, expected):
    from kqtools.settings import Settings

    assert Settings.from_env(env, lang=flag).lang == expected
    r = run_kq(*(["--lang", flag] if flag else []), "--help", env=env)
    assert r.returncode == ExitStatus.OK
    assert ("用法" in r.stdout) == (expected == "zh"), r.stdout[:200]


def test_a_language_kq_does_not_speak_is_refused_in_one_line():
    r = run_kq("enterprises", "list", env={"KQ_LANG": "fr"})
    assert r.returncode == ExitStatus.USAGE
    assert r.stderr.strip() == "kq: error: $KQ_LANG: 'fr' is not a language kq speaks (en, zh)"
    r = run_kq("--lang", "fr", "enterprises", "list")
    assert r.returncode == ExitStatus.USAGE and "'fr' is not one of 'en', 'zh'" in r.stderr


def test_a_process_speaks_each_commands_language_and_nothing_leaks(kq):
    """Tests (and any program) run many commands in one process: each in its own language."""
    for _ in range(2):
        assert "用法" in kq("--lang", "zh", "score", "--help", subprocess=False).stdout
        english = kq("score", "--help", subprocess=False).stdout
        assert "Usage:" in english and "用法" not in english and "Resource-utilization evaluation" in english
        assert "kq: error:" in kq("import", "enterprises", "no-such.csv", subprocess=False).stderr
        assert "kq：错误：" in kq("--lang", "zh", "import", "enterprises", "no-such.csv", subprocess=False).stderr
    from kqtools import i18n

    assert i18n.current() == "en"


# ---------------------------------------------------------------- help and errors in Chinese
def test_help_in_chinese_from_the_locale_in_a_real_process():
    r = run_kq("--help", env={"LANG": "zh_CN.UTF-8"}, subprocess=True)
    assert r.returncode == ExitStatus.OK
    out = r.stdout
    for words in ("用法:", "选项:", "命令:", "显示本帮助并退出。", "显示版本并退出。", "亩均效益综合评价",
                  "信用红黑名单", "退出码：0 完成"):
        assert words in out, words
    for english in ("Usage:", "Options:", "Commands:", "Show this message and exit.", "Exit codes"):
        assert english not in out, english


def test_a_subcommands_help_in_chinese(kq):
    r = kq("--lang", "zh", "requests", "route", "--help")
    assert r.returncode == ExitStatus.OK
    out = r.stdout
    assert "转办：将诉求转交牵头部门" in out and "牵头部门（默认：规则中该类别的牵头部门）。" in out
    assert "显示本帮助并退出。" in out
    group = kq("--lang", "zh", "lists", "--help").stdout
    assert "kq lists build --as-of 2026-06-30          生成两份名单，作为新版本" in group   # a \\b block as written
    assert "信用红黑名单，由信用记录按规则文件生成。" in group


def test_chinese_help_fits_the_terminal_by_display_width(kq):
    from kqtools.cli.localized import display_width

    out = kq("--lang", "zh", "score", "show", "--help", env={"COLUMNS": "80"}).stdout
    assert "用法: kq score show" in out
    wide = [line for line in out.splitlines() if display_width(line) > 80]
    assert wide == [], wide


def test_an_error_in_chinese(kq, tmp_path):
    r = kq("--lang", "zh", "import", "enterprises", tmp_path / "no-such.csv")
    assert r.returncode == ExitStatus.USAGE
    assert r.stderr.strip() == f"kq：错误：{tmp_path / 'no-such.csv'}：文件不存在"
    r = kq("--lang", "zh", "score", "show")
    assert r.returncode == ExitStatus.USAGE and r.stderr.strip() == "kq：错误：还没有评价（kq score run --year YEAR）"


def test_clicks_own_errors_in_chinese(kq):
    r = kq("--lang", "zh", "enterprises", "list", "--as-of", "9999-12-31")
    assert r.returncode == ExitStatus.USAGE
    assert "用法: kq enterprises list [OPTIONS]" in r.stderr
    assert "错误：--as-of 的值无效：9999-12-31：日期太晚" in r.stderr
    r = kq("--lang", "zh", "no-such-command")
    assert r.returncode == ExitStatus.USAGE and "错误：没有命令 'no-such-command'。" in r.stderr
    assert "用“kq --help”查看帮助。" in r.stderr


def test_english_is_unchanged_by_a_chinese_run_before_it(kq):
    """A Chinese run works on copies of the commands: the commands themselves keep their English."""
    before = kq("lists", "show", "--help", subprocess=False).stdout
    kq("--lang", "zh", "lists", "show", "--help", subprocess=False)
    assert kq("lists", "show", "--help", subprocess=False).stdout == before


# ---------------------------------------------------------------- the catalog
@pytest.fixture(scope="module")
def merged():
    extracted = catalog.extract()
    header, existing = catalog.read_po()
    entries, dropped = catalog.merge(extracted, existing)
    return header, entries, dropped


def test_every_message_has_a_chinese_translation(merged):
    """Fails when a user-facing string (a marked message, a help text, a command's docstring,
    click's own words, a label) has no translation in kqtools.po: run python tools/catalog.py and
    translate the new entries."""
    _header, entries, dropped = merged
    assert catalog.problems(entries) == []
    assert dropped == [], "messages no longer used are still in the .po: run python tools/catalog.py"


def test_the_compiled_catalog_is_the_po_file(merged):
    header, entries, _dropped = merged
    assert catalog.MO.read_bytes() == catalog.compile_mo(entries, header), "run python tools/catalog.py"


def test_the_compiled_catalog_reads_back_with_the_standard_library_and_ours(merged, tmp_path):
    """kq looks messages up in the .mo as it lies (kqtools.i18n.Catalog, for start-up time): it must
    answer as the standard library's reader does, for every entry and for a message not in it."""
    import gettext

    from kqtools.i18n import Catalog

    header, entries, _dropped = merged
    data = catalog.compile_mo(entries, header)
    path = tmp_path / "kqtools.mo"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        std = gettext.GNUTranslations(fh)
    ours = Catalog(data)
    for t in (std, ours):
        for e in entries.values():
            if e.plural is not None:
                assert t.ngettext(e.msgid, e.plural, 2) == t.ngettext(e.msgid, e.plural, 1) == e.msgstr[0]
            elif e.msgctxt is not None:
                assert t.pgettext(e.msgctxt, e.msgid) == e.msgstr[0]
            else:
                assert t.gettext(e.msgid) == e.msgstr[0]
        assert t.gettext("no such message {x}") == "no such message {x}"
        assert t.pgettext("column", "no_such_column") == "no_such_column"
        assert t.ngettext("one {n}", "many {n}", 2) == "many {n}"
    assert ours.gettext("") == std.gettext("") == header


def test_the_po_file_reads_back_as_written(merged, tmp_path):
    header, entries, _dropped = merged
    copy = tmp_path / "copy.po"
    catalog.write_po(entries, copy, header)
    header2, again = catalog.read_po(copy)
    assert header2 == header
    for line in copy.read_text(encoding="utf-8").splitlines():   # C-quoted strings, as GNU tools read them
        quoted = line.partition(" ")[2] if line.startswith("msg") else line
        if quoted.startswith('"'):
            assert ast.literal_eval(quoted) == catalog._unquote(quoted), line
    assert {k: (e.msgstr, e.plural) for k, e in again.items()} == {k: (e.msgstr, e.plural) for k, e in entries.items()}


def test_a_message_without_translation_fails_the_check():
    entries = {(None, "wrote {n} rows"): catalog.Entry("wrote {n} rows", msgstr=[""], where=["x.py:1"])}
    assert catalog.problems(entries) == ["x.py:1: no translation: 'wrote {n} rows'"]
    entries[(None, "wrote {n} rows")].msgstr = ["写入了 {m} 行"]
    assert "placeholders ['m']" in catalog.problems(entries)[0]


def test_the_extractor_sees_messages_help_and_docstrings(tmp_path):
    src = tmp_path / "cmd.py"
    src.write_text(
        'import click\nfrom kqtools.i18n import _, N_\n'
        '@click.command()\n@click.option("--x", help="An option.")\n'
        'def cmd(x):\n    """A command."""\n    raise SystemExit(_("{path}: gone").format(path=x))\n'
        'HELP = N_("Marked only.")\n', encoding="utf-8")
    found = {m for _c, m, _p, _l in catalog.messages_in(src, cli=True)}
    assert found == {"An option.", "A command.", "{path}: gone", "Marked only."}


def test_the_wheel_ships_the_catalog(tmp_path):
    """pip install . (not editable) must carry the catalog: the package data names it."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    data = cfg["options.package_data"]["kqtools"]
    assert "locale/*/LC_MESSAGES/*.mo" in data and "locale/*/LC_MESSAGES/*.po" in data
    from importlib import resources

    assert resources.files("kqtools").joinpath("locale/zh_CN/LC_MESSAGES/kqtools.mo").is_file()


# ---------------------------------------------------------------- user-facing strings are marked
#: modules being rewritten in other worktrees: their messages are marked when they land
PENDING = {
    "kqtools/readers.py", "kqtools/fields.py", "kqtools/kinds.py", "kqtools/output.py", "kqtools/uscc.py",
    "kqtools/decoding.py", "kqtools/workbooks.py", "kqtools/storage/imports.py", "kqtools/units.py",
    *(f"kqtools/importer/{m}.py" for m in ("__init__", "plan", "rowcode", "checks", "records", "write",
                                           "diagnostics")),
}
#: errors whose message is stored as a record (a job's error, a delivery's last_error, a window problem
#: kept in a list version): data, the same in every language, as machine output must be
DATA_ERRORS = {"DeliveryError", "ActionError", "WindowProblem"}
#: errors for programmers, never for a user
PROGRAMMER_ERRORS = {"RuntimeError", "TypeError", "KeyError", "LookupError", "AssertionError",
                     "NotImplementedError", "SystemExit", "AttributeError"}
#: modules whose errors only guard the code's own invariants (a report defined wrongly), never a user's input
INVARIANTS = {"kqtools/reports/model.py"}
WORDS = re.compile(r"[A-Za-z]{2,}")


def _literal_words(node) -> bool:
    """A string literal or f-string whose own text has words (not a marked message)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(WORDS.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and WORDS.search(v.value) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _literal_words(node.left) or _literal_words(node.right)
    return False


def unmarked(path: Path, root: Path = ROOT) -> list[str]:
    """Where a module says something to a user in unmarked text: the message of a raised error,
    an ``info()`` line, a click error or echo to stderr, a ``help=`` that is not a plain literal."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            f = node.exc.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name not in DATA_ERRORS | PROGRAMMER_ERRORS and _literal_words(node.exc.args[0]):
                found.append(f"{rel}:{node.lineno}: raise {name}(...) with unmarked text")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if rel.startswith("kqtools/cli/") and name in ("info", "log") and node.args \
                    and _literal_words(node.args[0]):
                found.append(f"{rel}:{node.lineno}: {name}(...) with unmarked text")
            if name == "echo" and any(k.arg == "err" for k in node.keywords) and node.args \
                    and _literal_words(node.args[0]):
                found.append(f"{rel}:{node.lineno}: echo(..., err=True) with unmarked text")
            for kw in node.keywords:
                if kw.arg == "help" and rel.startswith("kqtools/cli/") \
                        and not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)):
                    found.append(f"{rel}:{kw.value.lineno}: help= is not a plain string (the catalog cannot see it)")
    return found


def test_user_facing_text_is_marked_for_translation():
    """How far this goes: every error raised with text in it, every info() line and stderr echo of
    the command layer, every help= (a plain literal, so the catalog sees it). Text kq keeps as data
    (DATA_ERRORS) and programmer errors are left out on purpose; messages built elsewhere and passed
    in a variable cannot be judged here (they are marked where they are built)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(ROOT).as_posix() not in PENDING | INVARIANTS:
            found += unmarked(path)
    assert found == []


def test_the_marking_check_finds_unmarked_text(tmp_path):
    bad = tmp_path / "kqtools" / "cli" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text('import click\nfrom kqtools.errors import KqtoolsError\n'
                   'def f(p, info):\n    info(f"wrote {p}")\n    raise KqtoolsError(f"{p}: no such file")\n'
                   'HELP = "x"\n@click.option("--y", help=HELP)\ndef g(y): pass\n', encoding="utf-8")
    assert len(unmarked(bad, root=tmp_path)) == 3


def test_no_function_hides_gettext_behind_a_variable_named_underscore():
    """``a, _ = pair`` in a function that also calls ``_()`` makes ``_`` local to the whole function:
    the call fails (UnboundLocalError or "str is not callable") only when that line runs."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            own, stack = [], list(ast.iter_child_nodes(fn))
            while stack:
                n = stack.pop()
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp,
                                  ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                    continue
                own.append(n)
                stack.extend(ast.iter_child_nodes(n))
            binds = any(isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store) for n in own)
            binds = binds or any(a.arg == "_" for a in fn.args.args + fn.args.kwonlyargs)
            calls = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_"
                        for n in ast.walk(fn))
            if binds and calls:
                problems.append(f"{path.relative_to(ROOT)}:{fn.lineno}: {fn.name}")
    assert problems == []


# ---------------------------------------------------------------- wrapping Chinese help
_HANZI = st.sampled_from(list("中文帮助名单企业诉求"))
#: help text as it is written: Chinese characters, closing marks after them, opening marks before them,
#: and Latin words (option names, paths) with spaces around them
_HELP_TEXT = st.lists(st.one_of(_HANZI, st.tuples(_HANZI, st.sampled_from(list("，。、）："))).map("".join),
                                st.tuples(st.sampled_from(list("（《")), _HANZI).map("".join),
                                st.from_regex(r" [a-z./$-]{1,14} ", fullmatch=True)),
                      max_size=80).map("".join)


@settings(max_examples=300)
@given(_HELP_TEXT, st.integers(10, 60))
def test_wrapping_keeps_every_character_and_the_width(text, width):
    """Chinese help wraps by display width: nothing lost, no line wider than the terminal unless one
    unbreakable word is, no line starting with a closing mark or ending with an opening one."""
    from kqtools.cli.localized import _tokens, display_width, fill

    out = fill(text, width)
    assert out.replace("\n", "").replace(" ", "") == text.replace(" ", "")
    for line in out.splitlines():
        words = [t for t in _tokens(line) if t != " "]
        assert display_width(line) <= width or len(words) == 1, (line, width)
        if line != out.splitlines()[0]:
            assert not line.startswith(("，", "。", "）", "、"))
        if line != out.splitlines()[-1]:
            assert not line.endswith("（")


def test_display_width_counts_chinese_as_two_columns_as_the_unicode_tables_do():
    import unicodedata

    from kqtools.cli.localized import display_width

    chars = [chr(c) for c in [*range(0x20, 0x7f), *range(0x3000, 0x3040), *range(0x4e00, 0x9fff, 7),
                              *range(0xff01, 0xff61)]]
    for ch in chars:
        expected = 0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        assert display_width(ch) == expected, hex(ord(ch))   # combining marks (U+302A…) take none, as in wcwidth
    assert display_width("用法: kq") == 8 and display_width("“kq”") == 4


def test_the_root_help_names_every_command_in_chinese():
    from kqtools import i18n
    from kqtools.cli import COMMANDS

    token = i18n.use("zh")
    try:
        for name, (_module, _attr, help_) in COMMANDS.items():
            assert i18n._(help_) != help_, name
    finally:
        i18n.reset(token)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
