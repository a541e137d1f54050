"""Reminder jobs (提醒任务): job specs, their occurrences, and the messages they produce.

Plain functions over plain data: no SQL, no click, no printing, no network.

* A **job spec** is a TOML or JSON file validated by ``schemas/job.schema.json``. The shipped
  defaults live in ``jobs/`` (package ``kqtools.default_jobs``); a deployment directory
  (``--jobs-dir`` / ``$KQ_JOBS_DIR``) adds specs, and a spec there with the same id replaces the
  shipped one (``enabled = false`` switches it off). Nothing is registered anywhere: every run reads
  the files as they are.
* An **occurrence** is a job id plus a fire time, normalized to UTC ISO text
  (``2026-01-05T01:00:00Z``). Fire times come from APScheduler 3.x triggers (imported only when
  needed: cron runs ``kq jobs run-due`` every few minutes and must start fast).
* :func:`plan_occurrences` decides, for the occurrences that fell due while nobody ran them, which
  one runs (the latest within the misfire grace: the missed period is *coalesced* into one run) and
  which are recorded as missed (beyond grace).
* Message builders turn rows (plain dicts) into :class:`Message` objects; :func:`outbox_rows` turns
  messages into one outbox row per channel and recipient.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .errors import KqtoolsError

DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_GRACE = 3600                  # seconds; a spec says its own misfire_grace
DEFAULT_CHANNELS = ("email",)
INTERVAL_EPOCH = "2000-01-01T00:00"   # fixed start of interval triggers: same fire times in every process
NEVER = "9999-12-31T23:59:59Z"
MAX_OCCURRENCES = 5000                # per job and run: bounds the work after a very long pause
ACTIONS = ("visit-reminders", "expiry-reminders", "lists-rebuild", "score-run", "meeting-reminder")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

KIND_LABELS = {
    "zjtx": "专精特新中小企业", "hte": "高新技术企业", "tsme": "科技型中小企业", "tass": "技术先进型服务企业",
    "gazelle": "瞪羚企业", "unicorn": "独角兽企业", "potential_unicorn": "潜在独角兽企业",
    "innovative_sme": "创新型中小企业",
}
LEVEL_LABELS = {"national": "国家级", "provincial": "省级", "city": "市级", "district": "区级", "": ""}


class SpecError(KqtoolsError, ValueError):
    """A job spec that cannot be used: one line naming the file, the place and the reason."""


@dataclass(frozen=True)
class JobSpec:
    id: str
    trigger: dict                 # {"cron": ..., "timezone": ...} | {"every": ...} | {"at": ...}
    action: str
    params: dict
    recipients: tuple
    channels: tuple
    enabled: bool
    misfire_grace: int            # seconds
    description: str = ""
    source: str = ""              # file it came from
    sha256: str = ""              # of the resolved spec (not of the file): what exactly runs

    @property
    def timezone(self) -> str:
        return self.trigger.get("timezone") or DEFAULT_TZ

    def trigger_text(self) -> str:
        t = self.trigger
        where = f" ({self.timezone})"
        if "cron" in t:
            return f"cron {t['cron']}{where}"
        if "every" in t:
            return f"every {t['every']} from {t.get('start') or INTERVAL_EPOCH}{where}"
        return f"once at {t['at']}{where}"


# --------------------------------------------------------------------------- spec files

def parse_duration(value) -> int:
    """Seconds from ``90``, ``"30m"``, ``"6h"``, ``"2d"``, ``"1w"``."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90, 30m, 6h, 2d)")
    return int(m.group(1)) * _UNITS[m.group(2)]


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


def jobs_dir_from_env(explicit: str | None = None) -> str | None:
    return explicit or os.environ.get("KQ_JOBS_DIR") or None


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


_validator = None


