"""Delivery channels for outbox messages: e-mail over SMTP, and a group-robot webhook.

Configured from the settings only (``KQ_SMTP_URL``, ``KQ_WEBHOOK_URL``: secrets stay out of job files
and the database):

* ``KQ_SMTP_URL`` = ``smtp://user:password@host:587?from=kq@bureau.gov.cn`` (STARTTLS, required) or
  ``smtps://…:465`` (TLS from the start). Options: ``from=``, ``timeout=`` seconds (default 20),
  ``cafile=`` (a CA bundle for a server whose certificate is not in the system's store),
  ``insecure=1`` (allow clear text when the server offers no STARTTLS: warned about on every run).
  Without a login, a server on this machine (127.0.0.1, ::1, localhost) may be reached in clear
  text without ``insecure=1``: nothing crosses the network. User and password are URL-encoded
  (``%40`` for ``@``); a password with a raw ``/``, ``?`` or ``#`` is still read right.
* ``KQ_WEBHOOK_URL`` = the robot's address, ``https://`` (``http://`` only to this machine, or with
  ``insecure=1``, which is removed from the address before it is called), e.g.
  ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`` (企业微信) or
  ``https://oapi.dingtalk.com/robot/send?access_token=…`` (钉钉). The body is the robot text format
  both accept: ``{"msgtype": "text", "text": {"content": "..."}}``. Redirects are not followed.

Every error text goes through :class:`kqtools.masking.Masker` before it is shown or stored.
A :class:`DeliveryError` says whether the *message* failed (a bad address, a recipient the server
refused: the next messages still go) or the *channel* (server down, login refused).
"""
from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .errors import KqtoolsError
from .i18n import _
from .masking import Masker, mask_url, one_line
from .reminders import address_problem

WEBHOOK_MAX_BYTES = 2000      # WeCom text messages are limited to 2048 bytes
DEFAULT_TIMEOUT = 20.0
ERROR_TEXT_LIMIT = 200        # a target's own error text, cut to one short line


class DeliveryError(KqtoolsError):
    """A message could not be handed over; the text is masked (safe to store and show).

    ``scope``: ``"message"`` (only this message failed: the channel goes on with the next one) or
    ``"channel"`` (the server or its login failed: the rest of the channel waits for the next run).
    ``permanent``: trying the same message again cannot help (a malformed address, a 5xx refusal).
    """

    def __init__(self, message: str, scope: str = "channel", permanent: bool = False):
        super().__init__(message)
        self.scope, self.permanent = scope, permanent


class ConfigError(KqtoolsError, ValueError):
    """A channel URL that cannot be used; the text is masked (safe to show)."""


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


# --------------------------------------------------------------------------- SMTP

@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)
    sender: str
    ssl: bool                   # smtps://: TLS from the start
    require_tls: bool           # refuse a server that offers no STARTTLS
    starttls: bool              # use STARTTLS when offered
    insecure: bool
    cafile: str | None
    timeout: float

    @property
    def warning(self) -> str | None:
        """Said on every run when the login or the messages may go in clear text."""
        if self.ssl or self.require_tls:
            return None
        if self.user:
            return (f"KQ_SMTP_URL has insecure=1: the login to {self.host} and the messages may go over "
                    "the network in clear text (use smtps:// or a server that offers STARTTLS)")
        if not is_loopback(self.host):
            return f"KQ_SMTP_URL has insecure=1: messages to {self.host} may go over the network in clear text"
        return None


