"""`kq requests stats` and `top` on a ledger of 20 requests whose figures were worked out by hand.

Every request is walked through the real services with dated steps. Working days to close are
counted by hand below (2026: Qingming 4/4-4/6, Labour Day 5/1-5/5 with Saturday 5/9 worked, Spring
Festival 2/15-2/23 with Saturday 2/14 worked, New Year 1/1-1/3 with Sunday 1/4 worked).
"""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import import_rows

from kqtools.storage import request_views as V
from kqtools.storage import requests as S

D = dt.date.fromisoformat
FIRM, FIRM2, FIRM3 = "91320412RQ000001X9", "91320412RQ00000289", "91320412RQ00000364"
AS_OF = "2026-06-30"

# name, firm, category, received, due, steps: (step, date[, satisfaction | 'unsolvable'])
LEDGER = [
    # 融资 -> 区金融监管局
    ("F1", FIRM, "融资", "2026-03-02", "2026-03-13", [("answer", "03-10"), ("revisit", "03-11", "满意"), ("close", "03-11")]),
    ("F2", FIRM, "融资", "2026-03-02", "2026-03-06", [("answer", "03-09"), ("revisit", "03-10", "基本满意"),
                                                     ("close", "03-12")]),
    ("F3", FIRM2, "融资", "2026-03-16", "2026-03-20", [("answer", "03-19"), ("revisit", "03-23", "不满意"),
                                                      ("answer", "04-03"), ("revisit", "04-08", "满意"), ("close", "04-08")]),
    ("F4", FIRM2, "融资", "2026-04-01", "2026-04-10", [("answer", "04-10"), ("revisit", "04-13", "满意")]),
    ("F5", FIRM3, "融资", "2026-05-06", "2026-05-15", []),
    ("F6", FIRM3, "融资", "2026-06-22", "2026-07-03", []),
    ("F7", FIRM3, "融资", "2026-06-29", None, []),                                 # received, not routed
    ("F8", FIRM, "融资", "2025-12-15", "2025-12-26", [("answer", "2025-12-24"), ("revisit", "2025-12-29", "满意"),
                                                     ("close", "2026-01-05")]),    # received the year before
    # 人才 -> 区委人才办
    ("T1", FIRM, "人才", "2026-03-03", "2026-03-17", [("answer", "03-17"), ("revisit", "03-18", "不满意"),
                                                     ("answer", "03-31"), ("revisit", "04-01", "基本满意"), ("close", "04-02")]),
    ("T2", FIRM2, "人才", "2026-04-27", "2026-05-08", [("answer", "05-11"), ("revisit", "05-12", "满意"), ("close", "05-12")]),
    ("T3", FIRM2, "人才", "2026-05-18", "2026-05-29", [("answer", "05-28", "unsolvable"), ("revisit", "06-01", "不满意"),
                                                      ("close", "06-01")]),
    ("T4", FIRM3, "人才", "2026-06-01", "2026-06-12", [("progress", "06-05")]),
    ("T5", FIRM3, "人才", "2026-06-15", "2026-06-26", [("answer", "06-25")]),
    ("T6", FIRM, "人才", "2026-01-05", "2026-01-16", [("answer", "01-20"), ("revisit", "01-21", "满意"), ("close", "01-21"),
                                                     ("reopen", "02-02"), ("answer", "02-13"), ("revisit", "02-25", "满意"),
                                                     ("close", "02-26")]),
    # 审批 -> 区行政审批局
    ("A1", FIRM, "审批", "2026-03-09", "2026-03-20", [("answer", "03-20"), ("revisit", "03-23", "满意"), ("close", "03-23")]),
    ("A2", FIRM2, "审批", "2026-03-09", "2026-03-13", [("answer", "03-16"), ("revisit", "03-17", "不满意")]),
    ("A3", FIRM2, "审批", "2026-04-13", "2026-04-24", [("answer", "04-24"), ("revisit", "04-27", "满意"), ("close", "04-28")]),
    ("A4", FIRM3, "审批", "2026-05-25", "2026-06-05", [("progress", "05-27")]),
    ("A5", FIRM3, "审批", "2026-06-08", "2026-06-19", [("answer", "06-19"), ("revisit", "06-22", "基本满意")]),
    ("A6", FIRM3, "审批", "2026-06-29", "2026-07-10", []),
]


