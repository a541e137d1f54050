"""The reminder commands as services: one call per ``kq jobs`` / ``kq outbox`` command.

Each takes the database, the spec directory, the moment and the configured channels
(:func:`kqtools.delivery.channels_from`) and returns a small result that says whether it needs a
person's attention; the command line only renders it. Every text in a result is masked.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .. import jobspecs as S
from .. import reminders as R
from ..errors import KqtoolsError
from ..i18n import _
from ..masking import Masker, one_line
from . import jobs as J
from . import outbox as O


class NoSuchJob(KqtoolsError):
    """A job id that no spec file defines."""


@dataclass
class Delivered:
    report: O.DeliveryReport = field(default_factory=O.DeliveryReport)
    waiting: dict = field(default_factory=dict)     # channel -> (count, why it is not delivered)
    stuck: list = field(default_factory=list)       # messages left in 'sending'
    warnings: list = field(default_factory=list)    # clear text allowed by insecure=1: said on every run

    @property
    def needs_attention(self) -> bool:
        return self.report.needs_attention or bool(self.stuck)


@dataclass
class RunResult:
    outcomes: list = field(default_factory=list)    # reminders Outcome objects
    problems: list = field(default_factory=list)    # spec files and channel settings (masked)
    delivered: Delivered = field(default_factory=Delivered)

    @property
    def needs_attention(self) -> bool:
        return (bool(self.problems) or self.delivered.needs_attention
                or any(o.status in ("failed", "missed", "busy") for o in self.outcomes))


def _masker(channels) -> Masker:
    return channels.masker if channels is not None else Masker()


def deliver(db, channels, stale_seconds: int = O.DEFAULT_SENDING_STALE_SECONDS) -> Delivered:
    """Deliver pending messages on the configured channels; what waits, and why; what is stuck."""
    out = Delivered(warnings=list(channels.warnings) if channels else [])
    senders = channels.senders if channels else {}
    if senders:
        out.report = O.deliver_pending(db, senders, masker=_masker(channels))
    for channel, n in sorted(O.pending_by_channel(db).items()):
        if channel not in senders:
            why = channels.why_not(channel) if channels else "not configured"
            out.waiting[channel] = (n, why)
    out.stuck = O.stuck_messages(db, stale_seconds)
    return out


def run_due(db, specs: dict, problems: list, moment: dt.datetime, *, given: bool, only=None, digest=None,
            channels=None, lease_seconds: int = J.DEFAULT_LEASE_SECONDS,
            stale_seconds: int = O.DEFAULT_SENDING_STALE_SECONDS) -> RunResult:
    """``kq jobs run-due``: run what has fallen due at ``moment`` (``given``: from ``--now``), then deliver."""
    unknown = [j for j in only or () if j not in specs]
    if unknown:
        raise NoSuchJob(_("no such job: {items} (see kq jobs list)").format(items=', '.join(unknown)))
    masker = _masker(channels)
    report = J.run_due(db, specs, moment, only=list(only) if only else None,
                       digest=None if problems else digest, given=given, lease_seconds=lease_seconds, masker=masker)
    result = RunResult(outcomes=report.outcomes, problems=list(problems) + report.problems)
    if channels is not None:
        result.problems += list(channels.problems.values())
        result.delivered = deliver(db, channels, stale_seconds)
    return result


def run_one(db, specs: dict, problems: list, job_id: str, moment: dt.datetime, *, given: bool, channels=None,
            stale_seconds: int = O.DEFAULT_SENDING_STALE_SECONDS) -> RunResult:
    """``kq jobs run ID``: run one job now, outside its schedule; then deliver."""
    if job_id not in specs:
        raise NoSuchJob((_("no such job: {job_id} (see kq jobs list); {n} spec file(s) have problems (kq jobs check)")
                         if problems else _("no such job: {job_id} (see kq jobs list)")).format(
                            job_id=job_id, n=len(problems)))
    outcome = J.run_now(db, specs[job_id], moment, given=given, masker=_masker(channels))
    result = RunResult(outcomes=[outcome])
    if channels is not None:
        result.problems += list(channels.problems.values())
        result.delivered = deliver(db, channels, stale_seconds)
    return result


def list_jobs(db, specs: dict, moment: dt.datetime) -> list[dict]:
    """``kq jobs list``: each job with its trigger in words, next fire time and last run."""
    last = J.last_runs(db)
    rows = []
    for job_id in sorted(specs):
        spec = specs[job_id]
        nxt = "(disabled)"
        try:
            trigger = S.make_trigger(spec)
            when = f"{trigger.describe()} ({spec.timezone})"
            if spec.enabled:
                t = R.next_fire(trigger, moment)
                nxt = t.astimezone(R.zone(spec.timezone)).isoformat(" ", "minutes") if t else "never"
        except R.SpecError as exc:
            when, nxt = f"invalid trigger: {exc}", "invalid trigger"
        run = last.get(job_id) or {}
        rows.append({"id": job_id, "enabled": spec.enabled, "action": spec.action, "trigger": spec.trigger_text(),
                     "when": when, "next_fire": nxt, "last_fire": run.get("fire_time"),
                     "last_status": run.get("status"), "channels": ",".join(spec.channels),
                     "source": spec.source, "description": spec.description})
    return rows


@dataclass
class Checked:
    problems: list          # one masked line each
    jobs: int
    enabled: int

    @property
    def needs_attention(self) -> bool:
        return bool(self.problems)


def check(jobs_dir: str | None, channels) -> Checked:
    """``kq jobs check``: every problem of the spec files and the channel settings, one masked line each."""
    specs, problems = S.load_specs(jobs_dir)
    for spec in specs.values():
        try:
            S.make_trigger(spec)
        except R.SpecError as exc:
            problems.append(str(exc))
    if channels is not None:
        problems += list(channels.problems.values())
    masker = _masker(channels)
    return Checked([one_line(masker(p)) for p in problems], len(specs), sum(1 for s in specs.values() if s.enabled))
