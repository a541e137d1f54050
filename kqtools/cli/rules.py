"""``kq rules``: show the shipped rule files, check a rule file."""
from __future__ import annotations

import click

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
    return 0


@rules.command()
@click.argument("name")
def show(name):
    """Print a shipped rule file (scoring, lists, assignment, or a preset such as scoring-huaian-2024)."""
    from ..rules import RULE_KINDS, RulesError, read_text

    from ..rules import shipped

    presets = shipped()
    # a preset by its full name (scoring-huaian-2024) or, as --rules takes it, its short one (huaian-2024)
    full = name if name in presets else next(
        (f"{k}-{name}" for k in RULE_KINDS if f"{k}-{name}" in presets), None)
    if full is None:
        raise KqError(f"unknown rule file {name!r}; see kq rules list")
    kind = next(k for k in RULE_KINDS if full == k or full.startswith(k + "-"))
    try:
        _, text, _ = read_text(kind, full)
    except RulesError as exc:
        raise KqError(str(exc)) from None
    click.echo(text, nl=not text.endswith("\n"))
    return 0


@rules.command()
@click.argument("kind", type=click.Choice(["scoring", "lists", "assignment"]))
@click.argument("path")
def check(kind, path):
    """Validate a rule file against its schema; exit 1 with the first problem."""
    from ..rules import RulesError, load_rules

    try:
        r = load_rules(kind, path)
    except RulesError as exc:
        info(f"kq: {exc}")
        return 1
    info(f"{r.name}: valid {kind} rules (sha256 {r.sha256[:12]})")
    return 0
