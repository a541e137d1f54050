"""The outbox: messages produced by job runs, and their delivery (at most once, never silently lost).

Delivery is separate from producing: :func:`deliver_pending` claims one pending message at a time
(``pending -> sending`` in its own transaction), hands it to its channel, and marks it ``sent``. A
failed hand-over is recorded with its (masked) error:

* the **message** failed (a malformed address, a recipient the server refused): only that message;
  ``undeliverable`` when trying again cannot help (a 5xx refusal, a bad address), else ``pending``;
  the channel goes on with the next message;
* the **channel** failed (server down, login refused): the message goes back to ``pending`` and the
  rest of that channel waits for the next run (a server that is down would otherwise cost a timeout
  per message).

A process that dies between claiming and marking leaves the message in ``sending``: it is **not**
resent automatically (at-most-once, since a mail server may have accepted it already);
:func:`stuck_messages` lists those, and a person decides with ``kq outbox retry ID`` or
``kq outbox ack ID``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .. import reminders as R
from ..errors import KqtoolsError
from ..i18n import _
from ..masking import Masker, one_line
from .jobs import _conn, _process_gone, owner, transaction, wall_iso

DEFAULT_SENDING_STALE_SECONDS = 600    # a message in 'sending' this long (or whose process is gone) is stuck
OUTBOX_COLUMNS = ["id", "job_id", "fire_time", "channel", "recipient", "recipient_name", "subject", "body",
                  "status", "attempts", "last_error", "created_at", "sent_at"]


class NoSuchMessage(KqtoolsError):
    """``kq outbox ack/retry ID`` with an id the outbox does not have."""


def outbox(db, pending: bool = False, job_id: str | None = None) -> list[dict]:
    sql = f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM outbox"
    where, args = [], []
    if pending:
        where.append("status IN ('pending', 'sending')")
    if job_id:
        where.append("job_id = ?")
        args.append(job_id)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [dict(zip(OUTBOX_COLUMNS, r)) for r in _conn(db).execute(sql + " ORDER BY id", args)]


def pending_by_channel(db) -> dict[str, int]:
    """channel -> number of messages waiting in ``pending``."""
    return dict(_conn(db).execute("SELECT channel, count(*) FROM outbox WHERE status = 'pending' GROUP BY channel"))


def _status(db, message_id: int) -> str:
    row = _conn(db).execute("SELECT status FROM outbox WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        raise NoSuchMessage(_("no message {message_id} in the outbox").format(message_id=message_id))
    return row[0]


def ack(db, message_id: int) -> str:
    """Mark a message handled by a person: no (further) delivery. Returns its previous status."""
    with transaction(db):
        before = _status(db, message_id)
        if before in ("pending", "sending", "undeliverable"):
            _conn(db).execute("UPDATE outbox SET status = 'acked', acked_at = ?, claimed_by = NULL WHERE id = ?",
                              (wall_iso(), message_id))
    return before


def retry(db, message_id: int) -> str:
    """Put a message stuck in ``sending`` (or acked by mistake) back to ``pending``."""
    with transaction(db):
        before = _status(db, message_id)
        if before in ("sending", "acked"):
            _conn(db).execute("UPDATE outbox SET status = 'pending', claimed_by = NULL, acked_at = NULL WHERE id = ?",
                              (message_id,))
    return before


def stuck_messages(db, stale_seconds: int = DEFAULT_SENDING_STALE_SECONDS) -> list[dict]:
    """Messages left in ``sending`` by a process that is gone (or for too long): delivered or not,
    nobody knows; they are not resent automatically."""
    wall = dt.datetime.now(dt.timezone.utc)
    out = []
    for row_id, job_id, recipient, claimed_by, sending_at in _conn(db).execute(
            "SELECT id, job_id, recipient, claimed_by, sending_at FROM outbox WHERE status = 'sending'"):
        if _process_gone(claimed_by) or (sending_at and (wall - R.from_utc_iso(sending_at)).total_seconds()
                                         > stale_seconds):
            out.append({"id": row_id, "job_id": job_id, "recipient": recipient, "claimed_by": claimed_by,
                        "sending_at": sending_at})
    return out


def add_attachments(conn, outbox_id: int, attachments, created_at: str) -> None:
    """Link the files (:class:`kqtools.reminders.Attachment`) to an outbox message, storing each content
    once by its sha256 (migration 0016). Called inside the transaction that inserts the message."""
    import hashlib

    for position, a in enumerate(attachments, start=1):
        digest = hashlib.sha256(a.content).hexdigest()
        conn.execute("INSERT INTO attachment_blobs(sha256, content, size, created_at) VALUES (?,?,?,?) "
                     "ON CONFLICT(sha256) DO NOTHING", (digest, a.content, len(a.content), created_at))
        conn.execute("INSERT INTO outbox_attachments(outbox_id, position, filename, mime_type, sha256) "
                     "VALUES (?,?,?,?,?)", (outbox_id, position, a.filename, a.mime_type, digest))


def attachments_of(db, outbox_id: int) -> list[R.Attachment]:
    """The files of one message, in order (empty for a plain message)."""
    return [R.Attachment(name, bytes(content), mime) for name, mime, content in _conn(db).execute(
        "SELECT a.filename, a.mime_type, b.content FROM outbox_attachments a "
        "JOIN attachment_blobs b ON b.sha256 = a.sha256 WHERE a.outbox_id = ? ORDER BY a.position", (outbox_id,))]


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0           # hand-overs that failed (message or channel)
    undeliverable: int = 0    # of which: cannot succeed as they are (bad address, 5xx refusal)
    skipped: int = 0          # left pending because an earlier message of the channel just failed
    errors: list = field(default_factory=list)   # one masked line per failure

    @property
    def needs_attention(self) -> bool:
        return bool(self.failed)


def deliver_pending(db, senders: dict, limit: int | None = None, masker: Masker | None = None) -> DeliveryReport:
    """Send pending messages of the configured channels one by one (claim, send, mark)."""
    conn = _conn(db)
    masker = masker or Masker()
    report = DeliveryReport()
    if not senders:
        return report
    channels = sorted(senders)
    ids = [(i, c) for i, c in conn.execute(
        f"SELECT id, channel FROM outbox WHERE status = 'pending' AND channel IN ({','.join('?' * len(channels))}) "
        "ORDER BY id", channels)]
    broken: set[str] = set()
    me = owner()
    for message_id, channel in ids[:limit] if limit else ids:
        if channel in broken:
            report.skipped += 1
            continue
        with transaction(db):
            cur = conn.execute("UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_by = ?, "
                               "sending_at = ? WHERE id = ? AND status = 'pending'", (me, wall_iso(), message_id))
            if cur.rowcount != 1:
                continue          # another sender has it
            recipient, subject, body, html = conn.execute(
                "SELECT recipient, subject, body, body_html FROM outbox WHERE id = ?", (message_id,)).fetchone()
            # the HTML body and the files (migration 0016) only when the message has them: a plain message
            # calls the sender with the three arguments every channel takes
            files = attachments_of(db, message_id) if channel == "email" else []
            extra = {k: v for k, v in (("html", html), ("attachments", files)) if v}
        try:
            senders[channel](recipient, subject, body, **extra)
        except Exception as exc:  # noqa: BLE001 - DeliveryError, or a bug before the hand-over: masked either way
            scope, permanent = getattr(exc, "scope", "channel"), getattr(exc, "permanent", False)
            text = str(exc) if type(exc).__name__ == "DeliveryError" else masker.exception(exc)
            error = one_line(masker(text), 1000)
            with transaction(db):
                conn.execute("UPDATE outbox SET status = ?, last_error = ?, claimed_by = NULL "
                             "WHERE id = ? AND claimed_by = ?",
                             ("undeliverable" if permanent else "pending", error, message_id, me))
            report.failed += 1
            report.undeliverable += bool(permanent)
            report.errors.append(f"message {message_id} ({channel} to {one_line(masker(recipient), 120)}): {error}")
            if scope != "message":
                broken.add(channel)
            continue
        with transaction(db):
            conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, last_error = NULL WHERE id = ? "
                         "AND claimed_by = ?", (wall_iso(), message_id, me))
        report.sent += 1
    return report
