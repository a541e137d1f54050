"""Every user-visible string of the reports, in one table, through kq's catalog.

Code refers to a string by its key (``L("score.title", year=…)``), never by its text. The table holds
the English text (marked with ``N_``); the Chinese is in kq's gettext catalog
(``kqtools/locale/zh_CN/LC_MESSAGES/kqtools.po``) like every other message, and :func:`label`
gives the text in the language of the reports. Reports are read by section chiefs and district
leaders: :func:`language` makes them in Chinese unless English was asked for (``--lang en``,
``KQ_LANG=en``). Machine output (the CLI's summary record) keeps the canonical
English field names and is not in this table.

Standard library only (plus :mod:`kqtools.i18n`).
"""
from __future__ import annotations

from .. import i18n
from ..i18n import N_

LABELS: dict[str, str] = {
    # ------------------------------------------------------------------ sheet names (≤ 31 characters)
    "sheet.summary": N_("Summary"),
    "sheet.score_results": N_("Evaluation results"),
    "sheet.public_list": N_("Public list"),
    "sheet.class_t": N_("Class T (not graded)"),
    "sheet.whitelist": N_("Whitelist"),
    "sheet.blacklist": N_("Blacklist"),
    "sheet.changes": N_("Changes in this version"),
    "sheet.versions": N_("All versions"),
    "sheet.coverage_specialist": N_("By specialist"),
    "sheet.coverage_district": N_("By district"),
    "sheet.visits_due": N_("Firms not yet visited"),
    "sheet.requests": N_("Requests in detail"),
    "sheet.ladder_status": N_("Ladder by district"),
    "sheet.cultivation_classes": N_("Firms by cultivation class"),
    "sheet.targets_by_district": N_("Targets by district"),

    # ------------------------------------------------------------------ report titles and key figures
    "score.title": N_("Resource-utilization evaluation report {year}"),
    "score.subtitle": N_("Scoring run {run}, rules {rules}, computed {created_at}"),
    "lists.title": N_("Credit whitelist and blacklist report (version {version})"),
    "lists.subtitle": N_("As of {as_of}, built {built_at}, rules {rules}"),
    "visits.title": N_("Service specialists' visit coverage report {year}"),
    "visits.subtitle": N_("As of {as_of}; yearly coverage goal {goal}"),
    "requests.title": N_("Firm requests report {year}"),
    "requests.subtitle": N_("As of {as_of}, counted in the year they were received; working days by the holiday "
                            "calendar of the rule file"),
    "ladder.title": N_("Growth ladder report ({date})"),
    "ladder.subtitle": N_("Movement since {since}; rules {rules}"),
    "targets.title": N_("Targets progress report ({date})"),
    "targets.subtitle": N_("Expected = baseline + (target − baseline) × time gone ÷ years of the plan, on a "
                           "straight line from the end of the baseline year to the end of the target year"),
    "briefing.title": N_("Monthly briefing: firm services and credit ({date})"),
    "briefing.subject": N_("[Monthly briefing] Firm services and credit, {year}-{month}"),
    "briefing.intro": N_("To all divisions and affiliated units: the visits of the service specialists, the "
                         "credit whitelist and blacklist and the handling of firm requests as of {date} are "
                         "reported below; the details are in the attached Excel files."),
    "briefing.left_out": N_("{name} report not made: {reason}"),
    "briefing.text_more": N_("(charts and details in the e-mail body and the attachments)"),
    "report.generated": N_("made by kqtools at {now}"),
    "report.summary_tables": N_("Summary tables"),
    "report.rows_more": N_("… {n} rows in all, the first {shown} shown; every row is in the attached Excel file."),
    "report.no_data": N_("(no data)"),

    "fact.year": N_("Evaluation year"),
    "fact.run": N_("Scoring run"),
    "fact.rules": N_("Evaluation rules"),
    "fact.firms": N_("Firms evaluated"),
    "fact.graded": N_("Firms graded"),
    "fact.class_t": N_("Class T firms (not graded)"),
    "fact.grade_count": N_("Class {grade} firms"),
    "fact.version": N_("List version"),
    "fact.as_of": N_("As of"),
    "fact.whitelist": N_("Whitelisted firms"),
    "fact.blacklist": N_("Blacklisted firms"),
    "fact.entered": N_("Entered in this version"),
    "fact.left": N_("Left in this version"),
    "fact.visits_as_of": N_("Counted to"),
    "fact.served": N_("Firms served"),
    "fact.visited": N_("Visited this year"),
    "fact.share": N_("Coverage"),
    "fact.goal": N_("Yearly goal"),
    "fact.specialists_met": N_("Specialists on target"),
    "fact.due": N_("Firms not yet visited this period"),
    "fact.report_year": N_("Year"),
    "fact.requests_received": N_("Requests received"),
    "fact.requests_closed": N_("Closed"),
    "fact.requests_open": N_("Open"),
    "fact.requests_overdue": N_("Overdue without an answer"),
    "fact.on_time_rate": N_("Answered on time"),
    "fact.satisfied_rate": N_("Satisfied on return visit"),
    "fact.days_to_close": N_("Average working days to close"),
    "fact.compared_with": N_("Compared with"),
    "fact.on_ladder": N_("{ladder}: firms on the ladder"),
    "fact.at_risk": N_("Expiring within 180 days, no renewal"),
    "fact.targets": N_("Targets set"),
    "fact.pace_ahead": N_("Targets ahead of pace"),
    "fact.pace_on_pace": N_("Targets on pace"),
    "fact.pace_behind": N_("Targets behind pace"),

    # ------------------------------------------------------------------ summary tables and charts
    "table.grades_by_district": N_("Grades by district"),
    "table.grade_shares": N_("Shares of the grades"),
    "table.score_histogram": N_("Distribution of scores (graded firms)"),
    "table.list_sizes": N_("List sizes over the versions"),
    "table.entries_by_reason": N_("Entries by reason"),
    "table.coverage_specialist": N_("Visit coverage by specialist"),
    "table.coverage_district": N_("Visit coverage by district"),
    "chart.grades_by_district": N_("Grades by district (firms)"),
    "chart.grade_shares": N_("Shares of the grades"),
    "chart.score_histogram": N_("Distribution of scores (firms)"),
    "chart.list_sizes": N_("Whitelist and blacklist sizes (firms)"),
    "chart.entries_by_reason": N_("Entries by reason (firms)"),
    "chart.coverage_specialist": N_("Visit coverage by specialist"),
    "chart.coverage_district": N_("Visit coverage by district"),
    "table.requests_by_status": N_("Requests by status"),
    "table.requests_by_category": N_("Requests by category"),
    "table.requests_by_department": N_("Answered on time by department"),
    "chart.requests_by_status": N_("Requests by status (count)"),
    "chart.requests_by_category": N_("Requests by category (count)"),
    "chart.requests_by_department": N_("Answered on time by department"),
    "table.ladder_by_district": N_("{ladder}: firms per tier by district"),
    "chart.ladder_by_district": N_("{ladder}: firms per tier (firms)"),
    "table.ladder_movement": N_("Movement per tier since {since}"),
    "chart.ladder_movement": N_("Movement per tier (firms)"),
    "table.cultivation_classes": N_("Cultivation classes"),
    "chart.cultivation_classes": N_("Cultivation classes (firms)"),
    "table.targets_progress": N_("Targets: where they stand"),
    "chart.targets_progress": N_("Current, target and expected on the straight line (firms)"),
    "table.targets_pace": N_("Gap and pace"),
    "note.ladder_movement": N_("New: on no tier of the ladder a year earlier; promoted: on a lower tier a year "
                               "earlier; lost: at the tier a year earlier, now expired or revoked without renewal; "
                               "at risk: in force, expiring within 180 days with no renewal recorded."),
    "note.cultivation_classes": N_("Class 1: national or provincial 专精特新; class 2: city or district 专精特新; "
                                   "class 3: the cultivation pool."),
    "note.targets_line": N_("Expected: the value on the date of the straight line from the end of the baseline "
                            "year to the end of the target year; within one firm of it is on pace."),
    "note.on_time": N_("Answered on time = requests first answered within their due date ÷ requests answered or "
                       "overdue; requests neither due nor answered yet are not counted."),
    "note.versions_cut": N_("Only the latest {n} versions are listed."),
    "note.class_t": N_("Class T firms (utilities, firms in production for less than two years, firms the rule "
                       "file names) are not evaluated and not on the public list; they are listed on a sheet of "
                       "their own."),
    "note.histogram": N_("Score bins include their lower bound and exclude their upper one, except the last; the "
                         "groups have different indicators, so scores compare only within a group."),
    "note.coverage": N_("Coverage = firms served that were visited during the year ÷ firms served; the goal is "
                        "the yearly coverage required."),

    # ------------------------------------------------------------------ column headers
    "col.district": N_("District"),
    "col.grade": N_("Grade"),
    "col.grade_by_rank": N_("Grade by rank"),
    "col.total": N_("Total"),
    "col.firms": N_("Firms"),
    "col.share": N_("Share"),
    "col.bin": N_("Score bin"),
    "col.seq": N_("No."),
    "col.rank": N_("Rank"),
    "col.name": N_("Firm"),
    "col.uscc": N_("Unified social credit code"),
    "col.group": N_("Group"),
    "col.base_score": N_("Base score"),
    "col.bonus_points": N_("Bonus"),
    "col.score": N_("Score"),
    "col.remark": N_("Remark"),
    "col.reason": N_("Reason"),
    "col.version": N_("Version"),
    "col.as_of": N_("As of"),
    "col.whitelist": N_("Whitelist"),
    "col.blacklist": N_("Blacklist"),
    "col.entered": N_("Entered"),
    "col.left": N_("Left"),
    "col.list": N_("List"),
    "col.since": N_("Listed since"),
    "col.until": N_("Expected to leave"),
    "col.reasons": N_("Grounds"),
    "col.change": N_("Change"),
    "col.specialist": N_("Specialist"),
    "col.specialist_id": N_("Staff id"),
    "col.served": N_("Firms served"),
    "col.visited": N_("Visited"),
    "col.coverage": N_("Coverage"),
    "col.goal": N_("Goal"),
    "col.met": N_("On target"),
    "col.short_by": N_("Still to visit"),
    "col.due": N_("Not yet visited this period"),
    "col.last_visited_on": N_("Last visited on"),
    "col.days_since": N_("Days since the last visit"),
    "col.period_ends_on": N_("Period ends on"),
    "col.status": N_("Status"),
    "col.requests": N_("Requests"),
    "col.category": N_("Category"),
    "col.department": N_("Department"),
    "col.received": N_("Received"),
    "col.closed": N_("Closed"),
    "col.open": N_("Open"),
    "col.overdue": N_("Overdue"),
    "col.on_time_rate": N_("Answered on time"),
    "col.satisfied_rate": N_("Satisfied"),
    "col.request_id": N_("Request no."),
    "col.external_id": N_("Ticket no."),
    "col.priority": N_("Priority"),
    "col.received_on": N_("Received on"),
    "col.due_on": N_("Due on"),
    "col.days_overdue": N_("Working days overdue"),
    "col.summary": N_("Request"),
    "col.ladder": N_("Ladder"),
    "col.tier": N_("Tier"),
    "col.class": N_("Cultivation class"),
    "col.recognized_on": N_("Recognized on"),
    "col.expires_on": N_("Valid until"),
    "col.move_count": N_("Firms now"),
    "col.move_previous": N_("A year earlier"),
    "col.move_new": N_("New on the ladder"),
    "col.move_promoted": N_("Promoted"),
    "col.move_demoted": N_("Demoted"),
    "col.move_lost": N_("Lost"),
    "col.move_moved_up": N_("Moved to a higher tier"),
    "col.move_at_risk": N_("At risk"),
    "col.target_name": N_("Target (tier, year)"),
    "col.baseline": N_("Baseline count"),
    "col.current": N_("Current count"),
    "col.target": N_("Target count"),
    "col.expected": N_("Expected on the line"),
    "col.baseline_year": N_("Baseline year"),
    "col.target_year": N_("Target year"),
    "col.gap": N_("Gap to target"),
    "col.needed_per_year": N_("Needed per year"),
    "col.years_left": N_("Years left"),
    "col.pace": N_("Pace"),

    # ------------------------------------------------------------------ values
    "unit.firms": N_("firms"),
    "value.yes": N_("yes"),
    "value.no": N_("no"),
    "value.entered": N_("entered"),
    "value.left": N_("left"),
    "value.unknown_district": N_("(no district)"),
    "value.unassigned": N_("(no specialist)"),
    "value.open": N_("open-ended"),
    "status.received": N_("received"),
    "status.routed": N_("routed"),
    "status.in_progress": N_("in progress"),
    "status.answered": N_("answered"),
    "status.revisited": N_("revisited"),
    "status.closed": N_("closed"),
    "priority.normal": N_("normal"),
    "priority.urgent": N_("urgent"),
    "priority.major": N_("major"),
    "value.none": N_("(not given)"),
    "pace.ahead": N_("ahead"),
    "pace.on_pace": N_("on pace"),
    "pace.behind": N_("behind"),
    "ladder.tech": N_("Tech firms"),
    "ladder.zjtx": N_("专精特新 SMEs"),
    "group.above": N_("Above designated size"),
    "group.below": N_("Below designated size"),
    "grade.T": N_("T (not graded)"),
    "list.whitelist": N_("Whitelist"),
    "list.blacklist": N_("Blacklist"),
    "remark.bonus": N_("bonus: {text}"),
    "remark.veto": N_("veto: {text}"),
    "remark.not_graded": N_("not graded: {text}"),

    # reasons of list entries (rule ids of the shipped rules and the built-in ones); a rule not named
    # here is shown by its title in the version's rule file
    "reason.tax_rating": N_("tax rating A"),
    "reason.designation": N_("designation in force"),
    "reason.override_add": N_("added by hand"),
    "reason.override_remove": N_("removed by hand"),
    "reason.override_ended": N_("manual decision expired"),
    "reason.window_ended": N_("term ended"),
    "reason.no_longer_qualifies": N_("no longer qualifies"),
    "reason.records_changed": N_("records changed"),
    "reason.not_on_list": N_("not on the list"),
    "reason.tax_d": N_("tax rating D"),
    "reason.tax_d_direct": N_("tax rating D (assigned directly)"),
    "reason.tax_d_score": N_("tax rating D (by score)"),
    "reason.dishonest_debtor": N_("dishonest debtor"),
    "reason.serious_violation": N_("serious violation list"),
    "reason.penalty_serious": N_("administrative penalty (serious)"),
    "reason.penalty_general": N_("administrative penalty (general)"),
    "reason.research_misconduct": N_("research misconduct"),
    "reason.abnormal_operation": N_("abnormal operation list"),
    "reason.commendation": N_("commendation for keeping faith"),
    "kind.zjtx": N_("specialized and innovative (zjtx)"),
    "kind.hte": N_("high-tech enterprise"),
    "kind.tsme": N_("tech-based SME"),
    "kind.tass": N_("advanced technology service enterprise"),
    "kind.gazelle": N_("gazelle enterprise"),
    "kind.unicorn": N_("unicorn"),
    "kind.potential_unicorn": N_("potential unicorn"),
    "kind.innovative_sme": N_("innovative SME"),
    "level.national": N_("national "),
    "level.provincial": N_("provincial "),
    "level.city": N_("city "),
    "level.district": N_("district "),
    "reason.from_to": N_("{what} from {start} to {end}"),
    "reason.from_open": N_("{what} from {start}"),
    "reason.tax_years": N_("tax rating {years}"),
    "reason.designations": N_("designations {items}"),
    "reason.override": N_("{what} (#{id}): {reason}"),
}


def language() -> str:
    """The language of the reports: the one the user asked for (``--lang``, ``$KQ_LANG``), else
    Chinese — reports are for section chiefs and district leaders, whatever the locale of the
    terminal or of the cron job that makes them. (Messages of the command stay in its language.)"""
    return i18n.current() if i18n.chosen() else "zh"


def label(key: str, **values) -> str:
    """The text for ``key`` in the language of the reports, with ``{name}`` fields filled in; a
    missing key is a bug, not a user error."""
    text = i18n.gettext_in(language(), LABELS[key])
    return text.format(**values) if values else text


def optional(key: str, default: str) -> str:
    """The text for ``key`` if the table has one, else ``default`` (rule ids, group ids, grades)."""
    text = LABELS.get(key)
    return default if text is None else i18n.gettext_in(language(), text)
