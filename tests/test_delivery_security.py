"""Messages sent only where meant, secrets never shown (issue 11 items 7 and 13, issue 18 items 2-4, 7, 8).

Real servers on 127.0.0.1 only: aiosmtpd (with a login that answers 535 quoting the AUTH blob back,
with STARTTLS on a throwaway self-signed certificate made by openssl, refusing one recipient) and
http.server (a robot that redirects, one that answers errors). The secret is searched in every
stream a clerk or a log sees and in the database, in every encoding.
"""
from __future__ import annotations

import base64
import email
import email.policy
import http.client
import json
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import threading
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings, strategies as st

from kqtools import delivery as D
from kqtools.masking import Masker, mask_url
from test_delivery import free_port, statuses
from test_jobs import MONDAY, outbox, seed

PASSWORD = "pa#ss/wo?rd=Tok3n"          # raw '#', '/', '?' in the URL: must be read right, never shown
TOKEN = "SECRET TOKEN1"
URL_SHAPES = [
    f"smtp://kq%40bureau.test:{PASSWORD}@127.0.0.1:2525?from=kq@bureau.test",
    f"smtp://kq%40bureau.test:{quote(PASSWORD, safe='')}@mail.example.gov.cn:587?from=kq@bureau.test",
    f"smtps://kq:{PASSWORD}@mail.example.gov.cn",
    f"http://127.0.0.1:18081/ok?key={TOKEN}",
    "https://hooks.example.test/services/T0001/B0002/short.tok",
    "https://TOKENUSER:tokpw99@robot.example.test/send?access_token=abcdef012345",
    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0123-4567-89ab",
]


def forms(secret: str) -> list[str]:
    """A secret and the encodings in which it could leak."""
    b = secret.encode()
    return [secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(b).decode(),
            base64.b64encode(b).decode().rstrip("=")]


def secrets_in(url: str) -> list[str]:
    if url.startswith("smtp"):
        return forms(PASSWORD)
    if TOKEN in url:
        return forms(TOKEN) + ["TOKEN1"]
    if "short.tok" in url:
        return ["T0001", "B0002", "short.tok"]
    if "tokpw99" in url:
        return forms("tokpw99") + ["TOKENUSER", "abcdef012345"]
    return ["0123-4567-89ab"]


def assert_clean(text: str, secrets=None):
    for s in secrets or forms(PASSWORD) + forms(TOKEN):
        assert s not in text, (s, text)


def blob(user: str, password: str) -> str:
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


# ------------------------------------------------------------------------ the masker, pure

@pytest.mark.parametrize("url", URL_SHAPES)
def test_the_masker_hides_every_secret_of_every_url_shape_in_every_exception_class(url):
    masker = Masker([url])
    secrets = secrets_in(url)
    user = "kq@bureau.test"
    pw = PASSWORD if url.startswith("smtp") else "tokpw99"
    errors = [
        smtplib.SMTPAuthenticationError(535, f"5.7.8 Authentication failed for {blob(user, pw)}".encode()),
        smtplib.SMTPAuthenticationError(535, base64.b64encode(pw.encode())),
        smtplib.SMTPRecipientsRefused({"a@b.cn": (550, f"no {url}".encode())}),
        smtplib.SMTPServerDisconnected(f"lost {url}"), OSError(f"connect {url}"), socket.timeout(url),
        ssl.SSLError(1, f"bad cert {url}"), http.client.InvalidURL(f"URL can't contain control characters. {url!r}"),
        urllib.error.URLError(url), ValueError(url), RuntimeError(f"{url} and again {quote(url, safe='')}"),
        urllib.error.HTTPError(url, 500, f"oops {url}", None, None),
    ]
    for exc in errors:
        shown = masker.exception(exc)
        assert type(exc).__name__ in shown
        for s in secrets:
            assert s not in shown, (type(exc).__name__, s, shown)
    assert all(s not in mask_url(url) for s in secrets)


def test_base64_blobs_the_masker_was_not_told_about_are_recognised_by_what_they_decode_to():
    masker = Masker([f"smtp://kq:{PASSWORD}@mail.x.cn"])
    other_login = base64.b64encode(b"admin\0KQ@X.CN\0" + PASSWORD.encode()).decode()   # authzid, other case
    shifted = base64.b64encode(b"pw=" + PASSWORD.encode() + b";").decode()              # the password mid-blob
    shown = masker(f"535 rejected {other_login} and {shifted}")
    assert other_login not in shown and shifted not in shown and shown.count("***") == 2