def parse_smtp_url(url: str) -> SmtpConfig:
    """``smtp://user:pass@host:port?from=…`` -> :class:`SmtpConfig`; :class:`ConfigError` (masked)."""
    from .masking import _split_smtp

    shown = mask_url(url)
    split = _split_smtp(url or "")
    if split is None:
        raise ConfigError(_("KQ_SMTP_URL {shown}: must start with smtp:// (STARTTLS) or smtps:// (TLS)").format(
                              shown=shown))
    scheme, userinfo, rest = split
    m = re.match(r"(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d*))?/?(?:\?(?P<query>.*))?$", rest, re.S)
    if not m:
        hint = " (URL-encode '@' in the user and password as %40)" if userinfo is None and "@" in rest else ""
        raise ConfigError(_("KQ_SMTP_URL {shown}: no valid host[:port] after the user and password{hint}").format(
                              shown=shown, hint=hint))
    if re.search(r"[\x00-\x20\x7f]", m.group("query") or ""):
        raise ConfigError(_("KQ_SMTP_URL {shown}: the options after '?' contain a space or control character").format(
                              shown=shown))
    host = m.group("host").strip("[]")
    port = int(m.group("port")) if m.group("port") else None
    if port is not None and not 0 < port < 65536:
        raise ConfigError(_("KQ_SMTP_URL {shown}: port must be 1-65535").format(shown=shown))
    user = password = None
    if userinfo is not None:
        name, colon, secret = userinfo.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
    if user and re.search(r"[\x00-\x1f\x7f]", user) or password and re.search(r"[\r\n\x00]", password):
        raise ConfigError(_("KQ_SMTP_URL {shown}: the user or password contains a control character").format(
                              shown=shown))
    query = {k.lower(): v for k, v in parse_qsl(m.group("query") or "", keep_blank_values=True)}
    unknown = sorted(set(query) - {"from", "timeout", "starttls", "insecure", "cafile"})
    if unknown:
        raise ConfigError(_("KQ_SMTP_URL {shown}: unknown option(s) {items} (from, timeout, starttls, "
                            "insecure, cafile)").format(shown=shown, items=', '.join(unknown)))
    ssl = scheme == "smtps"
    insecure = _truthy(query.get("insecure"))
    starttls = not ssl and query.get("starttls", "1").strip().lower() not in ("0", "false", "no", "off")
    sender = query.get("from") or (user if user and "@" in user else f"kq@{host}")
    problem = address_problem(sender)
    if problem:
        raise ConfigError(_("KQ_SMTP_URL {shown}: from: {problem}").format(shown=shown, problem=problem))
    try:
        timeout = float(query.get("timeout", DEFAULT_TIMEOUT))
        if not 0 < timeout < 3600:
            raise ValueError
    except ValueError:
        raise ConfigError(_("KQ_SMTP_URL {shown}: timeout must be a number of seconds (1-3600)").format(
                              shown=shown)) from None
    plain_ok = insecure or (is_loopback(host) and not user)
    if not ssl and not starttls and not plain_ok:
        raise ConfigError(_("KQ_SMTP_URL {shown}: starttls=0 sends in clear text: add insecure=1 to mean it, "
                            "or use smtps://").format(shown=shown))
    return SmtpConfig(host=host, port=port or (465 if ssl else 25), user=user,
                      password=password, sender=sender, ssl=ssl, require_tls=not ssl and not plain_ok,
                      starttls=starttls, insecure=insecure, cafile=query.get("cafile") or None, timeout=timeout)


def _tls_context(cfg: SmtpConfig):
    import ssl

    try:
        return ssl.create_default_context(cafile=cfg.cafile)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"smtp {cfg.host}:{cfg.port}: cafile: cannot read the CA file "
                            f"({type(exc).__name__})") from None


