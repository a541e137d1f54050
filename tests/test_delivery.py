"""Real delivery: a local SMTP server (aiosmtpd) and a local HTTP server (the robot webhook), loopback only.

A failed delivery stays pending and goes out on a later run, once; secrets never appear in output.
"""
from __future__ import annotations

import collections
import email
import email.policy
import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kqtools import delivery as D
from test_jobs import MONDAY, outbox, seed

PASSWORD = "s3cr=t-Pa55"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives (and who logged in)."""

    def __init__(self, port: int | None = None, password: str | None = None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.port = port or free_port()
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[tuple[str, str]] = []
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                box.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            user, pw = auth_data.login.decode(), auth_data.password.decode()
            box.logins.append((user, pw))
            return AuthResult(success=pw == password, handled=False)

        kwargs = {"authenticator": authenticator, "auth_require_tls": False} if password else {}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class Robot:
    """A local HTTP server standing in for the WeCom / DingTalk group robot."""

    def __init__(self, reply: dict | None = None):
        self.posts: list[tuple[str, dict]] = []
        robot = self
        answer = json.dumps(reply or {"errcode": 0, "errmsg": "ok"}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                robot.posts.append((self.path, json.loads(body.decode("utf-8"))))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/webhook/send?key=ROBOTKEY-0123456789"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def smtp_url(port, user=None, password=None, insecure=None):
    """A local aiosmtpd without TLS: a login there needs insecure=1 (the default is STARTTLS, required)."""
    auth = f"{user}:{password.replace('=', '%3D')}@" if user else ""
    insecure = bool(user) if insecure is None else insecure
    return f"smtp://{auth}127.0.0.1:{port}?from=kq@bureau.test" + ("&insecure=1" if insecure else "")


def statuses(db_path):
    return collections.Counter(m["status"] for m in outbox(db_path))


# ------------------------------------------------------------------------ pure

def test_smtp_url_is_parsed_and_masked():
    cfg = D.parse_smtp_url("smtp://kq%40bureau.gov.cn:p%40ss@mail.bureau.gov.cn:587?from=noreply@bureau.gov.cn&starttls=1")
    assert (cfg.host, cfg.port, cfg.user, cfg.password, cfg.sender, cfg.starttls, cfg.ssl) == (
        "mail.bureau.gov.cn", 587, "kq@bureau.gov.cn", "p@ss", "noreply@bureau.gov.cn", True, False)
    assert "p@ss" not in repr(cfg)
    assert D.parse_smtp_url("smtps://mail.x.cn").port == 465
    masked = D.mask_url("smtp://kq:p%40ss@mail.x.cn:25?from=a@b.cn")
    assert "p%40ss" not in masked and "***" in masked and "mail.x.cn:25" in masked
    hook = D.mask_url("https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789")
    assert hook == "https://oapi.dingtalk.com/robot/send?access_token=***"
    with pytest.raises(D.ConfigError) as exc:
        D.parse_smtp_url("http://kq:topsecret@mail.x.cn")
    assert "topsecret" not in str(exc.value)


def test_webhook_payload_is_the_robot_text_format_and_fits_wecom():
    p = D.webhook_payload("【走访提醒】张三", "甲" * 3000)
    assert p["msgtype"] == "text" and p["text"]["content"].startswith("【走访提醒】张三")
    assert len(p["text"]["content"].encode("utf-8")) <= 2048 and "截断" in p["text"]["content"]


# ------------------------------------------------------------------------ real servers

def test_mail_arrives_at_a_local_smtp_server_once(kq, db, db_path):
    seed(db, kq)
    with Mailbox(password=PASSWORD) as box:
        env = {"KQ_SMTP_URL": smtp_url(box.port, "kq@bureau.test", PASSWORD)}
        r = kq("jobs", "run-due", "--now", MONDAY, env=env)
        assert r.returncode == 0, r
        again = kq("jobs", "run-due", "--now", MONDAY, env=env)
        assert again.returncode == 0 and again.stdout == ""
    assert sorted(rcpt for _, [rcpt] in box.envelopes) == ["lisi@kq.test", "wangwu@kq.test", "zhangsan@kq.test"]
    assert box.logins and all(login == ("kq@bureau.test", PASSWORD) for login in box.logins)
    zhang = next(m for m in box.messages if m["To"] == "zhangsan@kq.test")
    assert zhang["From"] == "kq@bureau.test"
    # S01 serves two firms, neither key, none visited: the yearly plan's pace on 5 January is one (issue 14)
    assert zhang["Subject"] == "【走访提醒】张三:2026年第1季度尚有 1 家企业未走访"
    assert "厦门湖里甲科技有限公司" in zhang.get_content()
    assert statuses(db_path) == {"sent": 3}


def test_webhook_reaches_a_local_http_server_in_robot_format(kq, db, db_path):
    seed(db, kq)
    with Robot() as robot:
        r = kq("jobs", "run-due", "--now", "2026-12-01T09:30+08:00", "--job", "december-meeting",
               env={"KQ_WEBHOOK_URL": robot.url})
    assert r.returncode == 0, r
    [(path, body)] = robot.posts
    assert path == "/cgi-bin/webhook/send?key=ROBOTKEY-0123456789"
    assert body["msgtype"] == "text" and body["text"]["content"].startswith("【会议提醒】2026 年挂钩联系企业问题专题会")
    # the e-mail copies wait for KQ_SMTP_URL; nothing is lost
    assert statuses(db_path) == {"sent": 1, "pending": 3}
    assert "KQ_SMTP_URL is not set" in r.stderr


def test_server_down_message_stays_pending_then_goes_out_once(kq, db, db_path):
    seed(db, kq)
    port = free_port()                           # nothing listens there yet
    env = {"KQ_SMTP_URL": smtp_url(port, "kq@bureau.test", PASSWORD)}
    r = kq("jobs", "run-due", "--now", MONDAY, env=env)
    assert r.returncode == 1, r                  # produced, but not delivered: needs attention
    assert "delivery failed" in r.stderr and PASSWORD not in r.stderr + r.stdout
    rows = outbox(db_path)
    assert {m["status"] for m in rows} == {"pending"}
    assert sum(m["attempts"] for m in rows) == 1       # the first failure holds back the rest of the channel
    failed = next(m for m in rows if m["attempts"] == 1)
    assert "refused" in failed["last_error"].lower() and PASSWORD not in failed["last_error"]
    with Mailbox(port=port, password=PASSWORD) as box:
        r = kq("jobs", "run-due", "--now", "2026-01-05T09:10+08:00", env=env)
        assert r.returncode == 0, r
        kq("jobs", "run-due", "--now", "2026-01-05T09:15+08:00", env=env)
    assert sorted(rcpt for _, [rcpt] in box.envelopes) == ["lisi@kq.test", "wangwu@kq.test", "zhangsan@kq.test"]
    assert statuses(db_path) == {"sent": 3}


def test_wrong_password_and_robot_error_keep_messages_pending_without_printing_secrets(kq, db, db_path):
    seed(db, kq)
    with Mailbox(password="the-right-one") as box, Robot(reply={"errcode": 93000, "errmsg": "invalid webhook url"}) as robot:
        env = {"KQ_SMTP_URL": smtp_url(box.port, "kq@bureau.test", PASSWORD), "KQ_WEBHOOK_URL": robot.url}
        r = kq("jobs", "run-due", "--now", "2026-12-01T09:30+08:00", "--job", "december-meeting", env=env)
        check = kq("jobs", "check", env={"KQ_SMTP_URL": "ftp://kq:" + PASSWORD + "@x"})
    assert r.returncode == 1 and box.envelopes == [] and len(robot.posts) == 1
    rows = outbox(db_path)
    assert {m["status"] for m in rows} == {"pending"}
    errors = " ".join(m["last_error"] or "" for m in rows)
    assert "93000" in errors and "Authentication" in errors
    shown = r.stdout + r.stderr + errors + kq("outbox", "list").stdout + check.stdout + check.stderr
    assert PASSWORD not in shown and "ROBOTKEY-0123456789" not in shown
    assert check.returncode == 1 and "KQ_SMTP_URL" in check.stdout


def test_eight_processes_racing_deliver_each_mail_once(kq, db, db_path):
    seed(db, kq)
    db.conn.close()
    with Mailbox() as box:
        env = {**os.environ, "KQ_DB": str(db_path), "PYTHONIOENCODING": "utf-8", "KQ_SMTP_URL": smtp_url(box.port)}
        procs = [subprocess.Popen([sys.executable, "-m", "kqtools", "jobs", "run-due", "--now", MONDAY],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(8)]
        codes = [p.wait(timeout=120) for p in procs]
        errs = [p.stderr.read().decode() for p in procs]
        for p in procs:
            p.stderr.close()
    assert codes == [0] * 8, errs
    assert sorted(rcpt for _, [rcpt] in box.envelopes) == ["lisi@kq.test", "wangwu@kq.test", "zhangsan@kq.test"]
    assert statuses(db_path) == {"sent": 3}


def test_a_message_left_in_sending_is_not_resent_until_a_person_decides(kq, db, db_path):
    seed(db, kq)
    kq("jobs", "run-due", "--now", MONDAY, "--no-deliver")
    # a sender claimed message 1 and was killed before it could mark it: delivered or not, unknown
    code_ = ("import os, signal\nfrom kqtools.storage import open_db, write_transaction\nfrom kqtools.storage import jobs as J\n"
             f"db = open_db({str(db_path)!r})\nwith write_transaction(db):\n"
             "    db.conn.execute(\"UPDATE outbox SET status='sending', attempts=1, claimed_by=?, sending_at=? WHERE id=1\","
             " (J.owner(), J.wall_iso()))\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert subprocess.run([sys.executable, "-c", code_]).returncode == -9
    with Mailbox() as box:
        env = {"KQ_SMTP_URL": smtp_url(box.port)}
        r = kq("jobs", "run-due", "--now", "2026-01-05T09:10+08:00", env=env)
        assert r.returncode == 1 and "kq outbox retry 1" in r.stderr, r
        assert len(box.envelopes) == 2                     # the other two; message 1 is not resent blindly
        assert kq("outbox", "retry", "1").returncode == 0
        kq("jobs", "run-due", "--now", "2026-01-05T09:15+08:00", env=env)
    assert len(box.envelopes) == 3 and statuses(db_path) == {"sent": 3}