def test_masked_urls_still_say_where():
    assert mask_url("https://oapi.dingtalk.com/robot/send?access_token=abc") == \
        "https://oapi.dingtalk.com/robot/send?access_token=***"
    assert mask_url("https://hooks.example.test/services/T0001/B0002/short.tok") == \
        "https://hooks.example.test/services/***/***/***"
    assert mask_url(f"smtp://kq%40x.cn:{PASSWORD}@mail.x.cn:587?from=a@x.cn") == "smtp://kq@x.cn:***@mail.x.cn:587?from=***"
    assert mask_url("https://tok@robot.test/send") == "https://***@robot.test/send"


def test_a_password_with_raw_hash_slash_and_question_mark_is_read_right():
    cfg = D.parse_smtp_url(f"smtp://kq%40bureau.test:{PASSWORD}@mail.x.cn:587?from=kq@bureau.test")
    assert (cfg.user, cfg.password, cfg.host, cfg.port, cfg.sender) == (
        "kq@bureau.test", PASSWORD, "mail.x.cn", 587, "kq@bureau.test")
    assert PASSWORD not in repr(cfg)
    cfg = D.parse_smtp_url("smtp://127.0.0.1:2525?from=kq@bureau.test")     # '@' only in the options
    assert (cfg.host, cfg.port, cfg.user) == ("127.0.0.1", 2525, None)


# ------------------------------------------------------------------------ real SMTP servers

class Server:
    """aiosmtpd on 127.0.0.1: optional login (answering 535 with the AUTH blob quoted back), optional
    STARTTLS with a certificate, and recipients it refuses with 550."""

    def __init__(self, password=None, tls_context=None, refuse=(), quote_blob=True):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.port, self.envelopes, self.logins = free_port(), [], []
        box = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address in refuse:
                    return "550 5.1.1 no such user here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos),
                                      email.message_from_bytes(envelope.content, policy=email.policy.default)))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            user, pw = auth_data.login.decode(), auth_data.password.decode()
            box.logins.append((user, pw, session.ssl is not None))
            if pw == password:
                return AuthResult(success=True)
            said = blob(user, pw) if quote_blob else ""
            return AuthResult(success=False, handled=False,
                              message=f"535 5.7.8 Authentication failed for {said} ({base64.b64encode(pw.encode()).decode()})")

        kwargs = {"authenticator": authenticator, "auth_require_tls": tls_context is not None} if password else {}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)

    def url(self, user="kq@bureau.test", password=PASSWORD, extra=""):
        auth = f"{quote(user, safe='')}:{password}@" if user else ""
        return f"smtp://{auth}127.0.0.1:{self.port}?from=kq@bureau.test{extra}"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def everything_shown(kq, db_path, *results) -> str:
    """stdout and stderr of the runs, the outbox table, `kq outbox list` and `kq jobs history`, as text."""
    texts = [r.stdout + r.stderr for r in results]
    texts.append(json.dumps(outbox(db_path), ensure_ascii=False))
    texts += [kq("outbox", "list").stdout, kq("outbox", "list", "-f", "csv").stdout, kq("jobs", "history").stdout]
    conn = sqlite3.connect(db_path)
    try:
        texts += [json.dumps(list(conn.execute(f"SELECT * FROM {t}")), ensure_ascii=False)
                  for t in ("job_runs", "job_state", "job_files", "outbox")]
    finally:
        conn.close()
    return "\n".join(texts)


def test_a_535_quoting_the_auth_blob_leaks_nothing_anywhere(kq, db, db_path):
    seed(db, kq)
    with Server(password="the-right-one") as box:
        env = {"KQ_SMTP_URL": box.url(extra="&insecure=1")}
        r = kq("jobs", "run-due", "--now", MONDAY, env=env)
        again = kq("jobs", "run-due", "--now", "2026-01-05T09:10+08:00", env=env)
        check = kq("jobs", "check", env={"KQ_SMTP_URL": f"smtp://kq:{PASSWORD}@[bad host/x"})
    assert box.logins and box.logins[0][1] == PASSWORD        # read right: the server got the real password
    assert r.returncode == 1 and "535" in r.stderr and "Authentication failed" in r.stderr, r
    assert {m["status"] for m in outbox(db_path)} == {"pending"}
    assert check.returncode == 1 and "KQ_SMTP_URL" in check.stdout
    assert_clean(everything_shown(kq, db_path, r, again, check),
                 forms(PASSWORD) + [blob("kq@bureau.test", PASSWORD), blob("kq@bureau.test", PASSWORD).rstrip("=")])


