"""Job spec files: where they are, reading and validating them, and the trigger each one means.

* The shipped specs live in ``jobs/`` (package ``kqtools.default_jobs``); a deployment directory
  (``--jobs-dir`` / ``$KQ_JOBS_DIR``) adds specs, and a spec there with the same id replaces the
  shipped one (``enabled = false`` switches it off). Nothing is registered anywhere: every run reads
  the files as they are.
* A file is TOML or JSON, validated by ``schemas/job.schema.json`` (fastjsonschema on every run;
  jsonschema only to word an error), then by the checks a schema cannot make (cron fields, time
  zones, dates, addresses, the action's name). A problem is one line naming the file, the place and
  the reason; :func:`load_specs` returns problems as data and the other jobs still run.
* :func:`make_trigger`: ``cron`` -> :class:`kqtools.crontab.CronTrigger` (standard crontab meaning);
  ``every`` / ``at`` -> :class:`kqtools.reminders.IntervalTrigger` / ``OnceTrigger``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from . import reminders as R
from .i18n import _
from .reminders import JobSpec, SpecError

_validator = None


def default_specs_dir():
    """The shipped specs (``jobs/`` in the source tree, package ``kqtools.default_jobs``).

    A plain directory when the package is installed as files (the usual case; cheaper than
    ``importlib.resources``, which matters for cron's start-up time), else the resource traversable.
    """
    import kqtools.default_jobs as pkg

    if getattr(pkg, "__file__", None):
        folder = Path(pkg.__file__).parent
        if folder.is_dir():
            return folder
    from importlib import resources

    return resources.files("kqtools.default_jobs")


def spec_files(jobs_dir: str | None) -> list[tuple[str, object]]:
    """(layer, entry) for every spec file: shipped first, then the deployment directory."""
    found = []
    for entry in sorted(default_specs_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".toml", ".json")) and not entry.name.startswith("."):
            found.append(("default", entry))
    if jobs_dir:
        folder = Path(jobs_dir)
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if entry.suffix.lower() in (".toml", ".json") and not entry.name.startswith("."):
                    found.append(("local", entry))
    return found


def files_digest(jobs_dir: str | None) -> str:
    """sha256 over the deployment directory's path and every spec file's layer, name and bytes.

    Equal digests mean equal specs: ``run-due`` compares it with the digest stored by its last full
    run and, when nothing changed, skips parsing and validating the files altogether.
    """
    h = hashlib.sha256()
    h.update(f"dir={os.path.abspath(jobs_dir) if jobs_dir else ''}|{Path(jobs_dir).is_dir() if jobs_dir else ''}"
             .encode("utf-8"))
    for layer, entry in spec_files(jobs_dir):
        h.update(f"\0{layer}\0{entry.name}\0".encode("utf-8"))
        try:
            h.update(entry.read_bytes())
        except OSError as exc:
            h.update(f"unreadable {exc}".encode("utf-8"))
    return h.hexdigest()


def _schema() -> dict:
    from importlib import resources

    return json.loads(resources.files("kqtools.schemas").joinpath("job.schema.json").read_text("utf-8"))


def _validate(data: dict, name: str) -> None:
    global _validator
    if _validator is None:
        import fastjsonschema

        _validator = fastjsonschema.compile(_schema())
    try:
        _validator(data)
    except Exception:  # fastjsonschema.JsonSchemaException: find the clearest message with jsonschema
        from .rules import schema_problem

        raise SpecError(schema_problem(_schema(), data, name)
                        or f"{name}: does not match schemas/job.schema.json") from None


def parse_spec_text(text: str, fmt: str, name: str) -> dict:
    from .rules import RulesError, parse

    try:
        return parse(text, fmt, name)
    except RulesError as exc:
        raise SpecError(str(exc)) from None


def action_names() -> frozenset:
    """The actions a spec may name: the keys of the registry in :mod:`kqtools.storage.job_actions`."""
    from .storage.job_actions import ACTIONS

    return frozenset(ACTIONS)


def _check_recipients(data: dict, name: str) -> None:
    recipients = data.get("recipients")
    if not isinstance(recipients, list):
        return
    for i, r in enumerate(recipients):
        if isinstance(r, str) and r not in ("specialist", "specialists"):
            problem = R.address_problem(r)
            if problem:
                from .masking import one_line

                raise SpecError(_("{name}: recipients[{i}]: {value}: {problem}").format(
                                    name=name, i=i, value=one_line(json.dumps(r, ensure_ascii=False), 120),
                                    problem=problem))


def resolve_spec(data: dict, name: str, actions: frozenset | None = None) -> JobSpec:
    """Validate a parsed spec and fill in the defaults; semantic checks the schema cannot make."""
    trigger = data.get("trigger")
    if isinstance(trigger, dict):
        kinds = [k for k in ("cron", "every", "at") if k in trigger]
        unknown = sorted(set(trigger) - {"cron", "every", "at", "start", "timezone"})
        if len(kinds) != 1 or unknown:
            got = ", ".join(sorted(trigger)) or "nothing"
            raise SpecError(_("{name}: trigger: give exactly one of cron = \"0 9 * * mon\", every = \"6h\" (with "
                              "optional start) or at = \"2026-12-01T09:00\", plus an optional timezone (got "
                              "{got})").format(name=name, got=got))
    _check_recipients(data, name)
    _validate(data, name)
    actions = action_names() if actions is None else actions
    action = data["action"]
    if action not in actions:
        raise SpecError(_("{name}: action: unknown action {action!r} (one of {items})").format(
                            name=name, action=action, items=', '.join(sorted(actions))))
    trigger = dict(data["trigger"])
    tz = trigger.get("timezone") or R.DEFAULT_TZ
    try:
        R.zone(tz)
    except Exception:
        raise SpecError(_("{name}: trigger.timezone: unknown time zone {tz!r}").format(name=name, tz=tz)) from None
    trigger["timezone"] = tz
    for key in ("at", "start"):
        if key in trigger:
            try:
                R.local_datetime(trigger[key], tz)
            except ValueError:
                raise SpecError(_("{name}: trigger.{key}: not an ISO date-time: {value!r}").format(
                                    name=name, key=key, value=trigger[key])) from None
    if "cron" in trigger:
        from .crontab import CronError, parse

        try:
            parse(trigger["cron"])
        except CronError as exc:
            raise SpecError(_("{name}: trigger.cron: {exc}: {cron!r}").format(
                                name=name, exc=exc, cron=trigger['cron'])) from None
    params = dict(data.get("params") or {})
    if action == "meeting-reminder" and "subject" not in params:
        raise SpecError(_("{name}: params.subject: meeting-reminder needs a subject").format(name=name))
    if action == "expiry-reminders":
        params.setdefault("days", [90, 30])
    grace = R.parse_duration(data.get("misfire_grace", R.DEFAULT_GRACE))
    resolved = {
        "id": data["id"], "description": data.get("description", ""), "enabled": data.get("enabled", True),
        "trigger": trigger, "action": action, "params": params,
        "recipients": list(data.get("recipients", ["specialist"] if action in ("visit-reminders", "expiry-reminders") else [])),
        "channels": list(data.get("channels", R.DEFAULT_CHANNELS)), "misfire_grace": grace,
    }
    sha = hashlib.sha256(json.dumps(resolved, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return JobSpec(id=resolved["id"], trigger=trigger, action=action, params=params,
                   recipients=tuple(resolved["recipients"]), channels=tuple(resolved["channels"]),
                   enabled=bool(resolved["enabled"]), misfire_grace=grace, description=resolved["description"],
                   source=name, sha256=sha)


def load_specs(jobs_dir: str | None = None) -> tuple[dict[str, JobSpec], list[str]]:
    """All job specs by id (deployment overrides shipped), and one line per problem found.

    A broken file is reported and skipped; the other jobs still run. Two files with the same id in
    the same layer is a problem (the later file is ignored).
    """
    specs: dict[str, JobSpec] = {}
    layer_of: dict[str, str] = {}
    problems: list[str] = []
    actions = action_names()
    if jobs_dir and not Path(jobs_dir).is_dir():
        problems.append(_("{jobs_dir}: jobs directory does not exist").format(jobs_dir=jobs_dir))
    for layer, entry in spec_files(jobs_dir):
        name = f"jobs/{entry.name}" if layer == "default" else str(entry)
        try:
            text = entry.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(_("{name}: cannot read: {exc}").format(name=name, exc=exc))
            continue
        try:
            fmt = "json" if entry.name.endswith(".json") else "toml"
            spec = resolve_spec(parse_spec_text(text, fmt, name), name, actions)
        except SpecError as exc:
            problems.append(str(exc))
            continue
        if spec.id in specs and layer_of[spec.id] == layer:
            problems.append(_("{name}: id {id!r} already defined in {source}; file ignored").format(
                                name=name, id=spec.id, source=specs[spec.id].source))
            continue
        specs[spec.id] = spec
        layer_of[spec.id] = layer
    return specs, problems


def make_trigger(spec: JobSpec):
    """The trigger of a spec: an object with ``next_after(moment)`` and ``describe()``."""
    t = spec.trigger
    tz = R.zone(spec.timezone)
    if "cron" in t:
        from .crontab import CronError, CronTrigger, parse

        try:
            return CronTrigger(parse(t["cron"]), tz)
        except CronError as exc:
            raise SpecError(_("{source}: trigger.cron: {exc}: {cron!r}").format(
                                source=spec.source, exc=exc, cron=t['cron'])) from None
    if "every" in t:
        seconds = R.parse_duration(t["every"])
        if seconds <= 0:
            raise SpecError(_("{source}: trigger.every: must be positive").format(source=spec.source))
        start = R.local_datetime(t.get("start") or R.INTERVAL_EPOCH, spec.timezone)
        return R.IntervalTrigger(seconds=seconds, start=start, every=str(t["every"]).strip())
    return R.OnceTrigger(R.local_datetime(t["at"], spec.timezone))


def describe(spec: JobSpec) -> str:
    """What the trigger means in words, with its time zone: ``09:00 on day 1 of the month and on every
    Monday (Asia/Shanghai)``."""
    try:
        return f"{make_trigger(spec).describe()} ({spec.timezone})"
    except SpecError as exc:
        return f"invalid trigger: {exc}"