def _compose(cfg: SmtpConfig, to: str, subject: str, body: str, html: str | None = None, attachments=()):
    """The e-mail: plain text, with ``html`` as its HTML alternative (multipart/alternative), and the
    ``attachments`` (objects with ``filename``, ``content``, ``mime_type``) after it (multipart/mixed).
    File names may be Chinese: they are written RFC 2231-encoded."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    msg["From"] = cfg.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=cfg.sender.rsplit("@", 1)[-1] or "kq.local")
    msg.set_content(body, charset="utf-8")
    if html:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    for a in attachments or ():
        maintype, _, subtype = (a.mime_type or "application/octet-stream").partition("/")
        msg.add_attachment(a.content, maintype=maintype, subtype=subtype or "octet-stream", filename=a.filename)
    return msg


def send_email(cfg: SmtpConfig, to: str, subject: str, body: str, masker: Masker | None = None, *,
               html: str | None = None, attachments=()) -> None:
    """Hand one message (with its HTML body and files, if any) to the SMTP server; :class:`DeliveryError`
    (masked) when it is not accepted."""
    import smtplib

    masker = masker or Masker(extra=[cfg.password or ""])
    where = f"smtp {cfg.host}:{cfg.port}"
    problem = address_problem(to)
    if problem:
        raise DeliveryError(f"recipient {one_line(to, 120)}: {problem}", scope="message", permanent=True)
    try:
        msg = _compose(cfg, to, subject, body, html, attachments)
    except (ValueError, TypeError) as exc:
        raise DeliveryError(f"message cannot be written as e-mail: {masker.exception(exc)}", scope="message",
                            permanent=True) from None
    context = _tls_context(cfg) if cfg.ssl or cfg.starttls else None
    try:
        cls = smtplib.SMTP_SSL if cfg.ssl else smtplib.SMTP
        kwargs = {"context": context} if cfg.ssl else {}
        with cls(cfg.host, cfg.port, timeout=cfg.timeout, **kwargs) as smtp:
            if not cfg.ssl:
                smtp.ehlo()
                if cfg.starttls and smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif cfg.require_tls:
                    raise DeliveryError(f"{where}: the server does not offer STARTTLS, so the "
                                        f"{'login and ' if cfg.user else ''}messages would go in clear text: "
                                        "not sent (use smtps://, or add insecure=1 to KQ_SMTP_URL to allow it)")
            if cfg.user:
                smtp.login(cfg.user, cfg.password or "")
            smtp.send_message(msg, from_addr=cfg.sender, to_addrs=[to])
    except DeliveryError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        code, answer = next(iter(exc.recipients.values()), (0, b""))
        raise DeliveryError(f"{where}: recipient {one_line(to, 120)} refused: {code} "
                            f"{masker(_text(answer))[:ERROR_TEXT_LIMIT]}", scope="message",
                            permanent=500 <= int(code) < 600) from None
    except smtplib.SMTPDataError as exc:
        raise DeliveryError(f"{where}: message refused: {exc.smtp_code} "
                            f"{one_line(masker(_text(exc.smtp_error)), ERROR_TEXT_LIMIT)}", scope="message",
                            permanent=500 <= exc.smtp_code < 600) from None
    except Exception as exc:  # noqa: BLE001 - any class: connection, TLS, login, a bug; masked either way
        raise DeliveryError(f"{where}: {masker.exception(exc)}") from None


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


# --------------------------------------------------------------------------- webhook

@dataclass(frozen=True)
class WebhookConfig:
    url: str = field(repr=False)     # what is called (insecure=1 removed)
    insecure: bool = False
    timeout: float = DEFAULT_TIMEOUT

    @property
    def warning(self) -> str | None:
        host = urlsplit(self.url).hostname
        if urlsplit(self.url).scheme == "http" and not is_loopback(host):
            return f"KQ_WEBHOOK_URL has insecure=1: the robot's key and the messages go to {host} in clear text"
        return None


def parse_webhook_url(url: str) -> WebhookConfig:
    """``https://…`` (``http://`` to this machine or with ``insecure=1``) -> :class:`WebhookConfig`."""
    shown = mask_url(url)
    text = (url or "").strip()
    bad = re.search(r"[\x00-\x20\x7f-\x9f]", text)
    if bad:
        raise ConfigError(_("KQ_WEBHOOK_URL {shown}: contains a space or control character at position {value} "
                            "(URL-encode it, e.g. %20)").format(shown=shown, value=bad.start() + 1))
    try:
        parts = urlsplit(text)
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise ConfigError(_("KQ_WEBHOOK_URL {shown}: not a valid URL (host or port)").format(shown=shown)) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(_("KQ_WEBHOOK_URL {shown}: must be an https:// address").format(shown=shown))
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    insecure = any(k == "insecure" and _truthy(v) for k, v in pairs)
    if parts.scheme == "http" and not (insecure or is_loopback(host)):
        raise ConfigError(_("KQ_WEBHOOK_URL {shown}: http:// sends the robot's key in clear text: use https:// "
                            "(or add insecure=1 to mean it)").format(shown=shown))
    if any(k == "insecure" for k, _ in pairs):
        parts = parts._replace(query=urlencode([(k, v) for k, v in pairs if k != "insecure"]))
    return WebhookConfig(url=urlunsplit(parts), insecure=insecure)


def webhook_payload(subject: str, body: str) -> dict:
    """The robot text format (WeCom and DingTalk), cut to what WeCom accepts."""
    content = f"{subject}\n\n{body}" if body else subject
    raw = content.encode("utf-8")
    if len(raw) > WEBHOOK_MAX_BYTES:
        tail = "\n……(内容过长,已截断,详见邮件或 kq outbox list)"
        keep = WEBHOOK_MAX_BYTES - len(tail.encode("utf-8"))
        content = raw[:keep].decode("utf-8", "ignore") + tail
    return {"msgtype": "text", "text": {"content": content}}