def test_the_right_password_with_raw_special_characters_logs_in_and_delivers(kq, db, db_path):
    seed(db, kq)
    with Server(password=PASSWORD) as box:
        r = kq("jobs", "run-due", "--now", MONDAY, env={"KQ_SMTP_URL": box.url(extra="&insecure=1")})
    assert r.returncode == 0, r
    assert statuses(db_path) == {"sent": 3} and len(box.envelopes) == 3
    assert "insecure=1" in r.stderr and "clear text" in r.stderr          # warned on every run,
    quiet = kq("jobs", "run-due", "--now", "2026-01-05T09:10+08:00", env={"KQ_SMTP_URL": box.url(extra="&insecure=1")})
    assert "nothing due" in quiet.stderr and "insecure=1" in quiet.stderr   # also when nothing is due
    assert_clean(r.stdout + r.stderr)


def test_a_plaintext_login_is_refused_without_insecure_and_the_password_never_sent(kq, db, db_path):
    seed(db, kq)
    with Server(password=PASSWORD) as box:
        r = kq("jobs", "run-due", "--now", MONDAY, env={"KQ_SMTP_URL": box.url()})
    assert r.returncode == 1 and "does not offer STARTTLS" in r.stderr, r
    assert box.logins == [] and box.envelopes == []
    assert {m["status"] for m in outbox(db_path)} == {"pending"}
    assert_clean(everything_shown(kq, db_path, r))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A throwaway self-signed certificate for 127.0.0.1 (openssl), and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    proc = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                           "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                           "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate here: {proc.stderr[-200:]!r}")
    return cert, key