def _day(text: str) -> dt.date:
    return D(text if len(text) == 10 else f"2026-{text}")


@pytest.fixture
def ledger(db):
    import_rows(db, "enterprises", [{"uscc": FIRM, "name": "甲", "district": "湖塘镇"},
                                    {"uscc": FIRM2, "name": "乙", "district": "牛塘镇"},
                                    {"uscc": FIRM3, "name": "丙", "district": "湖塘镇"}])
    ids, dues = {}, {}
    for name, uscc, category, received, due, steps in LEDGER:
        rid = S.add_request(db, uscc, category=category, summary=name, on=D(received), external_id=name)["id"]
        ids[name] = rid
        if due:
            S.route(db, rid, on=D(received), due=D(due), by="t")
        for step in steps:
            kind, on = step[0], _day(step[1])
            if kind == "answer":
                S.answer(db, rid, note="n", unsolvable=step[2:] == ("unsolvable",), on=on)
            elif kind == "progress":
                S.progress(db, rid, note="n", on=on)
            elif kind == "revisit":
                dues[name] = S.revisit(db, rid, satisfaction=step[2], on=on)["due_on"]
            elif kind == "reopen":
                dues[name] = S.reopen(db, rid, reason="复发", on=on)["due_on"]
            else:
                S.close(db, rid, on=on)
    return db, ids, dues


def test_sending_back_sets_new_due_dates_in_working_days(ledger):
    _, _, dues = ledger
    assert dues["F3"] == "2026-04-07"        # unsatisfied 3/23 + 10: 3/24-4/3 (9), Qingming 4/4-4/6 off, 4/7
    assert dues["T1"] == "2026-04-01"        # unsatisfied 3/18 + 10: 3/19-3/20, 3/23-3/27, 3/30-4/1
    assert dues["A2"] == "2026-03-31"        # unsatisfied 3/17 + 10: 3/18-3/20, 3/23-3/27, 3/30-3/31
    assert dues["T6"] == "2026-02-14"        # reopened 2/2 + 10: 2/3-2/6, 2/9-2/13, then Saturday 2/14 worked


def test_stats_by_category_for_a_year_match_the_hand_count(ledger):
    db, _, _ = ledger
    rows = {r["key"]: r for r in V.stats(db, year=2026, by="category", as_of=D(AS_OF)).rows}
    assert list(rows) == ["人才", "审批", "融资", "(all)"]
    # 融资: F8 was received in 2025. closed F1 F2 F3; overdue F5; first answers on time F1 F3 F4, late F2 and
    # F5 (unanswered, past due) -> 3/5; to close 7 (3/3-3/11), 8 (3/3-3/12), 16 (3/17-4/8 less Qingming) -> 10.3;
    # revisits F1 满意, F2 基本满意, F3 满意 (the latest), F4 满意 -> 4/4; reopened F3
    assert rows["融资"] == {"key": "融资", "received": 7, "closed": 3, "open": 4, "overdue": 1, "on_time_rate": 0.6,
                          "avg_working_days_to_close": 10.3, "satisfied_rate": 1.0, "reopened": 1}
    # 人才: closed T1 T2 T3 T6; overdue T4; on time T1 T3 T5, late T2 T4 T6 -> 0.5; to close T1 22, T2 9
    # (4/28-4/30, 5/6-5/8, Saturday 5/9, 5/11-5/12), T3 10, T6 33 (1/6-2/13, Saturday 2/14, 2/24-2/26) -> 18.5;
    # revisits T1 基本满意, T2 满意, T3 不满意, T6 满意 -> 3/4; reopened T1 T6
    assert rows["人才"] == {"key": "人才", "received": 6, "closed": 4, "open": 2, "overdue": 1, "on_time_rate": 0.5,
                          "avg_working_days_to_close": 18.5, "satisfied_rate": 0.75, "reopened": 2}
    # 审批: closed A1 A3; overdue A2 (sent back, due 3/31) and A4; on time A1 A3 A5, late A2 A4 -> 0.6;
    # to close A1 10, A3 11 -> 10.5; revisits A1 满意, A2 不满意, A3 满意, A5 基本满意 -> 3/4; reopened A2
    assert rows["审批"] == {"key": "审批", "received": 6, "closed": 2, "open": 4, "overdue": 2, "on_time_rate": 0.6,
                          "avg_working_days_to_close": 10.5, "satisfied_rate": 0.75, "reopened": 1}
    # all of 2026: 19 received, 9 closed, 4 overdue, on time 9 of 16, 126 working days / 9, 10 of 12 satisfied
    assert rows["(all)"] == {"key": "(all)", "received": 19, "closed": 9, "open": 10, "overdue": 4,
                             "on_time_rate": 0.5625, "avg_working_days_to_close": 14.0, "satisfied_rate": 0.8333,
                             "reopened": 4}


