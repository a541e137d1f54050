"""Firm requests: statistics, the high-frequency lists, and the reminder messages.

Standard library only; rows are plain dicts read by :mod:`kqtools.storage.request_views`, working
days come from a :class:`kqtools.workdays.WorkdayIndex` passed in.

Statistics (``kq requests stats``), per key, over the requests received in the period:

* ``received``: requests received; ``closed``: of them, closed (销号); ``open``: the rest;
* ``overdue``: open and still with the department (routed / in progress) past their due date on the
  day looked at;
* ``on_time_rate``: first answers on or before the due date in force then, over the requests whose
  deadline has been decided: answered, or still unanswered past their due date (a department that
  never answers does not look punctual);
* ``avg_working_days_to_close``: working days from the day received to the day closed, mean over the
  closed ones (one decimal);
* ``satisfied_rate``: return visits answered 满意 or 基本满意, over the requests with a return visit
  (the latest one counts);
* ``reopened``: requests sent back at least once (an unsatisfied return visit or ``reopen``).

Rates are fractions rounded to four decimals, ``None`` where there is nothing to divide by.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable

from .requests import SATISFIED, WITH_DEPARTMENT, RequestRules

STATS_COLUMNS = ["key", "received", "closed", "open", "overdue", "on_time_rate", "avg_working_days_to_close",
                 "satisfied_rate", "reopened"]
TOTAL_KEY = "(all)"
NONE_KEY = "(none)"


def _rate(num: int, den: int):
    return round(num / den, 4) if den else None


class _Tally:
    __slots__ = ("received", "closed", "overdue", "on_time", "late", "close_days", "revisited", "satisfied",
                 "reopened")

    def __init__(self):
        self.received = self.closed = self.overdue = self.on_time = self.late = 0
        self.close_days = []
        self.revisited = self.satisfied = self.reopened = 0

    def row(self, key) -> dict:
        days = self.close_days
        return {"key": key, "received": self.received, "closed": self.closed, "open": self.received - self.closed,
                "overdue": self.overdue, "on_time_rate": _rate(self.on_time, self.on_time + self.late),
                "avg_working_days_to_close": round(sum(days) / len(days), 1) if days else None,
                "satisfied_rate": _rate(self.satisfied, self.revisited), "reopened": self.reopened}


def stats(rows: Iterable[dict], as_of: dt.date, index, key_of: Callable[[dict], object] | None = None) -> list[dict]:
    """One row per key (sorted; ``(none)`` last) and a last ``(all)`` row; only ``(all)`` without ``key_of``.

    Each row of ``rows`` has status, received_on, due_on, first_answered_on, first_answer_late, closed_on,
    satisfaction, reopened. ``index`` counts working days (it must span received_on..closed_on of the
    closed rows).
    """
    day = as_of.isoformat()
    groups: dict = {}
    total = _Tally()
    for r in rows:
        tallies = [total]
        if key_of is not None:
            key = key_of(r)
            key = NONE_KEY if key in (None, "") else key
            t = groups.get(key)
            if t is None:
                t = groups[key] = _Tally()
            tallies.append(t)
        status, due = r["status"], r["due_on"]
        closed = status == "closed"
        overdue = status in WITH_DEPARTMENT and due is not None and due < day
        if r["first_answered_on"] is not None:
            late = bool(r["first_answer_late"])
            on_time = not late
        else:
            late, on_time = overdue, False
        close_days = index.count_iso(r["received_on"], r["closed_on"]) if closed and r["closed_on"] else None
        sat = r["satisfaction"]
        for t in tallies:
            t.received += 1
            t.closed += closed
            t.overdue += overdue
            t.on_time += on_time
            t.late += late
            if close_days is not None:
                t.close_days.append(close_days)
            if sat is not None:
                t.revisited += 1
                t.satisfied += sat in SATISFIED
            t.reopened += r["reopened"] > 0
    out = [groups[k].row(k) for k in sorted(groups, key=lambda k: (k == NONE_KEY, str(k)))]
    out.append(total.row(TOTAL_KEY))
    return out


TOP_COLUMNS = ["list", "rank", "key", "name", "requests", "open", "firms", "share"]


def top(rows: Iterable[dict], limit: int = 10) -> list[dict]:
    """The high-frequency categories (requests, firms concerned, share of all requests; seed 000 五.4:
    solve one problem to solve a class of them) and the firms with the most open requests.

    ``rows``: category (resolved), category_known, uscc, name, status. Ties: more firms first, then the key.
    """
    cats: dict = {}
    firms: dict = {}
    n = 0
    for r in rows:
        n += 1
        c = cats.setdefault(r["category"], {"requests": 0, "open": 0, "firms": set(), "known": r["category_known"]})
        c["requests"] += 1
        c["firms"].add(r["uscc"])
        is_open = r["status"] != "closed"
        c["open"] += is_open
        f = firms.setdefault(r["uscc"], {"requests": 0, "open": 0, "name": r["name"]})
        f["requests"] += 1
        f["open"] += is_open
        if not f["name"] and r["name"]:
            f["name"] = r["name"]
    out = []
    ranked = sorted(cats.items(), key=lambda kv: (-kv[1]["requests"], -len(kv[1]["firms"]), kv[0]))
    for i, (cat, c) in enumerate(ranked[:limit], 1):
        out.append({"list": "category", "rank": i, "key": cat,
                    "name": None if c["known"] else "not a category of the rules",
                    "requests": c["requests"], "open": c["open"], "firms": len(c["firms"]),
                    "share": _rate(c["requests"], n)})
    ranked_firms = sorted(((u, f) for u, f in firms.items() if f["open"]),
                          key=lambda kv: (-kv[1]["open"], -kv[1]["requests"], kv[0]))
    for i, (uscc, f) in enumerate(ranked_firms[:limit], 1):
        out.append({"list": "firm", "rank": i, "key": uscc, "name": f["name"], "requests": f["requests"],
                    "open": f["open"], "firms": 1, "share": _rate(f["requests"], n)})
    return out


# ---------------------------------------------------------------- reminder messages
# Built as kqtools.reminders.Message / Recipient by the job actions (kqtools.storage.request_jobs);
# here only the text, as (key, subject, body, recipients) so this module needs nothing but the rules.

def _line(i: int, r: dict, rules: RequestRules) -> str:
    firm = r.get("name") or r["uscc"]
    when = (f"逾期 {r['days_overdue']} 个工作日(应于 {r['due_on']} 前反馈)" if r.get("days_overdue") is not None
            else f"应于 {r['due_on']} 前反馈")
    role = "" if r.get("role", "lead") == "lead" else "【协办】"
    level = r.get("level") or 1
    lv = f",已提级至第 {level} 级({rules.level_title(level)})" if level > 1 else ""
    return f"{i}. {role}#{r['id']} {firm}({r['uscc']})[{r['category']}] {r['summary']}:{when}{lv}"


def due_texts(rows: Iterable[dict], as_of: dt.date, rules: RequestRules) -> list[tuple]:
    """requests-due: one text per department (its overdue requests, then those due within the rules'
    working days; lead and co-department alike) and one per escalation level >= 2 with recipients.

    ``rows``: id, uscc, name, category, summary, due_on, days_overdue (None = not yet due), level,
    department, co_departments. Returns (key, subject, body, recipients) where recipients are
    (id, name, email or None) triples; a department without an address gets one with None, so the
    outbox shows it as undeliverable instead of dropping it.
    """
    rows = sorted(rows, key=lambda r: (r["due_on"], r["id"]))
    by_department: dict = {}
    for r in rows:
        by_department.setdefault(r["department"] or "", []).append({**r, "role": "lead"})
        for d in r.get("co_departments") or ():
            by_department.setdefault(d, []).append({**r, "role": "co"})
    texts = []
    for dept in sorted(by_department):
        items = by_department[dept]
        if not dept:
            continue
        late = [r for r in items if r.get("days_overdue") is not None]
        soon = [r for r in items if r.get("days_overdue") is None]
        lines = [f"{dept}:", "", f"截至 {as_of.isoformat()},贵单位承办的企业诉求中:"]
        if late:
            lines.append(f"已逾期 {len(late)} 件:")
            lines += [_line(i, r, rules) for i, r in enumerate(late, 1)]
        if soon:
            lines.append(f"{rules.due_within} 个工作日内到期 {len(soon)} 件:")
            lines += [_line(i, r, rules) for i, r in enumerate(soon, 1)]
        lines += ["", "请在期限内办理并反馈(kq requests answer),无法解决的请说明原因(--unsolvable)。"]
        addresses = rules.departments.get(dept, ())
        to = tuple((dept, dept, a) for a in addresses) or ((dept, dept, None),)
        texts.append((f"requests-due:{dept}",
                      f"【诉求办理提醒】{dept}:逾期 {len(late)} 件,{rules.due_within} 个工作日内到期 {len(soon)} 件",
                      "\n".join(lines), to))
    for level in sorted(rules.levels):
        lv = rules.levels[level]
        items = [r for r in rows if level >= 2 and (r.get("level") or 1) == level]
        if not items or not lv.recipients:
            continue
        late = sum(1 for r in items if r.get("days_overdue") is not None)
        lines = [f"{lv.title}:", "", f"截至 {as_of.isoformat()},以下 {len(items)} 件企业诉求已提级至第 {level} 级"
                 f"(逾期 {late} 件),请协调解决:"]
        lines += [_line(i, r, rules) + f",承办部门 {r['department']}" for i, r in enumerate(items, 1)]
        texts.append((f"requests-level:{level}", f"【诉求提级提醒】{lv.title}:{len(items)} 件(逾期 {late} 件)",
                      "\n".join(lines), tuple((name, name, email) for name, email in lv.recipients)))
    return texts


def revisit_texts(rows: Iterable[dict], as_of: dt.date, rules: RequestRules) -> list[tuple]:
    """requests-revisit: one text per specialist listing their firms' answered requests waiting more
    than the rules' days for a return visit (回访). Requests of firms without a specialist go to the
    reporter, else to the coordinating department.

    ``rows``: id, uscc, name, category, summary, answered_on, department, unsolvable, specialist_id,
    specialist_name, specialist_email, reporter_id, reporter_name, reporter_email.
    """
    groups: dict = {}
    for r in rows:
        if r.get("specialist_id"):
            who = (r["specialist_id"], r.get("specialist_name") or r["specialist_id"], r.get("specialist_email"))
        elif r.get("reporter_id"):
            who = (r["reporter_id"], r.get("reporter_name") or r["reporter_id"], r.get("reporter_email"))
        else:
            who = None
        groups.setdefault(who, []).append(r)
    texts = []
    for who in sorted(groups, key=lambda w: (w is None, w or ())):
        items = sorted(groups[who], key=lambda r: (r["answered_on"], r["id"]))
        if who is None:
            dept = rules.coordinating_department
            to = tuple((dept, dept, a) for a in rules.departments.get(dept, ())) or ((dept, dept, None),)
            head, key = f"{dept}:以下企业没有服务专员,", f"requests-revisit:{dept}"
            name = dept
        else:
            to, head, key, name = (who,), f"{who[1]}您好:", f"requests-revisit:{who[0]}", who[1]
        lines = [head, "", f"截至 {as_of.isoformat()},以下 {len(items)} 件企业诉求已反馈超过 {rules.revisit_after_days} 天,"
                           "尚未回访,请回访企业并登记满意度(kq requests revisit ID --satisfaction 满意|基本满意|不满意):"]
        for i, r in enumerate(items, 1):
            waited = (as_of - dt.date.fromisoformat(r["answered_on"][:10])).days
            kind = "(无法解决,已说明)" if r.get("unsolvable") else ""
            lines.append(f"{i}. #{r['id']} {r.get('name') or r['uscc']}({r['uscc']})[{r['category']}] "
                         f"{r['summary']}:{r['department']} 于 {r['answered_on'][:10]} 反馈{kind},已等待 {waited} 天")
        texts.append((key, f"【诉求回访提醒】{name}:{len(items)} 件诉求待回访", "\n".join(lines), to))
    return texts
