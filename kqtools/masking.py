"""Secrets never shown: the one masker for every error kqtools prints, logs or stores.

Standard library only, no I/O. A channel URL (``KQ_SMTP_URL``, ``KQ_WEBHOOK_URL``) carries secrets in
several places and an error text can quote them in several encodings; :class:`Masker` knows them all:

* the password and the user-info before ``@`` (for SMTP the user name stays visible: it is an address
  a clerk needs to see to fix a login; the password never);
* every query value (``?key=…``, ``access_token=…``) and every path segment that is not a plain route
  word (``/services/T0001/B0002/short.tok``: all three are tokens, however short);
* each of them as written in the URL, decoded, URL-encoded (upper and lower case escapes, ``+`` for
  spaces) and base64-encoded, and the base64 ``AUTH PLAIN`` / ``AUTH LOGIN`` blobs an SMTP server may
  quote back in a 535 reply;
* and, whatever the text, any URL's user-info, query values and path tokens, ``key=value`` pairs,
  and base64 words that decode to a NUL-separated login or to a known secret.

:func:`one_line` makes any text safe to print on one line (control characters escaped, cut short):
a recipient address with CR/LF in it cannot add a forged line to the cron mail.
"""
from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"
ROUTE_WORDS = frozenset({"cgi-bin", "webhook", "webhooks", "send", "robot", "services", "hooks", "hook", "api",
                         "open-apis", "bot", "v1", "v2", "v3", "message", "messages", "notify", "post"})
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://(?=[A-Za-z0-9\[%_~-])[^\s'\"<>]+")
_PAIR = re.compile(r"(?<=[?&;])([A-Za-z0-9_.\-]+=)([^&\s'\"<>]+)")
_SECRET_WORDS = re.compile(r"(?i)\b((?:access_)?token|key|secret|password|passwd|pwd|signature|sign)"
                           r"(\s*[=:]\s*)([^\s&'\",;]+)")
_B64 = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x80-\x9f\u2028\u2029]")
_HOST_PORT = r"(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d*)?"
MIN_REPLACED = 3          # shorter known secrets are masked only inside URLs (replacing "v1" everywhere garbles)


def one_line(text, limit: int = 1000) -> str:
    """``text`` with control characters shown escaped (``\\r``, ``\\n``, ``\\x1b``) and cut to ``limit``."""
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _split_smtp(url: str):
    """(scheme, userinfo or None, rest) of an smtp(s) URL whose password may hold raw ``/ ? #``: the
    user-info ends at the first ``@`` followed by a plain ``host[:port]``."""
    m = re.match(r"(?i)\s*(smtps?)://", url)
    if not m:
        return None
    body = url[m.end():].rstrip()
    authority, tail = re.match(r"([^/?#]*)(.*)$", body, re.S).groups()
    if "@" not in authority and re.fullmatch(_HOST_PORT, authority) and (
            not tail or re.fullmatch(r"/?(?:\?(?:[^=&#]+=[^&#]*)(?:&[^=&#]+=[^&#]*)*)?", tail)):
        return m.group(1).lower(), None, body          # no user-info ('@' only in the options, e.g. from=)
    for at in [i for i, ch in enumerate(body) if ch == "@"]:
        if re.match(_HOST_PORT + r"(?:/?(?:\?.*)?)?$", body[at + 1:], re.S):
            return m.group(1).lower(), body[:at], body[at + 1:]
    return m.group(1).lower(), None, body


