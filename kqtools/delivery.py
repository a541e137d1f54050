"""Delivery channels for outbox messages: e-mail over SMTP, and a group-robot webhook.

Configured from the environment only (secrets stay out of job files and the database):

* ``KQ_SMTP_URL`` = ``smtp://user:password@host:port?from=kq@bureau.gov.cn&starttls=1``
  (``smtps://`` for implicit TLS, port 465; ``timeout=`` seconds, default 20; user and password
  are URL-encoded, e.g. ``%40`` for ``@``).
* ``KQ_WEBHOOK_URL`` = the robot's address, e.g.
  ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`` (企业微信) or
  ``https://oapi.dingtalk.com/robot/send?access_token=...`` (钉钉). The body is the robot
  text format both accept: ``{"msgtype": "text", "text": {"content": "..."}}``.

Secrets are never printed: :func:`mask_url` shows a URL without password, query values or long path
tokens, and :func:`redact` removes them from any error text before it is stored or shown.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import KqtoolsError

WEBHOOK_MAX_BYTES = 2000      # WeCom text messages are limited to 2048 bytes
DEFAULT_TIMEOUT = 20.0


class DeliveryError(KqtoolsError):
    """A message could not be handed over; the text is safe to store and show (secrets masked)."""


class ConfigError(KqtoolsError, ValueError):
    """A channel URL that cannot be used; the text is safe to show."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str | None
    password: str | None
    sender: str
    starttls: bool
    ssl: bool
    timeout: float

    def __repr__(self):  # never show the password, not even in a traceback
        return (f"SmtpConfig(host={self.host!r}, port={self.port}, user={self.user!r}, password="
                f"{'***' if self.password else None}, sender={self.sender!r}, starttls={self.starttls}, ssl={self.ssl})")


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def parse_smtp_url(url: str) -> SmtpConfig:
    """``smtp://user:pass@host:port?from=...&starttls=1`` -> :class:`SmtpConfig`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"KQ_SMTP_URL {mask_url(url)}: {exc}") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"KQ_SMTP_URL {mask_url(url)}: scheme must be smtp:// or smtps://")
    if not parts.hostname:
        raise ConfigError(f"KQ_SMTP_URL {mask_url(url)}: no host")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    ssl = parts.scheme == "smtps"
    user = unquote(parts.username) if parts.username else None
    sender = query.get("from") or (user if user and "@" in user else f"kq@{parts.hostname}")
    try:
        timeout = float(query.get("timeout", DEFAULT_TIMEOUT))
    except ValueError:
        raise ConfigError(f"KQ_SMTP_URL {mask_url(url)}: timeout must be a number of seconds") from None
    return SmtpConfig(host=parts.hostname, port=port or (465 if ssl else 25), user=user,
                      password=unquote(parts.password) if parts.password else None, sender=sender,
                      starttls=_truthy(query.get("starttls", "0")), ssl=ssl, timeout=timeout)


def mask_url(url: str | None) -> str:
    """A URL safe to print: password, every query value and long path tokens replaced by ``***``."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    user = f"{parts.username}:***@" if parts.password else (f"{parts.username}@" if parts.username else "")
    path = "/".join("***" if re.fullmatch(r"[A-Za-z0-9_\-]{16,}", seg) else seg for seg in parts.path.split("/"))
    query = "&".join(f"{k}=***" for k in parse_qs(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{user}{host}{port}{path}" + (f"?{query}" if query else "")


def secrets_of(url: str | None) -> list[str]:
    """The parts of a channel URL that must never appear in output: the URL, password, query values."""
    if not url:
        return []
    found = [url.strip()]
    try:
        parts = urlsplit(url.strip())
        if parts.password:
            found += [parts.password, unquote(parts.password)]
        for values in parse_qs(parts.query).values():
            found += [v for v in values if len(v) >= 4]
        found += [seg for seg in parts.path.split("/") if re.fullmatch(r"[A-Za-z0-9_\-]{16,}", seg)]
    except ValueError:
        pass
    return sorted({s for s in found if s}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text


# --------------------------------------------------------------------------- senders

def send_email(cfg: SmtpConfig, to: str, subject: str, body: str) -> None:
    """Hand one message to the SMTP server; raises DeliveryError (masked) when it is not accepted."""
    import smtplib
    import ssl as ssl_
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    msg["From"] = cfg.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=cfg.sender.rsplit("@", 1)[-1] or "kq.local")
    msg.set_content(body, charset="utf-8")
    secrets = [s for s in (cfg.password,) if s]
    try:
        cls = smtplib.SMTP_SSL if cfg.ssl else smtplib.SMTP
        kwargs = {"context": ssl_.create_default_context()} if cfg.ssl else {}
        with cls(cfg.host, cfg.port, timeout=cfg.timeout, **kwargs) as smtp:
            if cfg.starttls and not cfg.ssl:
                smtp.starttls(context=ssl_.create_default_context())
            if cfg.user:
                smtp.login(cfg.user, cfg.password or "")
            refused = smtp.send_message(msg, from_addr=cfg.sender, to_addrs=[to])
            if refused:
                raise DeliveryError(f"recipient refused: {refused}")
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(redact(f"smtp {cfg.host}:{cfg.port}: {type(exc).__name__}: {exc}", secrets)) from None


def webhook_payload(subject: str, body: str) -> dict:
    """The robot text format (WeCom and DingTalk), cut to what WeCom accepts."""
    content = f"{subject}\n\n{body}" if body else subject
    raw = content.encode("utf-8")
    if len(raw) > WEBHOOK_MAX_BYTES:
        tail = "\n……(内容过长,已截断,详见邮件或 kq outbox list)"
        keep = WEBHOOK_MAX_BYTES - len(tail.encode("utf-8"))
        content = raw[:keep].decode("utf-8", "ignore") + tail
    return {"msgtype": "text", "text": {"content": content}}


def send_webhook(url: str, subject: str, body: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    """POST one message to the robot; raises DeliveryError (masked) unless it answers 2xx and errcode 0."""
    import urllib.error
    import urllib.request

    secrets = secrets_of(url)
    data = json.dumps(webhook_payload(subject, body), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(redact(f"webhook {mask_url(url)}: HTTP {exc.code} {exc.reason}", secrets)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(redact(f"webhook {mask_url(url)}: {reason}", secrets)) from None
    try:
        reply = json.loads(answer.decode("utf-8")) if answer.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        reply = {}
    if isinstance(reply, dict) and reply.get("errcode", 0) not in (0, "0"):
        raise DeliveryError(redact(f"webhook {mask_url(url)}: errcode {reply.get('errcode')}: "
                                   f"{reply.get('errmsg', '')}", secrets))


def senders_from_env(env=None) -> tuple[dict, list[str]]:
    """channel -> send(recipient, subject, body), for the channels configured; and config problems.

    A channel that is not configured has no sender: its messages stay pending (nothing is lost) until
    it is configured, and ``kq outbox list --pending`` shows them.
    """
    env = os.environ if env is None else env
    senders, problems = {}, []
    smtp_url = env.get("KQ_SMTP_URL")
    if smtp_url:
        try:
            cfg = parse_smtp_url(smtp_url)
            senders["email"] = lambda to, subject, body, _cfg=cfg: send_email(_cfg, to, subject, body)
        except ConfigError as exc:
            problems.append(str(exc))
    hook = env.get("KQ_WEBHOOK_URL")
    if hook:
        parts = urlsplit(hook.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"KQ_WEBHOOK_URL {mask_url(hook)}: must be an http:// or https:// address")
        else:
            senders["webhook"] = lambda to, subject, body, _url=hook.strip(): send_webhook(_url, subject, body)
    return senders, problems


def describe_channels(env=None) -> dict[str, str]:
    """channel -> masked address, for messages like 'delivering by email via smtp://kq:***@mail:25'."""
    env = os.environ if env is None else env
    return {"email": mask_url(env.get("KQ_SMTP_URL")) or "(KQ_SMTP_URL not set)",
            "webhook": mask_url(env.get("KQ_WEBHOOK_URL")) or "(KQ_WEBHOOK_URL not set)"}