def test_stats_without_a_year_take_every_request(ledger):
    db, _, _ = ledger
    (total,) = V.stats(db, as_of=D(AS_OF)).rows
    # F8 joins: closed in 14 working days (12/16-12/31 is 12, Sunday 1/4 worked, 1/5), answered on time, 满意
    assert total == {"key": "(all)", "received": 20, "closed": 10, "open": 10, "overdue": 4, "on_time_rate": 0.5882,
                     "avg_working_days_to_close": 14.0, "satisfied_rate": 0.8462, "reopened": 4}


def test_stats_by_department_district_and_month_through_the_command_line(kq, ledger):
    by_dept = {r["key"]: r["received"] for r in
               kq("requests", "stats", "--year", "2026", "--by", "department", "--as-of", AS_OF).jsonl()}
    assert by_dept == {"区委人才办": 6, "区行政审批局": 6, "区金融监管局": 6, "(none)": 1, "(all)": 19}   # F7 not routed
    by_district = {r["key"]: (r["received"], r["overdue"]) for r in
                   kq("requests", "stats", "--year", "2026", "--by", "district", "--as-of", AS_OF).jsonl()}
    assert by_district == {"湖塘镇": (13, 3), "牛塘镇": (6, 1), "(all)": (19, 4)}   # 甲 and 丙; 乙
    months = {r["key"]: r["received"] for r in kq("requests", "stats", "--by", "month", "--as-of", AS_OF).jsonl()}
    assert months == {"2025-12": 1, "2026-01": 1, "2026-03": 6, "2026-04": 3, "2026-05": 3, "2026-06": 6, "(all)": 20}


def test_top_lists_the_frequent_categories_and_the_firms_with_most_open_requests(kq, ledger):
    rows = kq("requests", "top", "--year", "2026", "--limit", "2").jsonl()
    cats = [(r["rank"], r["key"], r["requests"], r["open"], r["firms"], r["share"]) for r in rows if r["list"] == "category"]
    # 融资 7 (3 firms), then 人才 and 审批 with 6 each and 3 firms: the name decides
    assert cats == [(1, "融资", 7, 4, 3, 0.3684), (2, "人才", 6, 2, 3, 0.3158)]
    firms = [(r["rank"], r["key"], r["open"], r["requests"]) for r in rows if r["list"] == "firm"]
    # open: 丙 F5 F6 F7 T4 T5 A4 A5 A6 = 8 of 8; 乙 F4 A2 = 2 of 6; 甲 none open
    assert firms == [(1, FIRM3, 8, 8), (2, FIRM2, 2, 6)]
