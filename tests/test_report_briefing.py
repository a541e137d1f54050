"""The monthly briefing job (action ``report``): a real local SMTP server receives the HTML body and the
workbooks; the group robot gets text only."""
from __future__ import annotations

import io
import sqlite3

import pytest

from conftest import run_kq
from report_helpers import demo_copy
from test_delivery import Mailbox, Robot, smtp_url

FIRST_OF_DECEMBER = "2026-12-01T09:05+08:00"    # the policy-briefing day, 09:00 has passed


@pytest.fixture
def demo(tmp_path):
    return demo_copy(tmp_path)


def briefings(box):
    return [m for m in box.messages if "月度通报" in str(m["Subject"])]


def test_briefing_arrives_with_the_html_body_and_each_report_as_a_valid_workbook(demo):
    from python_calamine import CalamineWorkbook

    with Mailbox() as box, Robot() as robot:
        env = {"KQ_SMTP_URL": smtp_url(box.port), "KQ_WEBHOOK_URL": robot.url}
        r = run_kq("jobs", "run", "monthly-briefing", "--now", FIRST_OF_DECEMBER, db=demo, env=env)
        assert r.returncode == 0, r
    mails = briefings(box)
    specialists = sqlite3.connect(demo).execute(
        "SELECT count(*) FROM specialists WHERE active = 1 AND email IS NOT NULL AND email != ''").fetchone()[0]
    assert len(mails) == specialists > 1                      # recipients = ["specialists"]
    mail = mails[0]
    assert mail["Subject"] == "【月度通报】2026年11月企业服务与信用情况"
    html = mail.get_body(("html",)).get_content()
    assert html.count("<svg") == 7 and "走访覆盖率(按服务专员)" in html and "红黑名单规模变化" in html
    assert "按时反馈率(按承办部门)" in html
    assert "http:" not in html and "<script" not in html.lower()
    text = mail.get_body(("plain",)).get_content()
    assert "2026年度服务专员走访覆盖报告" in text and "<svg" not in text
    files = {a.get_filename(): a.get_content() for a in mail.iter_attachments()}
    latest = sqlite3.connect(demo).execute("SELECT max(version) FROM list_versions").fetchone()[0]
    assert set(files) == {"2026年度服务专员走访覆盖报告.xlsx", f"信用红黑名单报告(第{latest}版).xlsx",
                          "2026年度企业诉求办理情况报告.xlsx"}
    for name, content in files.items():
        book = CalamineWorkbook.from_filelike(io.BytesIO(content))
        assert book.sheet_names[0] == "汇总", name
        detail = book.get_sheet_by_name(book.sheet_names[1]).to_python()
        assert detail[0] and (len(detail) > 1 or "诉求" in name), name     # the demo's requests are of 2025
    # the visits report covers the month just ended: November, as of 30 November
    visits = CalamineWorkbook.from_filelike(io.BytesIO(files["2026年度服务专员走访覆盖报告.xlsx"]))
    facts = {row[0]: row[1] for row in visits.get_sheet_by_name("汇总").to_python()[3:10]}
    assert str(facts["统计截至"])[:10] == "2026-11-30"
    # the robot: one text message, no HTML, no files
    posts = [p for _, p in robot.posts if "月度通报" in p["text"]["content"]]
    assert len(posts) == 1 and "<" not in posts[0]["text"]["content"]
    assert "走访覆盖" in posts[0]["text"]["content"]


def test_each_workbook_is_stored_once_whatever_the_number_of_recipients(demo):
    r = run_kq("jobs", "run", "monthly-briefing", "--now", FIRST_OF_DECEMBER, "--no-deliver", db=demo)
    assert r.returncode == 0, r
    conn = sqlite3.connect(demo)
    emails = conn.execute("SELECT count(*) FROM outbox WHERE job_id = 'monthly-briefing' AND channel = 'email' "
                          "AND status = 'pending'").fetchone()[0]
    assert emails > 1
    assert conn.execute("SELECT count(*) FROM attachment_blobs").fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM outbox_attachments a JOIN outbox o ON o.id = a.outbox_id "
                        "WHERE o.job_id = 'monthly-briefing'").fetchone()[0] == 3 * emails
    webhook = conn.execute("SELECT body_html, (SELECT count(*) FROM outbox_attachments WHERE outbox_id = o.id) "
                           "FROM outbox o WHERE job_id = 'monthly-briefing' AND channel = 'webhook'").fetchall()
    assert webhook == [(None, 0)]


def test_a_report_that_cannot_be_made_is_left_out_and_said(demo):
    conn = sqlite3.connect(demo)
    for table in ("list_changes", "list_entries", "list_versions"):
        conn.execute(f"DELETE FROM {table}")
    conn.commit()
    conn.close()
    with Mailbox() as box:
        r = run_kq("jobs", "run", "monthly-briefing", "--now", FIRST_OF_DECEMBER, db=demo,
                   env={"KQ_SMTP_URL": smtp_url(box.port)})
        assert r.returncode == 0, r
    mail = briefings(box)[0]
    assert [a.get_filename() for a in mail.iter_attachments()] == ["2026年度服务专员走访覆盖报告.xlsx",
                                                                 "2026年度企业诉求办理情况报告.xlsx"]
    assert "lists 报告未生成" in mail.get_body(("plain",)).get_content()