def mask_url(url: str | None) -> str:
    """A URL safe to print: ``smtp://kq:***@mail.example.gov.cn:587?from=***``,
    ``https://oapi.dingtalk.com/robot/send?access_token=***``."""
    if not url:
        return ""
    url = str(url).strip()
    smtp = _split_smtp(url)
    if smtp:
        scheme, userinfo, rest = smtp
        user = ""
        if userinfo is not None:
            name, colon, _ = userinfo.partition(":")
            user = f"{one_line(unquote(name), 80)}:{MASK}@" if colon else f"{one_line(unquote(name), 80)}@"
        url, prefix = f"{scheme}://{rest}", user
    else:
        prefix = None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        scheme = url.split(":", 1)[0] if re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", url) else ""
        return f"{scheme}://{MASK}" if scheme else MASK
    if not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]*", host):
        host = MASK
    if prefix is None:
        prefix = f"{MASK}@" if "@" in parts.netloc else ""
    path = "/".join(seg if seg in ROUTE_WORDS or not seg else MASK for seg in parts.path.split("/"))
    query = "&".join(f"{one_line(k, 40)}={MASK}" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    if parts.query and not query:
        query = MASK
    return f"{parts.scheme}://{prefix}{host}{port}{path}" + (f"?{query}" if query else "")


def url_secrets(url: str | None, smtp_user_visible: bool = True) -> tuple[list[str], list[bytes]]:
    """(texts, raw secrets) of a channel URL: every form in which its secrets may appear in a text,
    and the decoded secrets themselves (to recognise them inside base64 blobs)."""
    if not url:
        return [], []
    url = str(url).strip()
    raw: list[str] = []
    user = None
    smtp = _split_smtp(url)
    if smtp:                        # the password is the secret; host, user and options are not
        _, userinfo, _ = smtp
        if userinfo is not None:
            name, colon, password = userinfo.partition(":")
            user = unquote(name)
            raw += [password, unquote(password)] if colon else ([] if smtp_user_visible else [name, user])
    else:
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        if parts is not None:
            if "@" in parts.netloc:
                info = parts.netloc.rpartition("@")[0]
                raw += [info, unquote(info)] + [p for s in info.split(":") for p in (s, unquote(s))]
            for _, value in parse_qsl(parts.query, keep_blank_values=True):
                raw += [value] + value.split()
            raw += [pair.partition("=")[2] for pair in parts.query.split("&")]
            for segment in parts.path.split("/"):
                if segment and segment not in ROUTE_WORDS:
                    raw += [segment, unquote(segment)]
    secrets = sorted({s for s in raw if s and len(s) >= 1}, key=len, reverse=True)
    forms: set[str] = set()
    decoded: list[bytes] = []
    for s in secrets:
        b = s.encode("utf-8")
        decoded.append(b)
        b64 = base64.b64encode(b).decode("ascii")
        for form in (s, quote(s, safe=""), quote(s), quote_plus(s), _lower_escapes(quote(s, safe="")),
                     b64, b64.rstrip("=")):
            if len(form) >= MIN_REPLACED:
                forms.add(form)
        if user is not None:
            for blob in (b"\0" + user.encode() + b"\0" + b, user.encode() + b"\0" + user.encode() + b"\0" + b):
                forms.add(base64.b64encode(blob).decode("ascii"))
                forms.add(base64.b64encode(blob).decode("ascii").rstrip("="))
    forms.add(url)
    return sorted(forms, key=len, reverse=True), decoded


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


class Masker:
    """Masks the secrets of the given channel URLs (and ``extra`` secrets) in any text."""

    def __init__(self, urls=(), extra=()):
        forms: set[str] = set()
        raw: list[bytes] = []
        for url in urls:
            f, r = url_secrets(url)
            forms.update(f)
            raw += r
        for s in extra:
            if s:
                f, r = url_secrets(f"x://h/?s={quote(s, safe='')}")
                forms.update(x for x in f if not x.startswith("x://"))
                raw += r
        self.forms = sorted(forms, key=len, reverse=True)
        self.raw = [b for b in raw if len(b) >= MIN_REPLACED]

    def __call__(self, text) -> str:
        """``text`` with every secret replaced by ``***`` (see the module docstring)."""
        text = str(text)
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        text = _URL.sub(lambda m: mask_url(m.group()), text)
        text = _PAIR.sub(lambda m: m.group(1) + MASK, text)
        text = _SECRET_WORDS.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
        return _B64.sub(self._blob, text)

    def _blob(self, m) -> str:
        word = m.group()
        try:
            data = base64.b64decode(word + "=" * (-len(word) % 4), validate=True)
        except (binascii.Error, ValueError):
            return word
        if b"\0" in data or any(secret in data for secret in self.raw):
            return MASK
        return word

    def exception(self, exc: BaseException, limit: int = 300) -> str:
        """``TypeName: message`` of any exception, masked, on one line."""
        text = str(exc)
        return one_line(self(f"{type(exc).__name__}: {text}" if text else type(exc).__name__), limit)
