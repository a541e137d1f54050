"""Reminder jobs (提醒任务): the pure part: job specs as values, their occurrences, and the messages.

Plain functions over plain data: no SQL, no click, no printing, no network, no files (spec files are
read and validated by :mod:`kqtools.jobspecs`; crontab schedules are computed by :mod:`kqtools.crontab`).

* A :class:`JobSpec` says when a job fires (its trigger), what it does (an action) and who hears
  about it (recipients, channels).
* An **occurrence** is a job id plus a fire time, normalized to UTC ISO text
  (``2026-01-05T01:00:00Z``). A trigger is any object with ``next_after(moment)`` (the first fire
  time strictly later) and ``describe()`` (in words); :func:`occurrences` walks it.
* :func:`plan_occurrences` decides, for the occurrences that fell due while nobody ran them, which
  one runs (the latest within the misfire grace: the missed period is *coalesced* into one run) and
  which are recorded as missed (beyond grace).
* Message builders turn rows (plain dicts) into :class:`Message` objects; :func:`outbox_rows` turns
  messages into one outbox row per channel and recipient; :func:`address_problem` says why a text
  is not one plain e-mail address.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Iterable

from .errors import KqtoolsError
from .i18n import _

DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_GRACE = 3600                  # seconds; a spec says its own misfire_grace
DEFAULT_CHANNELS = ("email",)
INTERVAL_EPOCH = "2000-01-01T00:00"   # fixed start of interval triggers: same fire times in every process
NEVER = "9999-12-31T23:59:59Z"
MAX_OCCURRENCES = 5000                # per job and run: bounds the work after a very long pause
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

KIND_LABELS = {
    "zjtx": "专精特新中小企业", "hte": "高新技术企业", "tsme": "科技型中小企业", "tass": "技术先进型服务企业",
    "gazelle": "瞪羚企业", "unicorn": "独角兽企业", "potential_unicorn": "潜在独角兽企业",
    "innovative_sme": "创新型中小企业", "pool": "入库培育企业",
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


# --------------------------------------------------------------------------- durations and addresses

def parse_duration(value) -> int:
    """Seconds from ``90``, ``"30m"``, ``"6h"``, ``"2d"``, ``"1w"``."""
    if isinstance(value, bool):
        raise ValueError(_("not a duration: {value!r}").format(value=value))
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", str(value))
    if not m:
        raise ValueError(_("not a duration: {value!r} (use e.g. 90, 30m, 6h, 2d)").format(value=value))
    return int(m.group(1)) * _UNITS[m.group(2)]


ADDRESS_PATTERN = (r"^[A-Za-z0-9.!#%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_ADDRESS = re.compile(ADDRESS_PATTERN)


def address_problem(text) -> str | None:
    """Why ``text`` is not one plain e-mail address (``name@example.gov.cn``), or None when it is.

    One address per field: no display name (``张三 <a@x.cn>``), no list (``a@x.cn, b@y.cn``), no control
    characters (a CR/LF would add header lines), no spaces. ``schemas/specialists.schema.json`` and
    ``schemas/job.schema.json`` carry the same pattern (:data:`ADDRESS_PATTERN`).
    """
    if not isinstance(text, str) or not text:
        return "empty: expected one e-mail address"
    if re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", text):
        return "contains a control character (such as a line break): one plain address only"
    if "<" in text or ">" in text or '"' in text:
        return "has a display name or angle brackets: write only the address, e.g. name@example.gov.cn"
    if "," in text or ";" in text or text.count("@") > 1:
        return "more than one address: one address per entry"
    if re.search(r"\s", text):
        return "contains a space: one plain address only"
    if len(text) > 254 or not _ADDRESS.match(text):
        return "not an e-mail address such as name@example.gov.cn"
    return None


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
        raise ValueError(_("not a date-time: {text!r} (e.g. 2026-01-05T09:05+08:00, 2026/1/5 9:05 or 2026年1月5日 "
                           "9:05)").format(text=text)) from None


def utc_iso(value: dt.datetime) -> str:
    """The canonical text of a moment: UTC, whole seconds, ``Z``."""
    return value.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_utc_iso(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def floor_second(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


# --------------------------------------------------------------------------- triggers and occurrences
# A trigger is any object with ``next_after(moment) -> moment | None`` (strictly later, aware) and
# ``describe() -> str``: :class:`kqtools.crontab.CronTrigger`, :class:`IntervalTrigger`, :class:`OnceTrigger`.

@dataclass(frozen=True)
class IntervalTrigger:
    """``every = "6h"``: fire times ``start + k × seconds`` (elapsed time, not wall-clock time)."""

    seconds: int
    start: dt.datetime            # aware
    every: str = ""

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        start = self.start.astimezone(dt.timezone.utc)     # elapsed time: UTC arithmetic, not wall clock
        if moment < start:
            return start
        k = int((moment - start).total_seconds() // self.seconds) + 1
        try:
            fire = start + dt.timedelta(seconds=k * self.seconds)
        except OverflowError:
            return None
        while fire <= moment:          # float rounding of total_seconds() at sub-second offsets
            fire += dt.timedelta(seconds=self.seconds)
        return fire

    def describe(self) -> str:
        return f"every {self.every or str(self.seconds) + 's'} from {self.start.isoformat(' ', 'minutes')}"


@dataclass(frozen=True)
class OnceTrigger:
    """``at = "2026-12-01T09:00"``: one fire time."""

    at: dt.datetime               # aware

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        return self.at if self.at > moment else None

    def describe(self) -> str:
        return f"once, at {self.at.isoformat(' ', 'minutes')}"


def occurrences(trigger, after: dt.datetime, until: dt.datetime, limit: int = MAX_OCCURRENCES) -> list[dt.datetime]:
    """Fire times ``t`` with ``after < t <= until`` (UTC, whole seconds), oldest first, at most ``limit``
    (the newest ``limit`` when there are more)."""
    found: list[dt.datetime] = []
    t = trigger.next_after(after)
    while t is not None and t <= until:
        found.append(floor_second(t.astimezone(dt.timezone.utc)))
        if len(found) > limit:
            del found[0]
        t = trigger.next_after(t)
    return found


def latest_fire(trigger, after: dt.datetime, until: dt.datetime) -> dt.datetime | None:
    """The last fire time ``t`` with ``after < t <= until``, or None."""
    found = occurrences(trigger, after, until, limit=1)
    return found[-1] if found else None


def next_fire(trigger, now: dt.datetime) -> dt.datetime | None:
    """The first fire time strictly after ``now``."""
    return trigger.next_after(now)


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
class Attachment:
    """A file an e-mail carries (the monthly briefing's workbooks)."""
    filename: str                  # as the recipient sees it
    content: bytes = field(repr=False)
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Message:
    key: str                       # unique within the run: 'visit:S01', 'meeting'
    subject: str
    body: str                      # plain text: the whole message, or the text version of ``html``
    to: tuple = ()                 # Recipient, ...
    html: str | None = None        # e-mail only: an HTML version of the body (a webhook gets ``body``)
    attachments: tuple = ()        # e-mail only: Attachment, ...


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(day: dt.date) -> dt.date:
    start = quarter_start(day)
    nxt = dt.date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def quarter_label(day: dt.date) -> str:
    return f"{day.year}年第{(day.month - 1) // 3 + 1}季度"


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
    """One message per specialist listing the firms ``kq visits due`` lists for them, in its order.

    ``rows`` are ``due_visits`` rows (uscc, name, district, specialist_id, specialist_name,
    specialist_email, cadence ``key``/``plan``, priority, last_visited_on, days_since_last_visit,
    period_ends_on, coordinators): key firms not visited this quarter first, then the firms that
    keep the yearly plan on pace. Firms nobody serves go in one message to the rows'
    ``coordinators`` (the assignment rules' addresses) and the spec's fixed recipients; with neither,
    no message. A specialist with nothing due gets nothing.
    """
    recipients, extra = tuple(recipients), list(extra)
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(str(r.get("specialist_id") or ""), []).append(r)
    messages = []
    label = quarter_label(as_of)
    for sid in sorted(groups):
        firms = sorted(groups[sid], key=lambda r: (r.get("priority") or 0, r["uscc"]))
        head = firms[0]
        if sid:
            name = head.get("specialist_name") or sid
            to = _specialist_recipients(recipients, sid, name, head.get("specialist_email"), extra)
            greeting = f"{name}您好:"
        else:
            name = "未分配服务专员的企业"
            coordinators = [Recipient(a, a, a) for a in head.get("coordinators") or ()]
            to = tuple(coordinators + [r for r in extra if r.id not in {c.id for c in coordinators}])
            greeting = "以下企业目前没有服务专员(专员离岗或无人可接),请协调安排走访:"
        if not to:
            continue
        key = [f for f in firms if f.get("cadence") == "key"]
        plan = [f for f in firms if f.get("cadence") != "key"]
        lines = [greeting, "", f"截至 {as_of.isoformat()},以下 {len(firms)} 家企业需要走访:"]
        n = 0
        for title, items in ((f"重点企业(每季度至少走访一次,{label}尚未走访):", key),
                             ("全年走访计划(按服务企业的年度走访比例,为跟上进度今年尚需走访):", plan)):
            if not items:
                continue
            lines += ["", title]
            for f in items:
                n += 1
                last = f.get("last_visited_on")
                seen = (f"上次走访 {str(last)[:10]}" + (f"({f['days_since_last_visit']} 天前)"
                                                         if f.get("days_since_last_visit") is not None else "")
                        if last else "从未走访")
                district = f"{f['district']}," if f.get("district") else ""
                lines.append(f"{n}. {f.get('name') or f['uscc']}({f['uscc']}),{district}{seen}")
        ends = head.get("period_ends_on") or quarter_end(as_of).isoformat()
        lines += ["", f"重点企业请于 {ends} 前完成走访;走访后用 kq visits log 登记(任何专员的走访都计入该企业)。"]
        messages.append(Message(
            key=f"visit:{sid or '-'}",
            subject=f"【走访提醒】{name}:{label}尚有 {len(firms)} 家企业未走访",
            body="\n".join(lines), to=to))
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

    A recipient without an address, or with one that is not one plain address (stored before addresses
    were checked on import), gets an ``undeliverable`` e-mail row saying why, so a gap in the specialist
    list is visible in ``kq outbox list`` instead of silently dropped or failing at the server.
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
                problem = address_problem(r.email) if r.email else f"no e-mail address for {r.name} ({r.id})"
                if r.email and problem:
                    problem = f"e-mail address of {r.name} ({r.id}) {problem}"
                rows.append({"channel": "email", "recipient": target, "recipient_name": r.name,
                             "subject": m.subject, "body": m.body, "dedupe_key": m.key,
                             "status": "undeliverable" if problem else "pending", "last_error": problem,
                             "html": m.html, "attachments": m.attachments})
        if "webhook" in channels:
            names = "、".join(r.name for r in m.to)
            rows.append({"channel": "webhook", "recipient": "webhook", "recipient_name": names or None,
                         "subject": m.subject, "body": m.body, "dedupe_key": m.key, "status": "pending",
                         "last_error": None, "html": None, "attachments": ()})
    return rows