def test_starttls_is_used_by_default_and_the_login_goes_over_it(kq, db, db_path, certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seed(db, kq)
    with Server(password=PASSWORD, tls_context=context) as box:
        r = kq("jobs", "run-due", "--now", MONDAY, env={"KQ_SMTP_URL": box.url(extra=f"&cafile={cert}")})
        untrusted = kq("jobs", "run", "december-meeting", "--now", MONDAY, env={"KQ_SMTP_URL": box.url()})
    assert r.returncode == 0, r
    assert statuses(db_path)["sent"] == 3 and set(box.logins) == {("kq@bureau.test", PASSWORD, True)}   # over TLS
    assert "warning" not in r.stderr
    assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted
    assert_clean(everything_shown(kq, db_path, r, untrusted))


def test_an_invalid_smtp_url_is_reported_as_invalid_not_as_not_set(kq, db, db_path):
    seed(db, kq)
    r = kq("jobs", "run-due", "--now", MONDAY, env={"KQ_SMTP_URL": f"smtp://kq:{PASSWORD}@mail.x.cn:99999"})
    assert r.returncode == 1
    assert "KQ_SMTP_URL is invalid" in r.stderr and "port" in r.stderr and "not set" not in r.stderr, r
    assert_clean(r.stdout + r.stderr)


# ------------------------------------------------------------------------ addresses

def test_three_bad_addresses_are_refused_on_import_with_line_and_column(kq, tmp_path):
    path = tmp_path / "specialists.csv"
    path.write_bytes("工号,姓名,邮箱\nS1,张三,zhang@kj.gov.cn\nS2,李四,\"<evil3@evil.example> kj3@x.gov.cn\"\n"
                     "S3,王五,\"a@x.gov.cn, b@y.gov.cn\"\nS4,赵六,\"kj4@x.gov.cn\r\nBcc: evil@evil.example\"\n"
                     .encode("utf-8"))
    r = kq("import", "specialists", path)
    assert r.returncode == 1, r
    assert r.jsonl()[0]["inserted"] == 1 and r.jsonl()[0]["rejected"] == 3
    for line in (3, 4, 5):
        assert f"line {line}, column 邮箱: email" in r.stderr, r
    assert "\r\nBcc" not in r.stderr                      # the forged line stays escaped in diagnostics


@pytest.mark.parametrize("address, reason", [
    ("<evil3@evil.example> kj3@x.gov.cn", "display name"),
    ("a@x.gov.cn, b@y.gov.cn", "one address per entry"),
    ("kj4@x.gov.cn\r\nBcc: evil@evil.example", "control character"),
])
def test_a_bad_address_in_a_job_spec_is_refused_with_the_file_and_place(tmp_path, address, reason):
    from conftest import run_kq

    (tmp_path / "bad.toml").write_text(
        'id = "x"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * * *" }\nparams = { subject = "s" }\n'
        f'recipients = ["ok@kj.gov.cn", {json.dumps(address)}]\n', encoding="utf-8")
    r = run_kq("jobs", "check", "--jobs-dir", tmp_path)
    assert r.returncode == 1
    [line] = r.stdout.splitlines()
    assert "bad.toml: recipients[1]" in line and reason in line and "\r" not in line, r


def test_a_bad_address_fails_that_message_only_and_the_next_is_sent(kq, db, db_path):
    seed(db, kq)
    db.conn.execute("UPDATE specialists SET email = 'lisi@kq.test, boss@evil.example' WHERE id = 'S02'")
    with Server(refuse=("zhangsan@kq.test",)) as box:
        r = kq("jobs", "run-due", "--now", MONDAY, env={"KQ_SMTP_URL": f"smtp://127.0.0.1:{box.port}?from=kq@bureau.test"})
    by = {m["recipient_name"]: m for m in outbox(db_path)}
    assert by["李四"]["status"] == "undeliverable" and "one address per entry" in by["李四"]["last_error"]
    assert by["张三"]["status"] == "undeliverable" and "550" in by["张三"]["last_error"]   # refused by the server
    assert by["王五"]["status"] == "sent"                                                 # the next one still went
    assert [rcpts for _, rcpts, _ in box.envelopes] == [["wangwu@kq.test"]]
    assert r.returncode == 1 and "zhangsan@kq.test refused" in r.stderr, r


# ------------------------------------------------------------------------ webhooks

class Web:
    """http.server on 127.0.0.1: /redirect answers 302 to /target, /error answers 500 with a long
    multi-line text that quotes the key; /target records what reached it."""

    def __init__(self):
        self.hits = []
        web = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                web.hits.append((self.command, self.path))
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{web.port}/target?key=MOVED-SECRET")
                    self.end_headers()
                elif self.path.startswith("/error"):
                    body = ("internal error\nkey=" + self.path.split("key=")[-1] + "\n" + "x" * 5000).encode()
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b'{"errcode": 0}')

            do_GET = do_POST = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_a_webhook_redirect_is_not_followed(kq, db, db_path):
    seed(db, kq)
    with Web() as web:
        env = {"KQ_WEBHOOK_URL": f"http://127.0.0.1:{web.port}/redirect?key=ROBOT-KEY-1"}
        r = kq("jobs", "run-due", "--now", "2026-12-01T09:30+08:00", "--job", "december-meeting", env=env)
    assert web.hits == [("POST", "/redirect?key=ROBOT-KEY-1")]          # /target never reached
    assert r.returncode == 1 and "HTTP 302" in r.stderr and "not followed" in r.stderr, r
    hook = next(m for m in outbox(db_path) if m["channel"] == "webhook")
    assert hook["status"] == "pending" and "not followed" in hook["last_error"]
    assert_clean(everything_shown(kq, db_path, r), ["ROBOT-KEY-1", "MOVED-SECRET"])


def test_the_targets_error_text_is_one_short_masked_line(kq, db, db_path):
    seed(db, kq)
    with Web() as web:
        env = {"KQ_WEBHOOK_URL": f"http://127.0.0.1:{web.port}/error?key=ROBOT-KEY-2"}
        r = kq("jobs", "run-due", "--now", "2026-12-01T09:30+08:00", "--job", "december-meeting", env=env)
    hook = next(m for m in outbox(db_path) if m["channel"] == "webhook")
    assert "HTTP 500" in hook["last_error"] and "\n" not in hook["last_error"] and len(hook["last_error"]) < 400
    assert_clean(everything_shown(kq, db_path, r), ["ROBOT-KEY-2"])


def test_webhook_urls_are_https_unless_loopback_or_insecure_and_never_with_a_space():
    with pytest.raises(D.ConfigError, match="https://"):
        D.parse_webhook_url("http://robot.example.test/send?key=K1234")
    assert D.parse_webhook_url("http://robot.example.test/send?key=K1234&insecure=1").url == \
        "http://robot.example.test/send?key=K1234"                     # insecure=1 is not sent on
    assert D.parse_webhook_url("http://127.0.0.1:8080/send?key=K1234").warning is None
    with pytest.raises(D.ConfigError) as exc:
        D.parse_webhook_url(f"http://127.0.0.1:18081/ok?key={TOKEN}")
    assert "space or control character" in str(exc.value)
    assert_clean(str(exc.value), forms(TOKEN) + ["TOKEN1"])