def _validate(data: dict, name: str) -> None:
    """Schema check: fastjsonschema (fast, on every run); jsonschema only to word an error well."""
    global _validator
    from importlib import resources

    if _validator is None:
        import fastjsonschema

        schema = json.loads(resources.files("kqtools.schemas").joinpath("job.schema.json").read_text("utf-8"))
        _validator = fastjsonschema.compile(schema)
    try:
        _validator(data)
    except Exception:  # fastjsonschema.JsonSchemaException: find the clearest message with jsonschema
        from .rules import schema_problem

        schema = json.loads(resources.files("kqtools.schemas").joinpath("job.schema.json").read_text("utf-8"))
        raise SpecError(schema_problem(schema, data, name)
                        or f"{name}: does not match schemas/job.schema.json") from None


def parse_spec_text(text: str, fmt: str, name: str) -> dict:
    from .rules import RulesError, parse

    try:
        return parse(text, fmt, name)
    except RulesError as exc:
        raise SpecError(str(exc)) from None


def resolve_spec(data: dict, name: str) -> JobSpec:
    """Validate a parsed spec and fill in the defaults; semantic checks the schema cannot make."""
    trigger = data.get("trigger")
    if isinstance(trigger, dict):
        kinds = [k for k in ("cron", "every", "at") if k in trigger]
        unknown = sorted(set(trigger) - {"cron", "every", "at", "start", "timezone"})
        if len(kinds) != 1 or unknown:
            got = ", ".join(sorted(trigger)) or "nothing"
            raise SpecError(f"{name}: trigger: give exactly one of cron = \"0 9 * * mon\", every = \"6h\" "
                            f"(with optional start) or at = \"2026-12-01T09:00\", plus an optional timezone (got {got})")
    _validate(data, name)
    trigger = dict(data["trigger"])
    tz = trigger.get("timezone") or DEFAULT_TZ
    try:
        zone(tz)
    except Exception:
        raise SpecError(f"{name}: trigger.timezone: unknown time zone {tz!r}") from None
    trigger["timezone"] = tz
    for key in ("at", "start"):
        if key in trigger:
            try:
                local_datetime(trigger[key], tz)
            except ValueError:
                raise SpecError(f"{name}: trigger.{key}: not an ISO date-time: {trigger[key]!r}") from None
    if "cron" in trigger and len(trigger["cron"].split()) != 5:
        raise SpecError(f"{name}: trigger.cron: expected 5 fields (minute hour day month day-of-week), "
                        f"got {len(trigger['cron'].split())}: {trigger['cron']!r}")
    params = dict(data.get("params") or {})
    action = data["action"]
    if action == "meeting-reminder" and "subject" not in params:
        raise SpecError(f"{name}: params.subject: meeting-reminder needs a subject")
    if action == "expiry-reminders":
        params.setdefault("days", [90, 30])
    grace = parse_duration(data.get("misfire_grace", DEFAULT_GRACE))
    resolved = {
        "id": data["id"], "description": data.get("description", ""), "enabled": data.get("enabled", True),
        "trigger": trigger, "action": action, "params": params,
        "recipients": list(data.get("recipients", ["specialist"] if action in ("visit-reminders", "expiry-reminders") else [])),
        "channels": list(data.get("channels", DEFAULT_CHANNELS)), "misfire_grace": grace,
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
    if jobs_dir and not Path(jobs_dir).is_dir():
        problems.append(f"{jobs_dir}: jobs directory does not exist")
    for layer, entry in spec_files(jobs_dir):
        name = entry.name if layer == "default" else str(entry)
        name = f"jobs/{name}" if layer == "default" else name
        try:
            text = entry.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{name}: cannot read: {exc}")
            continue
        try:
            spec = resolve_spec(parse_spec_text(text, "json" if entry.name.endswith(".json") else "toml", name),
                                name)
        except SpecError as exc:
            problems.append(str(exc))
            continue
        if spec.id in specs and layer_of[spec.id] == layer:
            problems.append(f"{name}: id {spec.id!r} already defined in {specs[spec.id].source}; file ignored")
            continue
        specs[spec.id] = spec
        layer_of[spec.id] = layer
    return specs, problems


# --------------------------------------------------------------------------- time

def zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


_CLERK_DATETIME = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]*(\d{1,2})[:时](\d{2})(?:[:分](\d{2}))?秒?)?(.*)$")


