"""Every user-visible string of the reports, in one table (Chinese first: the readers are section
chiefs and district leaders).

Code refers to a string by its key (``L["score.title"]``), never by its text, so the i18n work can
route this one table through gettext (``_("…")`` around each value, or a catalog keyed by the key)
without touching the report code. Machine output (the CLI's summary record) keeps the canonical
English field names and is not in this table; error messages are kq's (English, like every other
command's) and are not either.

Standard library only.
"""
from __future__ import annotations

LABELS: dict[str, str] = {
    # ------------------------------------------------------------------ sheet names (≤ 31 characters)
    "sheet.summary": "汇总",
    "sheet.score_results": "评价结果",
    "sheet.public_list": "公示名单",
    "sheet.class_t": "T类企业(不参评)",
    "sheet.whitelist": "白名单",
    "sheet.blacklist": "黑名单",
    "sheet.changes": "本版变动",
    "sheet.versions": "历次版本",
    "sheet.coverage_specialist": "按服务专员",
    "sheet.coverage_district": "按区域",
    "sheet.visits_due": "本期未走访企业",

    # ------------------------------------------------------------------ report titles and key figures
    "score.title": "{year}年度亩均效益综合评价报告",
    "score.subtitle": "评价批次 {run},规则 {rules},计算于 {created_at}",
    "lists.title": "信用红黑名单报告(第{version}版)",
    "lists.subtitle": "基准日期 {as_of},生成于 {built_at},规则 {rules}",
    "visits.title": "{year}年度服务专员走访覆盖报告",
    "visits.subtitle": "截至 {as_of},年度走访覆盖目标 {goal}",
    "briefing.title": "月度通报:企业服务与信用情况({date})",
    "briefing.subject": "【月度通报】{year}年{month}月企业服务与信用情况",
    "briefing.intro": "各处室、直属单位:现将截至{date}的服务专员走访覆盖情况和信用红黑名单情况通报如下,"
                      "明细见附件 Excel。",
    "briefing.left_out": "{name} 报告未生成:{reason}",
    "briefing.text_more": "(图表与明细见邮件正文和附件)",
    "report.generated": "kqtools 生成于 {now}",
    "report.summary_tables": "汇总表",
    "report.rows_more": "……共 {n} 行,仅显示前 {shown} 行,完整明细见 Excel 附件。",
    "report.no_data": "(无数据)",

    "fact.year": "评价年度",
    "fact.run": "评价批次",
    "fact.rules": "评价规则",
    "fact.firms": "参评企业",
    "fact.graded": "已评级企业",
    "fact.class_t": "T类(不参评)企业",
    "fact.grade_count": "{grade}类企业",
    "fact.version": "名单版本",
    "fact.as_of": "基准日期",
    "fact.whitelist": "白名单企业",
    "fact.blacklist": "黑名单企业",
    "fact.entered": "本版新增",
    "fact.left": "本版移出",
    "fact.visits_as_of": "统计截至",
    "fact.served": "服务企业",
    "fact.visited": "年内已走访",
    "fact.share": "覆盖率",
    "fact.goal": "年度目标",
    "fact.specialists_met": "达标服务专员",
    "fact.due": "本期未走访企业",

    # ------------------------------------------------------------------ summary tables and charts
    "table.grades_by_district": "各区域评价等级分布",
    "table.grade_shares": "评价等级占比",
    "table.score_histogram": "得分分布(已评级企业)",
    "table.list_sizes": "名单规模变化",
    "table.entries_by_reason": "在榜企业按原因",
    "table.coverage_specialist": "走访覆盖率(按服务专员)",
    "table.coverage_district": "走访覆盖率(按区域)",
    "chart.grades_by_district": "各区域评价等级分布(家)",
    "chart.grade_shares": "评价等级占比",
    "chart.score_histogram": "得分分布(家)",
    "chart.list_sizes": "红黑名单规模变化(家)",
    "chart.entries_by_reason": "在榜企业按原因(家)",
    "chart.coverage_specialist": "走访覆盖率(按服务专员)",
    "chart.coverage_district": "走访覆盖率(按区域)",
    "note.versions_cut": "仅列最近 {n} 个版本。",
    "note.class_t": "T类企业(公用事业、投产不满两年、规则文件列明的企业等)不参加评价,不列入公示名单,另列一表。",
    "note.histogram": "得分区间左闭右开,最后一个区间含上限;各分组指标不同,得分只在组内可比。",
    "note.coverage": "覆盖率 = 年内已走访的服务企业 ÷ 服务企业;目标为年度覆盖率要求。",

    # ------------------------------------------------------------------ column headers
    "col.district": "所属区域",
    "col.grade": "评价等级",
    "col.grade_by_rank": "排名等级",
    "col.total": "合计",
    "col.firms": "企业数",
    "col.share": "占比",
    "col.bin": "得分区间",
    "col.seq": "序号",
    "col.rank": "排名",
    "col.name": "企业名称",
    "col.uscc": "统一社会信用代码",
    "col.group": "企业分组",
    "col.base_score": "基础得分",
    "col.bonus_points": "加分",
    "col.score": "综合得分",
    "col.remark": "说明",
    "col.reason": "原因",
    "col.version": "版本",
    "col.as_of": "基准日期",
    "col.whitelist": "白名单",
    "col.blacklist": "黑名单",
    "col.entered": "新增",
    "col.left": "移出",
    "col.list": "名单",
    "col.since": "列入日期",
    "col.until": "预计移出日期",
    "col.reasons": "列入依据",
    "col.change": "变动",
    "col.specialist": "服务专员",
    "col.specialist_id": "工号",
    "col.served": "服务企业",
    "col.visited": "已走访",
    "col.coverage": "覆盖率",
    "col.goal": "目标",
    "col.met": "是否达标",
    "col.short_by": "尚需走访",
    "col.due": "本期未走访",
    "col.last_visited_on": "最近走访日期",
    "col.days_since": "距上次走访(天)",
    "col.period_ends_on": "本期截止日期",

    # ------------------------------------------------------------------ values
    "unit.firms": "家",
    "value.yes": "是",
    "value.no": "否",
    "value.entered": "新增",
    "value.left": "移出",
    "value.unknown_district": "(未填区域)",
    "value.unassigned": "(无服务专员)",
    "value.open": "长期",
    "group.above": "规上企业",
    "group.below": "规下企业",
    "grade.T": "T(不参评)",
    "list.whitelist": "白名单",
    "list.blacklist": "黑名单",
    "remark.bonus": "加分:{text}",
    "remark.veto": "否决:{text}",
    "remark.not_graded": "不参评:{text}",

    # reasons of list entries (rule ids of the shipped rules and the built-in ones); a rule not named
    # here is shown by its title in the version's rule file
    "reason.tax_rating": "纳税信用A级",
    "reason.designation": "有效资质",
    "reason.override_add": "人工列入",
    "reason.override_remove": "人工移出",
    "reason.override_ended": "人工调整到期",
    "reason.window_ended": "期限届满",
    "reason.no_longer_qualifies": "不再符合条件",
    "reason.records_changed": "记录变更",
    "reason.not_on_list": "不在名单",
    "reason.tax_d": "纳税信用D级",
    "reason.tax_d_direct": "纳税信用D级(直接判级)",
    "reason.tax_d_score": "纳税信用D级(评分)",
    "reason.dishonest_debtor": "失信被执行人",
    "reason.serious_violation": "严重违法失信名单",
    "reason.penalty_serious": "行政处罚(严重)",
    "reason.penalty_general": "行政处罚(一般)",
    "reason.research_misconduct": "科研失信",
    "reason.abnormal_operation": "经营异常名录",
    "reason.commendation": "守信表彰",
    "kind.zjtx": "专精特新",
    "kind.hte": "高新技术企业",
    "kind.tsme": "科技型中小企业",
    "kind.tass": "技术先进型服务企业",
    "kind.gazelle": "瞪羚企业",
    "kind.unicorn": "独角兽企业",
    "kind.potential_unicorn": "潜在独角兽企业",
    "kind.innovative_sme": "创新型中小企业",
    "level.national": "国家级",
    "level.provincial": "省级",
    "level.city": "市级",
    "level.district": "区级",
    "reason.from_to": "{what} {start}起至{end}",
    "reason.from_open": "{what} {start}起",
    "reason.tax_years": "纳税信用 {years}",
    "reason.designations": "资质 {items}",
    "reason.override": "{what}(#{id}):{reason}",
}


def label(key: str, **values) -> str:
    """The text for ``key``, with ``{name}`` fields filled in; a missing key is a bug, not a user error."""
    text = LABELS[key]
    return text.format(**values) if values else text


def optional(key: str, default: str) -> str:
    """The text for ``key`` if the table has one, else ``default`` (rule ids, group ids, grades)."""
    return LABELS.get(key, default)