def test_a_url_urllib_refuses_raises_a_masked_delivery_error(kq, db, db_path):
    # InvalidURL (a space in the URL) used to be printed and stored unmasked
    cfg = D.WebhookConfig(url=f"http://127.0.0.1:18081/ok?key={TOKEN}")
    with pytest.raises(D.DeliveryError) as exc:
        D.send_webhook(cfg, "s", "b", Masker([cfg.url]))
    assert "InvalidURL" in str(exc.value)
    assert_clean(str(exc.value), forms(TOKEN) + ["TOKEN1"])
    seed(db, kq)
    r = kq("jobs", "run-due", "--now", "2026-12-01T09:30+08:00", "--job", "december-meeting",
           env={"KQ_WEBHOOK_URL": f"http://127.0.0.1:18081/ok?key={TOKEN}"})
    assert "KQ_WEBHOOK_URL is invalid" in r.stderr, r
    assert_clean(everything_shown(kq, db_path, r), forms(TOKEN) + ["TOKEN1"])


def test_the_scheduler_log_masks_what_the_server_quotes_back(db_path, tmp_path):
    """`kq scheduler` logs every run and delivery failure: the same masker, in process here."""
    import time

    from kqtools.delivery import channels_from
    from kqtools.storage import open_db
    from kqtools.storage.scheduler import serve
    from test_jobs import SHIPPED, off, write_spec

    open_db(str(db_path)).conn.close()
    jobs = tmp_path / "jobs"
    off(jobs, *SHIPPED)
    write_spec(jobs, "tick.toml", 'id = "tick"\naction = "meeting-reminder"\ntrigger = { every = "2s" }\n'
               'misfire_grace = "1m"\nrecipients = ["office@kq.test"]\nparams = { subject = "s" }\n')
    lines: list[str] = []
    stop = threading.Event()
    with Server(password="the-right-one") as box:
        channels = channels_from(box.url(extra="&insecure=1"), None)
        worker = threading.Thread(target=serve, args=(str(db_path), str(jobs), stop, lines.append),
                                  kwargs={"poll": 0.5, "retry_every": 1, "senders": channels.senders,
                                          "masker": channels.masker}, daemon=True)
        worker.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("failed 1" in line for line in lines):
            time.sleep(0.2)
        stop.set()
        worker.join(60)
    assert box.logins and any("535" in line for line in lines), lines
    assert_clean("\n".join(lines), forms(PASSWORD) + [blob("kq@bureau.test", PASSWORD)])


@settings(max_examples=60, deadline=None)
@given(password=st.text(alphabet=st.sampled_from("abcXYZ0189#/?=&!*-_.~:;"), min_size=6, max_size=24),
       encoded=st.booleans())
def test_any_password_is_read_right_and_masked_in_every_form(password, encoded):
    written = quote(password, safe="") if encoded else password
    url = f"smtp://kq%40bureau.test:{written}@mail.x.cn:587?from=kq@bureau.test"
    cfg = D.parse_smtp_url(url)
    assert cfg.password == password and cfg.host == "mail.x.cn" and cfg.port == 587
    masker = Masker([url])
    text = " | ".join([url, password, quote(password, safe=""), quote_plus(password),
                       base64.b64encode(password.encode()).decode(), blob("kq@bureau.test", password),
                       base64.b64encode(b"kq@bureau.test\0kq@bureau.test\0" + password.encode()).decode()])
    shown = masker(text) + masker.exception(smtplib.SMTPAuthenticationError(535, text.encode()))
    for form in forms(password):
        assert form not in shown, (form, shown)


def test_an_address_with_cr_lf_cannot_add_a_line_to_the_cron_mail(kq, db, db_path):
    """Issue 18 item 8: stderr is mailed by cron; a recipient with CR/LF stays on its own line, escaped."""
    seed(db, kq)
    kq("jobs", "run-due", "--now", MONDAY, "--no-deliver")
    db.conn.execute("UPDATE outbox SET recipient = 'lisi@kq.test\r\nSubject: forged' WHERE recipient = 'lisi@kq.test'")
    with Server() as box:
        r = kq("jobs", "run-due", "--now", "2026-01-05T09:10+08:00",
               env={"KQ_SMTP_URL": f"smtp://127.0.0.1:{box.port}?from=kq@bureau.test"})
    assert r.returncode == 1 and "control character" in r.stderr, r
    assert not any(line.startswith("Subject: forged") for line in r.stderr.splitlines())
    assert "lisi@kq.test\\r\\nSubject: forged" in r.stderr
    assert len(box.envelopes) == 2                                   # the other two still went
