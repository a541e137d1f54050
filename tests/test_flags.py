"""One flag vocabulary (issue 15 item 5): ``-f/--format`` is the output format and ``-o/--output``
the output file on every command that prints records or a summary; the input format is
``--input-format`` everywhere (``kq import --format`` is a deprecated alias for one release)."""
from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from conftest import run_kq
from kqtools.errors import ExitStatus

#: commands that print neither records nor a summary (a message on stderr, a script, a file's text)
NO_RECORDS = {
    "init": "one line on stderr",
    "rules list": "names, one a line", "rules show": "a rule file's text", "rules check": "a verdict on stderr",
    "lists override revoke": "one line on stderr", "outbox ack": "one line on stderr",
    "outbox retry": "one line on stderr", "jobs check": "problems, one a line", "scheduler": "a log on stderr",
    "demo": "a walk-through for people", "completion": "a shell script",
}
OUTPUT_FORMATS = {"table", "json"}


def _commands():
    from kqtools.cli import cli

    ctx = click.Context(cli)

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), path + [name])
        else:
            yield " ".join(path), cmd
    return list(walk(cli, []))


def _option(cmd, flag):
    return next((p for p in cmd.params if isinstance(p, click.Option) and flag in p.opts), None)


@pytest.mark.parametrize("name, cmd", _commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_that_prints_has_f_for_the_format_and_o_for_the_file(name, cmd):
    if name in NO_RECORDS:
        assert _option(cmd, "-f") is None and _option(cmd, "-o") is None
        return
    fmt, out = _option(cmd, "-f"), _option(cmd, "-o")
    assert fmt is not None and out is not None, f"kq {name}: -f and -o"
    assert OUTPUT_FORMATS <= set(fmt.type.choices), f"kq {name}: -f is the output format"
    assert "--output" in out.opts
    assert "--format" in fmt.opts or name == "import"        # import: --format is the deprecated input format
    for param in cmd.params:
        if isinstance(param, click.Option) and "--format" in param.opts and param is not fmt:
            assert name == "import" and param.hidden, f"kq {name}: --format that is not the output format"
        if isinstance(param, click.Option) and "xlsx" in getattr(param.type, "choices", ()) and not param.hidden:
            assert param.opts == ["--input-format"], f"kq {name}: the input format is --input-format"


def test_the_commands_the_issue_names_print_with_f_and_o():
    named = dict(_commands())
    for name in ("import", "score run", "lists build", "assign", "visits log"):
        assert _option(named[name], "-f") and _option(named[name], "-o"), name


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "firms.txt"
    path.write_text('[{"uscc": "91320594135803871H", "name": "苏州澜思智能科技股份有限公司"}]', encoding="utf-8")
    return path


def test_import_input_format_and_f_for_the_summary(db_path, source):
    r = run_kq("import", "enterprises", source, "--input-format", "json", "-f", "json", db=db_path)
    assert r.returncode == 0 and r.stderr == "" and r.json()["format"] == "json"


def test_import_format_is_a_deprecated_alias_with_one_warning(db_path, source):
    r = run_kq("import", "enterprises", source, "--format", "json", db=db_path)
    assert r.returncode == 0 and r.json()["format"] == "json"
    warnings = [line for line in r.stderr.splitlines() if "deprecated" in line]
    assert len(warnings) == 1 and "--input-format" in warnings[0]
    both = run_kq("import", "enterprises", source, "--format", "json", "--input-format", "csv", db=db_path)
    assert both.returncode == ExitStatus.USAGE and "--input-format" in both.stderr


def test_import_writes_its_summary_with_o(db_path, source, tmp_path):
    target = tmp_path / "summary.json"
    r = run_kq("import", "enterprises", source, "--input-format", "json", "-o", target, db=db_path)
    assert r.returncode == 0 and r.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8"))["inserted"] == 1


def test_visits_log_prints_the_visit_in_the_format_asked(db_path, tmp_path):
    firm = tmp_path / "firm.csv"
    firm.write_text("uscc,name\n91320594135803871H,苏州澜思智能科技股份有限公司\n", encoding="utf-8")
    people = tmp_path / "people.csv"
    people.write_text("id,name,department\nS01,王敏,科技局\n", encoding="utf-8")
    assert run_kq("import", "enterprises", firm, db=db_path).returncode == 0
    assert run_kq("import", "specialists", people, db=db_path).returncode == 0
    r = run_kq("visits", "log", "91320594135803871H", "--by", "S01", "--on", "2026-01-05", "-f", "json", db=db_path)
    assert r.returncode == 0, r
    assert r.json()["visited_on"] == "2026-01-05" and r.json()["specialist_id"] == "S01"
    table = run_kq("visits", "log", "91320594135803871H", "--by", "S01", "--on", "2026-01-06", "-f", "table", db=db_path)
    assert "2026-01-06" in table.stdout and table.stdout.splitlines()[0].split() == ["field", "value"]


def test_lists_build_writes_its_summary_with_o(db_path, tmp_path):
    out = tmp_path / "build.csv"
    r = run_kq("lists", "build", "--as-of", "2026-06-30", "-o", out, db=db_path)
    assert r.returncode == 0 and r.stdout == "", r
    text = out.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    assert text.startswith("field,value") and "\nas_of,2026-06-30" in text
