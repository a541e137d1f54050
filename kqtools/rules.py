"""Rule files: the numbers administrators change (weights, windows, mappings), as TOML or JSON.

``load_rules("scoring", "huaian-2024")`` finds a shipped preset by name
(``kqtools/rules/scoring-huaian-2024.toml``); ``load_rules("scoring", "my.toml")``
reads a file; no argument gives the shipped default (``kqtools/rules/scoring.toml``).
Every rule file is validated against its schema: ``schemas/scoring-rules.schema.json``,
``schemas/list-rules.schema.json`` or ``schemas/assignment-rules.schema.json``, and every number
in it must be finite (TOML allows ``nan`` and ``inf``; a schema lets them through).

:func:`load_compiled` then runs the kind's compile step (:data:`COMPILERS`): the one the command
that uses the rules runs. ``kq rules check KIND FILE`` runs :func:`check`, that is the same
schema, the same finiteness test and the same compile step, so a file it accepts the command
accepts, and the other way round.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import KqtoolsError
from .i18n import _

RULE_KINDS = ("scoring", "lists", "assignment", "requests", "ladder", "targets")
#: kind -> (module, function): the step that turns validated data into what the command uses,
#: raising ValueError (or a KqtoolsError) for what a schema cannot see. A new rule kind adds a line.
COMPILERS = {
    "scoring": ("kqtools.scoring_rules", "compile_rules"),      # kq score run
    "lists": ("kqtools.creditlists", "parse_rules"),            # kq lists build
    "assignment": ("kqtools.assignment", "Policy.from_rules"),  # kq assign
    "requests": ("kqtools.requests", "compile_rules"),          # kq requests
    "ladder": ("kqtools.storage.ladder", "compile_setup"),      # kq ladder, kq targets, kq watch
    "targets": ("kqtools.storage.targets", "compile_targets"),  # kq targets import
}


class RulesError(KqtoolsError, ValueError):
    """A rule file that cannot be used: one line naming the file, the place and the reason."""


@dataclass(frozen=True)
class Rules:
    kind: str
    name: str          # preset name or file path
    text: str          # the file as written
    data: dict         # parsed and validated
    sha256: str        # of the text: stored with every result built from it


def shipped() -> dict[str, str]:
    """name -> file name of the rule files that ship with kqtools (``scoring``, ``scoring-huaian-2024``…)."""
    folder = resources.files("kqtools").joinpath("rules")
    return {p.name.rsplit(".", 1)[0]: p.name for p in folder.iterdir() if p.name.endswith((".toml", ".json"))}


def read_text(kind: str, name: str | None) -> tuple[str, str, str]:
    """(display name, text, format) of a rule file or shipped preset."""
    presets = shipped()
    if name is None:
        name = kind
    candidates = [name, f"{kind}-{name}"]
    for candidate in candidates:
        if candidate in presets and (candidate == kind or candidate.startswith(kind + "-")):
            text = resources.files("kqtools").joinpath("rules", presets[candidate]).read_text(encoding="utf-8")
            return candidate, text, presets[candidate].rsplit(".", 1)[1]
    path = Path(name)
    if not path.exists():
        names = sorted(p for p in presets if p == kind or p.startswith(kind + "-"))
        raise RulesError(_("{name}: no such rule file or preset (presets: {items})").format(
                             name=name, items=', '.join(names)))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(_("{name}: cannot read: {exc}").format(name=name, exc=exc)) from None
    return str(path), text, "json" if path.suffix.lower() == ".json" else "toml"


def parse(text: str, fmt: str, name: str) -> dict:
    try:
        return json.loads(text) if fmt == "json" else tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(_("{name}: not valid TOML: {exc}").format(name=name, exc=exc)) from None
    except json.JSONDecodeError as exc:
        raise RulesError(_("{name}: line {lineno}, column {colno}: not valid JSON: {msg}").format(
                             name=name, lineno=exc.lineno, colno=exc.colno, msg=exc.msg)) from None


def schema_problem(schema: dict, data, name: str) -> str | None:
    """The clearest problem of ``data`` against a JSON Schema as one line (``NAME: path: message``),
    or ``None`` when it is valid. Shared by rule files and job specs."""
    import jsonschema

    errors = list(jsonschema.Draft7Validator(schema).iter_errors(data))
    if not errors:
        return None
    best = jsonschema.exceptions.best_match(errors)
    where = ".".join(str(p) for p in best.absolute_path) or "(top level)"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{name}: {where}: {best.message}{more}"


def validate(kind: str, data: dict, name: str) -> None:
    from .kinds import load_schema

    # schemas/<kind>-rules.schema.json, except the lists rules: schemas/list-rules.schema.json (issue 4)
    problem = schema_problem(load_schema({"lists": "list-rules"}.get(kind, f"{kind}-rules")), data, name)
    if problem:
        raise RulesError(problem)
    where = _not_finite(data, "")
    if where is not None:
        raise RulesError(_("{name}: {value}: {value2} is not a finite number").format(
                             name=name, value=where[0] or '(top level)', value2=where[1]))


def _not_finite(value, path: str):
    """(path, value) of the first number that is nan or infinite, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = _not_finite(v, f"{path}.{k}" if path else str(k))
        if found is not None:
            return found
    return None


def load_rules(kind: str, name: str | None = None) -> Rules:
    if kind not in RULE_KINDS:
        raise RulesError(_("unknown rule kind {kind!r} (one of {items})").format(
                             kind=kind, items=', '.join(RULE_KINDS)))
    display, text, fmt = read_text(kind, name)
    data = parse(text, fmt, display)
    validate(kind, data, display)
    return Rules(kind, display, text, data, hashlib.sha256(text.encode("utf-8")).hexdigest())


def compile_rules(rules: Rules):
    """The kind's compiled form of validated rules (:data:`COMPILERS`); :class:`RulesError` naming
    the file when the compile step refuses them. A kind without a compile step gives its data."""
    spec = COMPILERS.get(rules.kind)
    if spec is None:
        return rules.data
    target = importlib.import_module(spec[0])
    for attr in spec[1].split("."):
        target = getattr(target, attr)
    try:
        return target(rules.data)
    except KeyError as exc:
        raise RulesError(_("{name}: missing {exc}").format(name=rules.name, exc=exc)) from None
    except (KqtoolsError, ValueError, TypeError) as exc:
        raise RulesError(f"{rules.name}: {exc}") from None


def load_compiled(kind: str, name: str | None = None) -> tuple[Rules, object]:
    """(:class:`Rules`, compiled form): what a command that uses rules of ``kind`` loads."""
    rules = load_rules(kind, name)
    return rules, compile_rules(rules)


@dataclass(frozen=True)
class Check:
    """The verdict of ``kq rules check``: the rules (None when unusable), the problem, warnings."""
    kind: str
    rules: Rules | None
    problem: str | None
    warnings: tuple[str, ...] = ()

    @property
    def needs_attention(self) -> bool:
        return self.problem is not None or bool(self.warnings)


def check(kind: str, name: str) -> Check:
    """Validate a rule file exactly as the command that uses it would (schema, finite numbers, the
    compile step); warnings are what the compiled rules report (a group whose weights do not add
    up to 100)."""
    try:
        rules, compiled = load_compiled(kind, name)
    except RulesError as exc:
        return Check(kind, None, str(exc))
    return Check(kind, rules, None, tuple(getattr(compiled, "warnings", ()) or ()))