def send_webhook(cfg: WebhookConfig | str, subject: str, body: str, masker: Masker | None = None) -> None:
    """POST one message to the robot; :class:`DeliveryError` (masked) unless it answers 2xx, errcode 0.
    A redirect is not followed: it is a failure."""
    import urllib.error
    import urllib.request

    cfg = parse_webhook_url(cfg) if isinstance(cfg, str) else cfg
    masker = masker or Masker([cfg.url])
    where = f"webhook {mask_url(cfg.url)}"

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            return None          # urllib then raises HTTPError with the 30x code

    data = json.dumps(webhook_payload(subject, body), ensure_ascii=False).encode("utf-8")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        request = urllib.request.Request(cfg.url, data=data, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        with opener.open(request, timeout=cfg.timeout) as response:
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            target = mask_url(exc.headers.get("Location", "")) if exc.headers else ""
            raise DeliveryError(f"{where}: HTTP {exc.code} redirect{' to ' + target if target else ''} "
                                "not followed (fix KQ_WEBHOOK_URL)") from None
        try:
            said = exc.read(4096).decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - the status line is enough
            said = ""
        reason = one_line(masker(said or str(exc.reason)), ERROR_TEXT_LIMIT)
        raise DeliveryError(f"{where}: HTTP {exc.code}: {reason}") from None
    except Exception as exc:  # noqa: BLE001 - URLError, InvalidURL, timeouts, TLS: masked, any class
        reason = getattr(exc, "reason", None)
        shown = masker.exception(reason if isinstance(reason, BaseException) else exc)
        raise DeliveryError(f"{where}: {shown}") from None
    try:
        reply = json.loads(answer.decode("utf-8")) if answer.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        reply = {}
    if isinstance(reply, dict) and reply.get("errcode", 0) not in (0, "0"):
        said = one_line(masker(str(reply.get("errmsg", ""))), ERROR_TEXT_LIMIT)
        raise DeliveryError(f"{where}: errcode {one_line(masker(str(reply.get('errcode'))), 40)}: {said}")


# --------------------------------------------------------------------------- the configured channels

@dataclass
class Channels:
    """What the settings configure: a sender per usable channel, problems (masked), warnings, the masker."""

    senders: dict = field(default_factory=dict)     # channel -> send(recipient, subject, body, html=, attachments=)
    problems: dict = field(default_factory=dict)    # channel -> why its URL cannot be used (masked)
    warnings: list = field(default_factory=list)    # said on every run (clear text allowed by insecure=1)
    masker: Masker = field(default_factory=Masker)
    shown: dict = field(default_factory=dict)       # channel -> masked address

    def why_not(self, channel: str) -> str:
        """Why a channel delivers nothing: 'KQ_SMTP_URL is not set' or '… is invalid: reason'."""
        var = {"email": "KQ_SMTP_URL", "webhook": "KQ_WEBHOOK_URL"}.get(channel, channel)
        if channel in self.problems:
            return f"{var} is invalid: {self.problems[channel]}"
        return f"{var} is not set"


def channels_from(smtp_url: str | None, webhook_url: str | None) -> Channels:
    """The channels configured by ``KQ_SMTP_URL`` / ``KQ_WEBHOOK_URL`` (from :class:`kqtools.settings.Settings`).

    A channel that is not configured, or not usable, has no sender: its messages stay pending (nothing is
    lost) until it is configured, and ``kq outbox list --pending`` shows them.
    """
    masker = Masker([u for u in (smtp_url, webhook_url) if u])
    ch = Channels(masker=masker, shown={"email": mask_url(smtp_url), "webhook": mask_url(webhook_url)})
    if smtp_url:
        try:
            smtp = parse_smtp_url(smtp_url)
        except ConfigError as exc:
            ch.problems["email"] = masker(str(exc))
        else:
            ch.senders["email"] = lambda to, subject, body, **extra: send_email(smtp, to, subject, body, masker,
                                                                                **extra)
            if smtp.warning:
                ch.warnings.append(smtp.warning)
    if webhook_url:
        try:
            hook = parse_webhook_url(webhook_url)
        except ConfigError as exc:
            ch.problems["webhook"] = masker(str(exc))
        else:
            # a robot takes text only: the message's plain body (for the briefing, its text summary)
            ch.senders["webhook"] = lambda to, subject, body, **_: send_webhook(hook, subject, body, masker)
            if hook.warning:
                ch.warnings.append(hook.warning)
    return ch


def senders_from_env(env) -> tuple[dict, list[str]]:
    """channel -> send(recipient, subject, body), and the problems: from a mapping of ``KQ_*`` variables."""
    ch = channels_from(env.get("KQ_SMTP_URL"), env.get("KQ_WEBHOOK_URL"))
    return ch.senders, list(ch.problems.values())
