"""``kq rules``: show the shipped rule files, check a rule file."""
from __future__ import annotations

import click

from ..errors import ExitStatus, status_of
from ..i18n import _
from ..rules import RULE_KINDS
from .common import KqError, info


@click.group()
def rules():
    """Rule files hold what administrators change: weights, windows, mappings.

    \b
    kq rules list                      shipped rule files and presets
    kq rules show scoring > my.toml    copy the defaults to edit
    kq rules check scoring my.toml     validate an edited file
    """


@rules.command("list")
def list_():
    """Shipped rule files and presets."""
    from ..rules import shipped

    for name in sorted(shipped()):
        click.echo(name)
    return ExitStatus.OK


@rules.command()
@click.argument("name")
def show(name):
    """Print a shipped rule file (scoring, lists, assignment, or a preset such as scoring-huaian-2024)."""
    from ..rules import read_text, shipped

    presets = shipped()
    # a preset by its full name (scoring-huaian-2024) or, as --rules takes it, its short one (huaian-2024)
    full = name if name in presets else next(
        (f"{k}-{name}" for k in RULE_KINDS if f"{k}-{name}" in presets), None)
    if full is None:
        raise KqError(_("unknown rule file {name!r}; see kq rules list").format(name=name))
    kind = next(k for k in RULE_KINDS if full == k or full.startswith(k + "-"))
    _name, text, _format = read_text(kind, full)
    click.echo(text, nl=not text.endswith("\n"))
    return ExitStatus.OK


@rules.command()
@click.argument("kind", type=click.Choice(RULE_KINDS))
@click.argument("path")
def check(kind, path):
    """Validate a rule file exactly as the command that uses it does: schema, finite numbers and the
    checks a schema cannot make. Exit 1 with the problem, or with warnings (a group whose weights do
    not add up to 100)."""
    from ..rules import check as check_rules

    result = check_rules(kind, path)
    if result.problem is not None:
        info(_("kq: {problem}").format(problem=result.problem))
    else:
        info(_("{name}: valid {kind} rules (sha256 {sha256})").format(name=result.rules.name, kind=kind,
                                                                     sha256=result.rules.sha256[:12]))
    for warning in result.warnings:
        info(_("warning: {warning}").format(warning=warning))
    return status_of(result.needs_attention)
