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