def local_datetime(text: str, tz: str) -> dt.datetime:
    """An ISO date-time, or one typed as a clerk would (2026/1/5 9:05, 2026年1月5日 9:05);
    naive ones are read in ``tz``."""
    import unicodedata

    text = unicodedata.normalize("NFKC", text).strip()
    m = _CLERK_DATETIME.match(text)
    if m:
        y, mo, d, h, mi, sec, rest = m.groups()
        text = f"{int(y):04d}-{int(mo):02d}-{int(d):02d}T{int(h or 0):02d}:{int(mi or 0):02d}:{int(sec or 0):02d}{rest.strip()}"
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=zone(tz))


def parse_now(text: str | None, tz: str = DEFAULT_TZ) -> dt.datetime:
    """``--now``: an ISO date-time (naive = Asia/Shanghai) or a date (its midnight); default the clock."""
    if not text:
        return dt.datetime.now(dt.timezone.utc)
    try:
        return local_datetime(text, tz)
    except ValueError:
        raise ValueError(f"not a date-time: {text!r} (e.g. 2026-01-05T09:05+08:00, 2026/1/5 9:05 or "
                         "2026年1月5日 9:05)") from None


def utc_iso(value: dt.datetime) -> str:
    """The canonical text of a moment: UTC, whole seconds, ``Z``."""
    return value.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_utc_iso(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def floor_second(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


# --------------------------------------------------------------------------- triggers and occurrences

_DOW = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def crontab_dow(field_text: str) -> str:
    """Standard crontab day-of-week (0 or 7 = Sunday) as APScheduler 3.x names.

    APScheduler 3.x reads numbers as 0 = Monday (a known trap, fixed only in 4.x); names are
    unambiguous, so numeric fields are expanded to names.
    """
    if not re.search(r"\d", field_text):
        return field_text
    days: set[int] = set()
    for part in field_text.split(","):
        rng, _, step = part.partition("/")
        step_n = int(step) if step else 1
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = _dow_number(a), _dow_number(b)
            if hi == 0 and lo > 0:
                hi = 7
        else:
            lo = hi = _dow_number(rng)
            if step:
                hi = 6
        if lo > hi:
            raise ValueError(f"day-of-week range {rng!r} runs backwards")
        days.update(d % 7 for d in range(lo, hi + 1, step_n))
    return ",".join(_DOW[d] for d in sorted(days))


def _dow_number(text: str) -> int:
    text = text.strip().lower()
    if text.isdigit():
        n = int(text)
        if not 0 <= n <= 7:
            raise ValueError(f"day of week {n} out of range 0-7")
        return n
    if text[:3] in _DOW:
        return _DOW.index(text[:3])
    raise ValueError(f"unknown day of week {text!r}")


def make_trigger(spec: JobSpec):
    """The APScheduler 3.x trigger of a spec (imports APScheduler: keep off the fast path)."""
    t = spec.trigger
    tz = zone(spec.timezone)
    if "cron" in t:
        from apscheduler.triggers.cron import CronTrigger

        minute, hour, day, month, dow = t["cron"].split()
        try:
            return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=crontab_dow(dow),
                               timezone=tz)
        except ValueError as exc:
            raise SpecError(f"{spec.source}: trigger.cron: {t['cron']!r}: {exc}") from None
    if "every" in t:
        from apscheduler.triggers.interval import IntervalTrigger

        seconds = parse_duration(t["every"])
        if seconds <= 0:
            raise SpecError(f"{spec.source}: trigger.every: must be positive")
        start = local_datetime(t.get("start") or INTERVAL_EPOCH, spec.timezone)
        return IntervalTrigger(seconds=seconds, start_date=start, timezone=tz)
    from apscheduler.triggers.date import DateTrigger

    return DateTrigger(run_date=local_datetime(t["at"], spec.timezone), timezone=tz)


def occurrences(trigger, after: dt.datetime, until: dt.datetime, limit: int = MAX_OCCURRENCES) -> list[dt.datetime]:
    """Fire times ``t`` with ``after < t <= until`` (UTC, whole seconds), oldest first, at most ``limit``
    (the newest ``limit`` when there are more)."""
    found: list[dt.datetime] = []
    step = dt.timedelta(microseconds=1)
    t = trigger.get_next_fire_time(None, after + step)
    while t is not None and t <= until:
        if t > after:
            found.append(floor_second(t.astimezone(dt.timezone.utc)))
            if len(found) > limit:
                del found[0]
        t = trigger.get_next_fire_time(t, t + step)
    return found


def next_fire(trigger, now: dt.datetime) -> dt.datetime | None:
    """The first fire time strictly after ``now``."""
    t = trigger.get_next_fire_time(None, floor_second(now) + dt.timedelta(seconds=1))
    while t is not None and t <= now:   # a date trigger returns its date even when it has passed
        t = trigger.get_next_fire_time(t, t + dt.timedelta(microseconds=1))
    return t


@dataclass(frozen=True)
class Plan:
    run: dt.datetime | None                     # the occurrence to run now (latest within grace)
    coalesced: list = field(default_factory=list)   # within grace, covered by `run`
    missed: list = field(default_factory=list)      # beyond grace


def plan_occurrences(fire_times: Iterable[dt.datetime], now: dt.datetime, grace_seconds: int) -> Plan:
    """Split unclaimed occurrences: the latest within grace runs, older ones within grace are coalesced
    into it, the ones beyond grace are missed."""
    fire_times = sorted(fire_times)
    limit = now - dt.timedelta(seconds=grace_seconds)
    missed = [t for t in fire_times if t < limit]
    within = [t for t in fire_times if t >= limit]
    if not within:
        return Plan(None, [], missed)
    return Plan(within[-1], within[:-1], missed)


def within_grace(fire_time: dt.datetime, now: dt.datetime, grace_seconds: int) -> bool:
    return now - dt.timedelta(seconds=grace_seconds) <= fire_time <= now


def enabled_hashes(specs: dict[str, JobSpec]) -> dict[str, str]:
    """What ``job_files`` remembers of a set of spec files: enabled job id -> spec hash."""
    return {s.id: s.sha256 for s in specs.values() if s.enabled}


def nothing_due(jobs: dict[str, str], state: dict[str, tuple[str, str]], now_iso: str) -> bool:
    """Fast path of ``run-due``: every enabled job (id -> spec hash, from ``job_files``) has a cached
    ``next_check`` later than now, computed from that very spec. ``state``: id -> (spec hash, next_check)."""
    for job_id, sha in jobs.items():
        cached = state.get(job_id)
        if cached is None or cached[0] != sha or cached[1] <= now_iso:
            return False
    return True


# --------------------------------------------------------------------------- messages

@dataclass(frozen=True)
class Recipient:
    id: str            # specialist id, or the address itself
    name: str
    email: str | None


@dataclass(frozen=True)
class Message:
    key: str                       # unique within the run: 'visit:S01', 'meeting'
    subject: str
    body: str
    to: tuple = ()                 # Recipient, ...


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(day: dt.date) -> dt.date:
    start = quarter_start(day)
    nxt = dt.date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def quarter_label(day: dt.date) -> str:
    return f"{day.year}年第{(day.month - 1) // 3 + 1}季度"


def not_visited_this_quarter(rows: Iterable[dict], as_of: dt.date) -> list[dict]:
    """Firms whose last visit is before the quarter of ``as_of`` (or that were never visited)."""
    start = quarter_start(as_of).isoformat()
    return [r for r in rows if not r.get("last_visited_on") or str(r["last_visited_on"])[:10] < start]


def fixed_recipients(recipients: Iterable[str], specialists: Iterable[dict] = ()) -> list[Recipient]:
    """E-mail addresses written in the spec, plus every active specialist for ``'specialists'``."""
    out: list[Recipient] = []
    recipients = list(recipients)
    for r in recipients:
        if r not in ("specialist", "specialists"):
            out.append(Recipient(r, r, r))
    if "specialists" in recipients:
        for s in specialists:
            out.append(Recipient(str(s["id"]), s.get("name") or str(s["id"]), s.get("email") or None))
    return out


def _specialist_recipients(spec_recipients, specialist_id, name, email, extra: list[Recipient]) -> tuple:
    to = []
    if "specialist" in spec_recipients and specialist_id:
        to.append(Recipient(str(specialist_id), name or str(specialist_id), email or None))
    return tuple(to + [r for r in extra if r.id != specialist_id])


def visit_messages(rows: Iterable[dict], as_of: dt.date, recipients: Iterable[str] = ("specialist",),
                   extra: Iterable[Recipient] = ()) -> list[Message]:
    """One message per specialist listing their firms not visited in the quarter of ``as_of``.

    ``rows`` are ``due_visits`` rows (uscc, name, district, specialist_id, specialist_name,
    specialist_email, last_visited_on, days_since_last_visit); firms visited this quarter are dropped
    here whatever the caller passed, and a specialist with nothing left gets no message.
    """
    recipients, extra = tuple(recipients), list(extra)
    by_specialist: dict[str, list[dict]] = {}
    for r in not_visited_this_quarter(rows, as_of):
        if r.get("specialist_id"):
            by_specialist.setdefault(str(r["specialist_id"]), []).append(r)
    messages = []
    q_end = quarter_end(as_of)
    for sid in sorted(by_specialist):
        firms = sorted(by_specialist[sid], key=lambda r: (r.get("last_visited_on") or "", r["uscc"]))
        head = firms[0]
        name = head.get("specialist_name") or sid
        lines = [f"{name}您好:", "",
                 f"截至 {as_of.isoformat()},您服务的以下 {len(firms)} 家企业{quarter_label(as_of)}"
                 f"(自 {quarter_start(as_of).isoformat()} 起)尚未走访:"]
        for i, f in enumerate(firms, 1):
            last = f.get("last_visited_on")
            seen = (f"上次走访 {str(last)[:10]}" + (f"({f['days_since_last_visit']} 天前)"
                                                     if f.get("days_since_last_visit") is not None else "")
                    if last else "从未走访")
            district = f"{f['district']}," if f.get("district") else ""
            lines.append(f"{i}. {f.get('name') or f['uscc']}({f['uscc']}),{district}{seen}")
        lines += ["", f"请于 {q_end.isoformat()} 前完成走访,并用 kq visits 登记走访记录。"]
        messages.append(Message(
            key=f"visit:{sid}",
            subject=f"【走访提醒】{name}:{quarter_label(as_of)}尚有 {len(firms)} 家企业未走访",
            body="\n".join(lines),
            to=_specialist_recipients(recipients, sid, name, head.get("specialist_email"), extra)))
    return messages


def expiry_due(rows: Iterable[dict], as_of: dt.date, thresholds: Iterable[int],
               noticed: set[tuple] = frozenset()) -> list[dict]:
    """Designations to remind now, each with the threshold it is reminded for.

    A designation expiring ``n`` days after ``as_of`` is reminded for the smallest threshold
    ``>= n`` it has not been reminded for yet; the larger thresholds it has passed without a reminder
    are marked at the same time (``covers``), so each designation gets one message per threshold at
    most and never a stale "90 days" after the "30 days" one. ``noticed`` holds
    (uscc, kind, level, recognized_on, threshold) already reminded. Expired ones are not reminded.
    """
    thresholds = sorted(set(int(t) for t in thresholds))
    out = []
    for r in rows:
        if not r.get("expires_on"):
            continue
        left = (dt.date.fromisoformat(str(r["expires_on"])[:10]) - as_of).days
        if left < 0:
            continue
        key = (r["uscc"], r["kind"], r.get("level") or "", r["recognized_on"])
        applicable = [t for t in thresholds if left <= t]
        if not applicable:
            continue
        pending = [t for t in applicable if key + (t,) not in noticed]
        smallest = applicable[0]
        if smallest not in pending:
            continue        # the closest threshold was reminded already
        out.append({**r, "days_left": left, "threshold": smallest, "covers": pending})
    return out


def expiry_messages(due: Iterable[dict], as_of: dt.date, recipients: Iterable[str] = ("specialist",),
                    extra: Iterable[Recipient] = ()) -> list[Message]:
    """One message per specialist listing their firms' designations about to expire; designations of
    firms without a specialist go in one message to the spec's fixed recipients (if any)."""
    recipients, extra = tuple(recipients), list(extra)
    groups: dict[str, list[dict]] = {}
    for r in due:
        groups.setdefault(str(r.get("specialist_id") or ""), []).append(r)
    messages = []
    for sid in sorted(groups):
        items = sorted(groups[sid], key=lambda r: (r["expires_on"], r["uscc"], r["kind"]))
        head = items[0]
        name = (head.get("specialist_name") or sid) if sid else "未分配服务专员的企业"
        to = _specialist_recipients(recipients, sid, name, head.get("specialist_email"), extra) if sid \
            else tuple(extra)
        if not to:
            continue
        lines = [f"{name}您好:" if sid else "以下企业尚未分配服务专员:", "",
                 f"截至 {as_of.isoformat()},以下 {len(items)} 项资质即将到期,请提醒企业及时办理复核/重新认定:"]
        for i, r in enumerate(items, 1):
            label = LEVEL_LABELS.get(r.get("level") or "", r.get("level") or "") + KIND_LABELS.get(r["kind"], r["kind"])
            cert = f",证书号 {r['certificate_no']}" if r.get("certificate_no") else ""
            lines.append(f"{i}. {r.get('name') or r['uscc']}({r['uscc']}):{label},{r['expires_on']} 到期"
                         f"(剩 {r['days_left']} 天,{r['threshold']} 天提醒){cert}")
        least = min(r["days_left"] for r in items)
        messages.append(Message(
            key=f"expiry:{sid or '-'}",
            subject=f"【资质到期提醒】{name}:{len(items)} 项资质将到期(最近 {least} 天)",
            body="\n".join(lines), to=to))
    return messages


def fixed_message(params: dict, fire_local: dt.datetime, to: Iterable[Recipient]) -> Message:
    """meeting-reminder: the spec's fixed text; ``{date}``, ``{year}``, ``{month}`` are filled in."""
    values = {"date": fire_local.date().isoformat(), "year": fire_local.year, "month": fire_local.month}
    subject = _fill(params["subject"], values)
    body = _fill(params.get("body", ""), values)
    return Message(key="meeting", subject=subject, body=body, to=tuple(to))


def _fill(text: str, values: dict) -> str:
    return re.sub(r"\{(date|year|month)\}", lambda m: str(values[m.group(1)]), text)


def summary_message(job_id: str, title: str, result: dict, to: Iterable[Recipient]) -> Message:
    """lists-rebuild / score-run: what the run produced, for whoever the spec names."""
    lines = [f"{k}: {json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (dict, list)) else v}"
             for k, v in result.items()]
    return Message(key="summary", subject=f"【kq】{title}", body="\n".join(lines) or "完成", to=tuple(to))


def outbox_rows(messages: Iterable[Message], channels: Iterable[str]) -> list[dict]:
    """One row per channel and recipient: e-mail to every address, one webhook post per message.

    A recipient without an address gets an ``undeliverable`` e-mail row naming who is missing one,
    so a gap in the specialist list is visible in ``kq outbox list`` instead of silently dropped.
    """
    rows = []
    channels = tuple(channels)
    for m in messages:
        if "email" in channels:
            seen = set()
            for r in m.to:
                target = r.email or r.id
                if target in seen:
                    continue
                seen.add(target)
                rows.append({"channel": "email", "recipient": target, "recipient_name": r.name,
                             "subject": m.subject, "body": m.body, "dedupe_key": m.key,
                             "status": "pending" if r.email else "undeliverable",
                             "last_error": None if r.email else f"no e-mail address for {r.name} ({r.id})"})
        if "webhook" in channels:
            names = "、".join(r.name for r in m.to)
            rows.append({"channel": "webhook", "recipient": "webhook", "recipient_name": names or None,
                         "subject": m.subject, "body": m.body, "dedupe_key": m.key, "status": "pending",
                         "last_error": None})
    return rows
