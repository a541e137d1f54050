"""One settings object, built once from the command line's flags and the ``KQ_*`` variables.

As black's ``Mode``: an immutable value passed down, never read from the environment at import
time, so a test (or another program) can build one and run a command in process. A flag given
on the command line wins over its variable; a variable wins over the default.

Standard library only: the command line builds it before it imports anything heavy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Mapping

from .errors import KqtoolsError
from .i18n import _

DEFAULT_DB = "kq.db"
DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_BUSY_TIMEOUT_MS = 120_000
DEFAULT_FILE_MODE = 0o600


class SettingsError(KqtoolsError):
    """A ``KQ_*`` variable or flag that cannot be used (named, with the reason)."""


@dataclass(frozen=True)
class Settings:
    db: str = DEFAULT_DB                      #: --db / $KQ_DB / ./kq.db
    db_given: bool = False                    #: whether --db or $KQ_DB named it
    jobs_dir: str | None = None               #: --jobs-dir / $KQ_JOBS_DIR
    tz: str = DEFAULT_TZ                      #: $KQ_TZ: local time zone for times shown and job schedules
    smtp_url: str | None = None               #: $KQ_SMTP_URL
    webhook_url: str | None = None            #: $KQ_WEBHOOK_URL
    lang: str = "en"                          #: --lang / $KQ_LANG / the locale (LC_ALL, LC_MESSAGES, LANG): en or zh
    lang_given: bool = False                  #: whether --lang or $KQ_LANG named it (not the locale)
    format: str | None = None                 #: $KQ_FORMAT: default output format at a terminal
    file_mode: int = DEFAULT_FILE_MODE        #: $KQ_FILE_MODE (octal): mode of files kq creates
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS  #: $KQ_BUSY_TIMEOUT_MS
    debug: bool = False                       #: --debug / $KQ_DEBUG
    job_lease_seconds: int = 21600            #: $KQ_JOB_LEASE_SECONDS: a job run older than this is abandoned
    sending_stale_seconds: int = 600          #: $KQ_SENDING_STALE_SECONDS: a message 'sending' this long is stuck
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)  #: the variables read

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags) -> "Settings":
        """Settings from ``env`` (default ``os.environ``) with ``flags`` (None = not given) on top."""
        env = dict(os.environ if env is None else env)
        db_flag = flags.pop("db", None)
        lang_flag = flags.pop("lang", None)
        values = {
            "db": db_flag or env.get("KQ_DB") or DEFAULT_DB,
            "db_given": bool(db_flag or env.get("KQ_DB")),
            "jobs_dir": env.get("KQ_JOBS_DIR") or None,
            "tz": env.get("KQ_TZ") or DEFAULT_TZ,
            "smtp_url": env.get("KQ_SMTP_URL") or None,
            "webhook_url": env.get("KQ_WEBHOOK_URL") or None,
            "lang": _lang(lang_flag, env),
            "lang_given": bool(lang_flag or env.get("KQ_LANG")),
            "format": env.get("KQ_FORMAT") or None,
            "file_mode": _octal(env.get("KQ_FILE_MODE"), "KQ_FILE_MODE", DEFAULT_FILE_MODE),
            "busy_timeout_ms": _int(env.get("KQ_BUSY_TIMEOUT_MS"), "KQ_BUSY_TIMEOUT_MS", DEFAULT_BUSY_TIMEOUT_MS),
            "debug": bool(env.get("KQ_DEBUG")),
            "job_lease_seconds": _int(env.get("KQ_JOB_LEASE_SECONDS"), "KQ_JOB_LEASE_SECONDS", 21600),
            "sending_stale_seconds": _int(env.get("KQ_SENDING_STALE_SECONDS"), "KQ_SENDING_STALE_SECONDS", 600),
        }
        for name, value in flags.items():
            if name not in values:
                raise TypeError(f"unknown setting {name!r}")
            if value is not None and value is not False:
                values[name] = value
        return cls(**values, env=env)

    def with_(self, **changes) -> "Settings":
        """A copy with some settings changed (``settings.with_(db="other.db")``)."""
        if "db" in changes and changes["db"]:
            changes.setdefault("db_given", True)
        if "lang" in changes and changes["lang"]:
            changes.setdefault("lang_given", True)
        return replace(self, **changes)


def _lang(flag: str | None, env: Mapping[str, str]) -> str:
    from . import i18n

    try:
        return i18n.resolve(flag, env)
    except ValueError as exc:
        raise SettingsError(_("{name}: {value!r} is not a language kq speaks (en, zh)").format(
            name="--lang" if flag else "$KQ_LANG", value=str(exc))) from None


def _int(text: str | None, name: str, default: int) -> int:
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise SettingsError(_("${name}: {text!r} is not a whole number").format(name=name, text=text)) from None


def _octal(text: str | None, name: str, default: int) -> int:
    if not text:
        return default
    try:
        mode = int(text, 8)
    except ValueError:
        raise SettingsError(_("${name}: {text!r} is not an octal file mode such as 0600 or 0640").format(
            name=name, text=text)) from None
    if mode & ~0o777 or not mode & 0o600 == 0o600:
        raise SettingsError(_("${name}: {text}: must give the owner read and write (0600, 0640, 0660)").format(
            name=name, text=text))
    return mode
