"""The current time, in one place: local ISO text for what kq stores, UTC for job occurrences.

Standard library only. Tests that need another moment pass dates in explicitly (``--as-of``,
``--now``); nothing here is patched.
"""
from __future__ import annotations

import datetime as dt


def now_iso() -> str:
    """Now, local time with its UTC offset, to the second: ``2026-12-06T10:04:40+08:00``."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def utc_now() -> dt.datetime:
    """Now, aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


def today() -> dt.date:
    """Today's local date."""
    return dt.date.today()


def shown_time(value, tz: str, *, human: bool):
    """A stored timestamp as kq shows it, in the local zone ``tz`` (``Asia/Shanghai`` unless
    ``$KQ_TZ``): for people a naive local ``datetime`` to the second (a table prints it as
    ``2026-12-06 21:40:53``, a workbook as a date cell); for programs ISO 8601 text with the local
    offset (``2026-12-06T21:40:53+08:00``): the same instant, whatever zone it was stored in.

    Stored text is read as it is today: ``…+00:00``, ``…Z``, ``2027-12-01 09:00+08:00``. A value
    without a zone (or that is not a timestamp: a date, text, None) is returned unchanged: kq does
    not guess the zone of a time it was not told."""
    import zoneinfo

    if not isinstance(value, str) or len(value) < 16 or value[10:11] not in ("T", " "):
        return value
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    local = moment.astimezone(zoneinfo.ZoneInfo(tz)).replace(microsecond=0)
    return local.replace(tzinfo=None) if human else local.isoformat()
