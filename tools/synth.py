"""Large synthetic data sets for benchmarks and load tests (合成数据).

A developer tool, not part of the installed package: the benchmarks (``bench/``), the tests
(``tests/conftest.py`` puts this folder on ``sys.path``) and ``tools/make_demo.py`` import it as
``synth``; it needs ``kqtools`` importable (installed, or the repository root on ``sys.path``).

Every generator is deterministic (same ``n`` and ``seed`` → same bytes), streams its rows
to a file (never holds the set in memory) and produces *valid* unified social credit codes:
the 8-character organization body of firm ``i`` is a base-31 encoding of a bijective
scramble of ``i``, so codes are unique without keeping a set, and both check characters
come from :func:`kqtools.uscc.make_uscc`.

Firm ``i`` has the same code in every generator called with the same seed, so
``write_enterprises_csv(p, n, seed=1)`` and ``write_metrics_csv(q, n, 2025, seed=1)``
describe the same firms.

Command line (for ``bench/`` scripts)::

    python tools/synth.py enterprises 1000000 /tmp/ent.csv --seed 1
    python tools/synth.py metrics 1000000 /tmp/metrics.csv --year 2025
    python tools/synth.py names 100000 /tmp/names.txt
    python tools/synth.py credit 3000000 /tmp/credit.csv --firms 1000000 [--mix stress]
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import random
from typing import Iterable, Iterator

from kqtools.uscc import ALPHABET, ORG_WEIGHTS, VALUE, WEIGHTS, make_uscc

# ---------------------------------------------------------------- credit codes
_BASE = 31
_SPACE = _BASE ** 8                       # 852,891,037,441 organization bodies
_MULT = 387_420_489                       # 3**18: coprime with 31**8, so i -> i*_MULT mod _SPACE is a bijection
_PREFIXES = ("91",) * 14 + ("92", "93", "12", "52")
# Jiangsu divisions (Suzhou districts and SIP, Wuxi, Changzhou): positions 3-8 of the code
_DIVISIONS = ("320505", "320506", "320507", "320508", "320509", "320594", "320571", "320585",
              "320213", "320214", "320211", "320412", "320411", "320402")
_ORG_VALUE = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def org_body(i: int, seed: int = 1) -> str:
    """The 8-character organization body of firm ``i``: distinct for distinct ``i`` (0 <= i < 31**8)."""
    if not 0 <= i < _SPACE:
        raise ValueError(f"firm index {i} out of range")
    x = (i * _MULT + seed * 7_654_321) % _SPACE
    chars = []
    for _ in range(8):
        x, r = divmod(x, _BASE)
        chars.append(ALPHABET[r])
    return "".join(chars)


def uscc_at(i: int, seed: int = 1) -> str:
    """A valid credit code for firm ``i`` (built by :func:`kqtools.uscc.make_uscc`); unique over ``i``."""
    return make_uscc(_PREFIXES[i % len(_PREFIXES)], _DIVISIONS[(i * 7) % len(_DIVISIONS)], org_body(i, seed))


def _pair_tables():
    """For each pair position p (chars 2p, 2p+1 of the org body) and each of the 31*31 pairs:
    (the two characters, their share of the org-code check sum, their share of the code check sum)."""
    tables = []
    for p in range(4):
        table = []
        for v in range(_BASE * _BASE):
            hi, lo = divmod(v, _BASE)  # body char 2p = lo, 2p+1 = hi (least significant first, as org_body)
            c0, c1 = ALPHABET[lo], ALPHABET[hi]
            org = _ORG_VALUE[c0] * ORG_WEIGHTS[2 * p] + _ORG_VALUE[c1] * ORG_WEIGHTS[2 * p + 1]
            main = lo * WEIGHTS[8 + 2 * p] + hi * WEIGHTS[9 + 2 * p]
            table.append((c0 + c1, org, main))
        tables.append(table)
    return tables


def iter_usccs(n: int, seed: int = 1) -> Iterator[str]:
    """``uscc_at(i, seed)`` for i in 0..n-1, computed incrementally (about 4x faster; same codes)."""
    if n > _SPACE:
        raise ValueError(f"at most {_SPACE} distinct codes")
    t0, t1, t2, t3 = _pair_tables()
    heads = []  # (first 8 chars, their share of the check sum) per i % len(_PREFIXES)*len(_DIVISIONS) cycle
    np_, nd = len(_PREFIXES), len(_DIVISIONS)
    cycle = np_ * nd // _gcd(np_, nd)
    for i in range(cycle):
        head = _PREFIXES[i % np_] + _DIVISIONS[(i * 7) % nd]
        heads.append((head, sum(VALUE[c] * w for c, w in zip(head, WEIGHTS))))
    org_check = ["0" if c == 11 else "X" if c == 10 else str(c) for c in (11 - r for r in range(11))]
    org_check_value = [VALUE[c] for c in org_check]
    x = (seed * 7_654_321) % _SPACE
    sq = _BASE * _BASE
    w16 = WEIGHTS[16]
    alpha = ALPHABET
    for i in range(n):
        a, b = divmod(x, sq)
        b_, c = divmod(a, sq)
        d, e = divmod(b_, sq)
        p0, p1, p2, p3 = t0[b], t1[c], t2[e], t3[d]
        r = (p0[1] + p1[1] + p2[1] + p3[1]) % 11
        head, hsum = heads[i % cycle]
        total = hsum + p0[2] + p1[2] + p2[2] + p3[2] + org_check_value[r] * w16
        yield f"{head}{p0[0]}{p1[0]}{p2[0]}{p3[0]}{org_check[r]}{alpha[(31 - total % 31) % 31]}"
        x += _MULT
        if x >= _SPACE:
            x -= _SPACE


def _gcd(a: int, b: int) -> int:
    import math

    return math.gcd(a, b)


# ---------------------------------------------------------------- company names
REGIONS = ("苏州", "无锡", "常州", "南京", "昆山", "张家港", "江苏", "上海", "杭州", "南通",
           "苏州", "苏州", "苏州", "无锡", "常州", "吴江")                      # 16: 4 random bits
TRADE_CHARS = "".join(dict.fromkeys(
    "科达华美中创新源博远恒泰瑞丰鑫盛汇通宏图天成金星海川永信佳和德安正益明辉"
    "晨光凯越嘉禾东方卓越精工合力同济长风锦程聚能联合启航泽润鼎新优联智达康宁"
    "昊天宇航飞腾浩然融信睿思普惠信达晶石艾迪欧菲微纳芯研速捷诺维赛尔迈克云帆"
    "奥邦锐亿骏杰森林铭诚朗悦昇鸿弘毅拓展捷豪铂钧灏澜沛霖晟煜炜琪璟珑翔逸"))[:128]  # 7 bits
INDUSTRY_WORDS = ("科技", "智能", "新材料", "生物医药", "精密机械", "电子", "信息技术", "光电", "半导体",
                  "医疗器械", "环保科技", "新能源", "自动化设备", "软件", "检测技术", "数据科技",
                  "汽车零部件", "纳米科技", "智能装备", "网络科技", "科技", "科技", "科技", "智能科技",
                  "电子科技", "机电", "材料科技", "精密制造", "生物科技", "光学", "微电子", "传感技术")  # 32
LEGAL_FORMS = ("有限公司",) * 10 + ("股份有限公司",) * 3 + ("有限责任公司", "有限责任公司", "集团有限公司")  # 16
_TRADE_LEN = (2, 2, 2, 3, 3, 3, 4, 2)     # 8: 3 bits
_STYLE = (1,) * 11 + (2,) * 3 + (0,) * 18  # 32: 5 bits; 0 no region, 1 leading region, 2 region in brackets
assert len(TRADE_CHARS) == 128 and len(REGIONS) == 16 and len(INDUSTRY_WORDS) == 32 and len(LEGAL_FORMS) == 16
# canonical (industry code, industry); the last three are utilities (D44-D46, never graded), 3 % of firms
INDUSTRIES = (
    ("C3911", "计算机整机制造"), ("C3976", "集成电路制造"), ("C3562", "半导体器件专用设备制造"),
    ("C2761", "生物药品制造"), ("C3581", "医疗诊断、监护及治疗设备制造"), ("C3484", "机械零部件加工"),
    ("C2929", "塑料零件及其他塑料制品制造"), ("C3985", "电子专用材料制造"), ("C3670", "汽车零部件及配件制造"),
    ("C3841", "锂离子电池制造"), ("I6513", "应用软件开发"), ("I6450", "互联网数据服务"),
    ("M7320", "工程和技术研究和试验发展"), ("M7452", "检测服务"), ("C3990", "其他电子设备制造"),
    ("C3030", "特种陶瓷制品制造"), ("D4411", "火力发电"), ("D4520", "燃气生产和供应业"),
    ("D4610", "自来水生产和供应"),
)
DISTRICTS = ("湖东街道", "湖西街道", "月亮湾", "独墅湖科教区", "金鸡湖商务区", "斜塘街道", "娄葑街道",
             "唯亭街道", "胜浦街道", "苏州高铁新城", "阳澄湖半岛", "东沙湖")
STREETS = ("星湖街", "苏虹中路", "金鸡湖大道", "仁爱路", "若水路", "星汉街", "唯华路", "东平街", "娄葑路", "创苑路")
SURNAMES = "王李张刘陈杨黄赵周吴徐孙朱马胡郭林何高罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力斌宇浩凯鹏飞晨欣怡婷雪梅琳"

# (kind, level) pairs a designation file can carry
KIND_LEVELS = (("hte", ""), ("tsme", ""), ("zjtx", "national"), ("zjtx", "provincial"), ("zjtx", "city"),
               ("zjtx", "district"), ("innovative_sme", "provincial"), ("gazelle", ""), ("tass", ""),
               ("potential_unicorn", ""), ("unicorn", ""))
CREDIT_SOURCES = ("tax_rating", "dishonest_debtor", "abnormal_operation", "serious_violation",
                  "admin_penalty", "research_misconduct", "commendation")


def _rng(seed: int, stream: str) -> random.Random:
    return random.Random(f"kqtools.synth/{seed}/{stream}")  # str seeds are stable across runs


def _name_parts(bits: int) -> tuple[str, str, str, str, int]:
    """(region, trade name, industry word, legal form, style) from 49 random bits."""
    tc = TRADE_CHARS
    k = _TRADE_LEN[bits & 7]
    trade = tc[(bits >> 3) & 127] + tc[(bits >> 10) & 127]
    if k > 2:
        trade += tc[(bits >> 17) & 127]
        if k > 3:
            trade += tc[(bits >> 24) & 127]
    return (REGIONS[(bits >> 31) & 15], trade, INDUSTRY_WORDS[(bits >> 35) & 31], LEGAL_FORMS[(bits >> 40) & 15],
            _STYLE[(bits >> 44) & 31])


def _compose(region: str, trade: str, word: str, form: str, style: int) -> str:
    if style == 1:
        return f"{region}{trade}{word}{form}"
    if style == 2:
        return f"{trade}{word}({region}){form}"
    return f"{trade}{word}{form}"


def iter_company_names(n: int, seed: int = 1) -> Iterator[str]:
    """The names of firms 0..n-1, exactly as ``write_enterprises_csv`` writes them."""
    bits = _rng(seed, "name").getrandbits
    for _ in range(n):
        yield _compose(*_name_parts(bits(49)))


def iter_names(n: int, seed: int = 1) -> Iterator[str]:
    """Incoming names for screening benchmarks: variants of the names of firms 0..n-1 (no codes).

    About 40 % exact, 15 % region moved into or out of brackets, 15 % another legal form,
    15 % one character mistyped, 15 % an unrelated new firm.
    """
    list_bits = _rng(seed, "name").getrandbits
    rng = _rng(seed, "variants")
    fresh_bits = _rng(seed, "fresh-names").getrandbits
    tc = TRADE_CHARS
    for _ in range(n):
        region, trade, word, form, style = _name_parts(list_bits(49))
        r = rng.random()
        if r < 0.40:
            yield _compose(region, trade, word, form, style)
        elif r < 0.55:
            yield _compose(region, trade, word, form, 2 if style != 2 else 1)
        elif r < 0.70:
            other = LEGAL_FORMS[int(rng.random() * len(LEGAL_FORMS))]
            if other == form:
                other = "股份有限公司" if form != "股份有限公司" else "有限公司"
            yield _compose(region, trade, word, other, style)
        elif r < 0.85:
            pos = int(rng.random() * len(trade))
            typo = tc[int(rng.random() * len(tc))]
            if typo == trade[pos]:
                typo = "新" if typo != "新" else "华"
            yield _compose(region, trade[:pos] + typo + trade[pos + 1:], word, form, style)
        else:
            yield _compose(*_name_parts(fresh_bits(49)))


# ---------------------------------------------------------------- row streams
ENTERPRISE_COLUMNS = ["uscc", "name", "district", "industry_code", "industry", "size_class", "founded_on",
                      "address", "contact", "phone", "registered_capital"]
METRIC_COLUMNS = ["uscc", "year", "land_mu", "revenue", "tax", "value_added", "energy_tce", "electricity_kwh",
                  "emissions_t", "rd_expense", "employees", "incident"]
DESIGNATION_COLUMNS = ["uscc", "kind", "level", "recognized_on", "expires_on", "certificate_no", "batch"]
CREDIT_COLUMNS = ["uscc", "name", "source", "grade", "year", "started_on", "ended_on", "severity", "term_years",
                  "reference", "note"]
SPECIALIST_COLUMNS = ["id", "name", "department", "districts", "kinds", "capacity", "email", "phone", "active"]
VISIT_COLUMNS = ["uscc", "specialist_id", "visited_on", "channel", "note"]


def _date_in(rng: random.Random, first: int, last: int) -> str:
    """ISO date between Jan 1 of ``first`` and Dec 31 of ``last`` (years, inclusive)."""
    lo = dt.date(first, 1, 1).toordinal()
    hi = dt.date(last, 12, 31).toordinal()
    return dt.date.fromordinal(lo + int(rng.random() * (hi - lo + 1))).isoformat()


_POOL = 4096


@functools.lru_cache(maxsize=8)
def _enterprise_pools(seed: int) -> tuple[list, list]:
    """Two pools of 4096 column groups; a firm takes one of each (16.7 million combinations).
    A: district, industry code, industry, size class, founded on. B: address, contact, phone, capital."""
    rng = _rng(seed, "enterprise-pools")
    rnd = rng.random
    a, b = [], []
    for _ in range(_POOL):
        code, industry = INDUSTRIES[int(rnd() * 16)] if rnd() < 0.97 else INDUSTRIES[16 + int(rnd() * 3)]
        a.append((DISTRICTS[int(rnd() * len(DISTRICTS))], code, industry, "above" if rnd() < 0.35 else "below",
                  _date_in(rng, 1995, 2025)))
        given = GIVEN[int(rnd() * len(GIVEN))] + (GIVEN[int(rnd() * len(GIVEN))] if rnd() < 0.6 else "")
        phone = (f"1{3 + int(rnd() * 6)}{int(rnd() * 1e9):09d}" if rnd() < 0.7
                 else f"0512-6{int(rnd() * 1e7):07d}")
        b.append((f"苏州工业园区{STREETS[int(rnd() * len(STREETS))]}{1 + int(rnd() * 399)}号",
                  SURNAMES[int(rnd() * len(SURNAMES))] + given, phone, str(int(50 + rnd() * 20000))))
    return a, b


def iter_enterprise_rows(n: int, seed: int = 1) -> Iterator[list]:
    """Rows of ``ENTERPRISE_COLUMNS`` for firms 0..n-1."""
    a, b = _enterprise_pools(seed)
    bits = _rng(seed, "enterprise").getrandbits
    for code, name in zip(iter_usccs(n, seed), iter_company_names(n, seed)):
        r = bits(24)
        yield [code, name, *a[r & 4095], *b[r >> 12]]


def _enterprise_lines(n: int, seed: int) -> Iterator[str]:
    """The CSV lines of :func:`iter_enterprise_rows` (no value needs quoting), built without the csv module."""
    a, b = _enterprise_pools(seed)
    for group in (a, b):
        assert not any(("," in v or '"' in v or "\n" in v) for row in group for v in row)
    a_text = [",".join(row) for row in a]
    b_text = [",".join(row) for row in b]
    bits = _rng(seed, "enterprise").getrandbits
    for code, name in zip(iter_usccs(n, seed), iter_company_names(n, seed)):
        r = bits(24)
        yield f"{code},{name},{a_text[r & 4095]},{b_text[r >> 12]}\n"


def iter_metric_rows(usccs_or_n: int | Iterable[str], year: int, seed: int = 1) -> Iterator[list[str]]:
    """Rows of ``METRIC_COLUMNS`` as text: realistic magnitudes (land 10-200 mu, revenue 2,000-500,000 万元,
    tax 3-8 % of revenue, R&D 1-8 %, ...); about 0.2 % of firm-years report a major incident."""
    usccs = iter_usccs(usccs_or_n, seed) if isinstance(usccs_or_n, int) else usccs_or_n
    rnd = _rng(seed, f"metrics/{year}").random
    y = str(year)
    for code in usccs:
        revenue = 2000 * (250 ** rnd())          # log-uniform 2,000 .. 500,000 万元
        energy = revenue * (0.005 + rnd() * 0.04)
        yield [code, y, f"{10 + rnd() * rnd() * 190:.2f}", f"{revenue:.1f}", f"{revenue * (0.03 + rnd() * 0.05):.1f}",
               f"{revenue * (0.18 + rnd() * 0.17):.1f}", f"{energy:.1f}", f"{energy * (6000 + rnd() * 3000):.0f}",
               f"{energy * (0.001 + rnd() * 0.01):.3f}", f"{revenue * (0.01 + rnd() * 0.07):.1f}",
               str(int(revenue / (80 + rnd() * 220)) + 5), "true" if rnd() < 0.002 else "false"]


def iter_designation_rows(n: int, n_firms: int | None = None, seed: int = 1) -> Iterator[list]:
    """``n`` designation rows over ``n_firms`` firms (default ``n``); keys never repeat."""
    n_firms = n_firms or n
    if n > n_firms * len(KIND_LEVELS):
        raise ValueError(f"at most {n_firms * len(KIND_LEVELS)} designations for {n_firms} firms")
    rng = _rng(seed, "designations")
    rnd = rng.random
    for j in range(n):
        firm, rnd_no = j % n_firms, j // n_firms
        kind, level = KIND_LEVELS[(rnd_no + firm) % len(KIND_LEVELS)]
        recognized = _date_in(rng, 2019, 2025)
        yield [uscc_at(firm, seed), kind, level, recognized, "", f"GR{recognized[:4]}{32000000 + j:08d}",
               f"{recognized[:4]}年第{1 + int(rnd() * 2)}批"]


# The realistic credit mix (default). Shares of *records*; in a district most credit records are
# annual tax ratings, mostly A and B, and the records that blacklist a firm are rare:
#   tax_rating           85.0 %  grades A 35 %, B 51 %, M 10.5 %, C 3 %, D 0.5 % by firm (a firm keeps
#                                its grade from year to year 4 times in 5; else a fresh draw, D 0.3 %)
#   abnormal_operation    5.0 %  half removed later
#   admin_penalty         5.0 %  minor 60 %, general 35 %, serious 5 %
#   commendation          4.3 %
#   dishonest_debtor      0.5 %  7 in 10 removed later (paid up)
#   serious_violation     0.15 % half removed later
#   research_misconduct   0.05 % ban 1-5 years, 1 in 10 for life
# Over 1,000,000 firms and 3,000,000 records, as of 2026-06-30 this puts about 2 % of firms on
# the blacklist and 1 % on the whitelist (bench/RESULTS.md). mix="stress" keeps the earlier harsh set (70 % tax
# ratings with half of them random grades, 30 % spread evenly over the six other sources: 31 %
# of firms blacklisted), byte for byte as before, for worst-case benchmarks.
CREDIT_MIXES = ("realistic", "stress")
_REALISTIC_SOURCES = ((0.850, "tax_rating"), (0.900, "abnormal_operation"), (0.950, "admin_penalty"),
                      (0.993, "commendation"), (0.998, "dishonest_debtor"), (0.9995, "serious_violation"),
                      (1.0, "research_misconduct"))
_TIER_GRADES = ((0.35, "A"), (0.86, "B"), (0.965, "M"), (0.995, "C"), (1.0, "D"))
_FRESH_GRADES = ((0.35, "A"), (0.86, "B"), (0.967, "M"), (0.997, "C"), (1.0, "D"))
_REMOVED = {"dishonest_debtor": 0.7, "abnormal_operation": 0.5, "serious_violation": 0.5}


def _pick(table: tuple, r: float) -> str:
    for bound, value in table:
        if r < bound:
            return value
    return table[-1][1]


def _firm_tier(firm: int, seed: int) -> float:
    """A stable number in [0, 1) per firm: its usual tax grade (firms keep their grade year to year)."""
    return ((firm * 2_654_435_761 + seed * 40_503) % 4_294_967_296) / 4_294_967_296


def iter_credit_rows(n_firms: int, n_records: int, seed: int = 1, mix: str = "realistic") -> Iterator[list]:
    """``n_records`` credit records over ``n_firms`` firms; the first seven cover all seven sources.

    Record ``j`` belongs to firm ``j % n_firms``; its tax rating (if it is one) is for year
    ``2025 - j // n_firms``, so keys never repeat. ``mix``: ``"realistic"`` (default, proportions
    above) or ``"stress"`` (the earlier harsh set: a third of the firms blacklisted).
    """
    if mix not in CREDIT_MIXES:
        raise ValueError(f"mix must be one of {', '.join(CREDIT_MIXES)}")
    stress = mix == "stress"
    rng = _rng(seed, "credit")
    rnd = rng.random
    name_iter = iter_company_names(n_firms, seed)
    for j in range(n_records):
        firm, rnd_no = j % n_firms, j // n_firms
        if firm == 0 and rnd_no:
            name_iter = iter_company_names(n_firms, seed)  # next round over the same firms
        name = next(name_iter)
        r = rnd()
        if j < 7:
            source = CREDIT_SOURCES[j]
        elif stress:
            source = "tax_rating" if r < 0.7 and rnd_no < 30 else CREDIT_SOURCES[1 + int(rnd() * 6)]
        else:
            source = _pick(_REALISTIC_SOURCES, r)
            if source == "tax_rating" and rnd_no >= 30:
                source = "admin_penalty"
        row = [uscc_at(firm, seed), name, source, "", "", "", "", "", "", "", ""]
        if source == "tax_rating":
            if stress:
                row[3] = "ABBBBMCD"[int(rnd() * 8)] if rnd() < 0.5 else "A"
            else:
                row[3] = _pick(_TIER_GRADES, _firm_tier(firm, seed)) if rnd() < 0.8 else _pick(_FRESH_GRADES, rnd())
            row[4] = 2025 - rnd_no
        else:
            started = _date_in(rng, 2018, 2025)
            row[5] = started
            row[9] = f"苏园{source[:3].upper()}〔{started[:4]}〕{j}号"
            if source in _REMOVED and rnd() < (0.5 if stress else _REMOVED[source]):
                row[6] = _date_in(rng, int(started[:4]) + 1, 2026) if started[:4] < "2025" else ""
            if source == "admin_penalty":
                if stress:
                    row[7] = ("minor", "general", "general", "serious")[int(rnd() * 4)]
                else:
                    x = rnd()
                    row[7] = "minor" if x < 0.60 else "general" if x < 0.95 else "serious"
            if source == "research_misconduct":
                row[8] = "life" if rnd() < 0.1 else str(1 + int(rnd() * 5))
            if source == "commendation":
                row[10] = "守信激励对象"
        yield row


def iter_specialist_rows(n: int, seed: int = 1) -> Iterator[list]:
    rng = _rng(seed, "specialists")
    rnd = rng.random
    departments = ("高新技术处", "社会发展处", "中小企业服务处", "产业促进处")
    kinds_by_dept = ("hte|tass", "tsme|innovative_sme", "zjtx|tsme|innovative_sme", "gazelle|unicorn|potential_unicorn")
    for j in range(n):
        d = j % 4
        districts = sorted({DISTRICTS[int(rnd() * len(DISTRICTS))] for _ in range(1 + int(rnd() * 3))})
        yield [f"S{j + 1:05d}", SURNAMES[int(rnd() * len(SURNAMES))] + GIVEN[int(rnd() * len(GIVEN))]
               + GIVEN[int(rnd() * len(GIVEN))], departments[d], "、".join(districts), kinds_by_dept[d],
               20 + int(rnd() * 60), f"s{j + 1:05d}@kjj.example.gov.cn", f"0512-6{int(rnd() * 1e7):07d}",
               "false" if rnd() < 0.05 else "true"]


def iter_visit_rows(n: int, n_firms: int, n_specialists: int, seed: int = 1) -> Iterator[list]:
    """``n`` visits; firm j % n_firms, a date per round, so keys never repeat."""
    rng = _rng(seed, "visits")
    rnd = rng.random
    channels = ("上门走访", "上门走访", "电话", "线上")
    base = dt.date(2024, 11, 1).toordinal()  # two years of visits, all in the past (future visits are rejected)
    for j in range(n):
        firm, rnd_no = j % n_firms, j // n_firms
        day = dt.date.fromordinal(base + (rnd_no * 37 + int(rnd() * 30)) % 730).isoformat()
        yield [uscc_at(firm, seed), f"S{1 + int(rnd() * n_specialists):05d}", day,
               channels[int(rnd() * 4)], "了解企业研发与用地需求"]


# ---------------------------------------------------------------- writers
def _write_csv(path, header: list[str], rows: Iterable[list], encoding: str) -> int:
    count = 0
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for chunk in _chunks(rows, 4096):
            w.writerows(chunk)
            count += len(chunk)
    return count


def _chunks(rows: Iterable[list], size: int) -> Iterator[list]:
    buf = []
    for row in rows:
        buf.append(row)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def write_enterprises_csv(path, n: int, seed: int = 1, encoding: str = "utf-8") -> int:
    """``n`` firms, 11 columns: the 10 canonical enterprise fields plus ``registered_capital`` (kept in extra)."""
    count = 0
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(",".join(ENTERPRISE_COLUMNS) + "\n")
        for chunk in _chunks(_enterprise_lines(n, seed), 8192):
            fh.write("".join(chunk))
            count += len(chunk)
    return count


def write_enterprises_xlsx(path, n: int, seed: int = 1) -> int:
    """The same rows as a workbook (constant-memory XlsxWriter), for XLSX import benchmarks."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.set_properties({"created": dt.datetime(2025, 1, 1)})
    ws = wb.add_worksheet("企业名录")
    ws.write_row(0, 0, ENTERPRISE_COLUMNS)
    count = 0
    for count, row in enumerate(iter_enterprise_rows(n, seed), 1):
        row[-1] = int(row[-1])
        ws.write_row(count, 0, row)
    wb.close()
    return count


def write_metrics_csv(path, usccs_or_n: int | Iterable[str], year: int = 2025, seed: int = 1,
                      encoding: str = "utf-8") -> int:
    """One metrics row per firm: ``usccs_or_n`` is a count (firms 0..n-1 of ``seed``) or the codes."""
    count = 0
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(",".join(METRIC_COLUMNS) + "\n")
        for chunk in _chunks(iter_metric_rows(usccs_or_n, year, seed), 8192):
            fh.write("".join([",".join(row) + "\n" for row in chunk]))
            count += len(chunk)
    return count


def write_designations_csv(path, n: int, n_firms: int | None = None, seed: int = 1, encoding: str = "utf-8") -> int:
    return _write_csv(path, DESIGNATION_COLUMNS, iter_designation_rows(n, n_firms, seed), encoding)


def write_credit_csv(path, n_firms: int, n_records: int, seed: int = 1, encoding: str = "utf-8",
                     mix: str = "realistic") -> int:
    """Credit records (the realistic mix by default; ``mix="stress"`` for the harsh one)."""
    return _write_csv(path, CREDIT_COLUMNS, iter_credit_rows(n_firms, n_records, seed, mix), encoding)


def write_specialists_csv(path, n: int, seed: int = 1, encoding: str = "utf-8") -> int:
    return _write_csv(path, SPECIALIST_COLUMNS, iter_specialist_rows(n, seed), encoding)


def write_visits_csv(path, n: int, n_firms: int | None = None, n_specialists: int = 50, seed: int = 1,
                     encoding: str = "utf-8") -> int:
    return _write_csv(path, VISIT_COLUMNS, iter_visit_rows(n, n_firms or n, n_specialists, seed), encoding)


def write_names(path, n: int, seed: int = 1) -> int:
    """One screening name per line (UTF-8), see :func:`iter_names`."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for chunk in _chunks(iter_names(n, seed), 4096):
            fh.write("\n".join(chunk) + "\n")
            count += len(chunk)
    return count


def main(argv=None) -> int:
    import argparse
    import time

    p = argparse.ArgumentParser(prog="python tools/synth.py", description=__doc__.split("\n")[0])
    p.add_argument("kind", choices=["enterprises", "enterprises-xlsx", "metrics", "designations", "credit",
                                    "specialists", "visits", "names"])
    p.add_argument("n", type=int, help="rows (metrics: firms; credit: records)")
    p.add_argument("out", help="output file")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--year", type=int, default=2025, help="metrics year")
    p.add_argument("--firms", type=int, default=None, help="firms behind designations/credit/visits (default n)")
    p.add_argument("--encoding", default="utf-8", help="CSV encoding, e.g. gb18030")
    p.add_argument("--mix", choices=CREDIT_MIXES, default="realistic",
                   help="credit: realistic proportions (default) or the harsh stress set")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    k, n, out, s = a.kind, a.n, a.out, a.seed
    if k == "enterprises":
        rows = write_enterprises_csv(out, n, s, a.encoding)
    elif k == "enterprises-xlsx":
        rows = write_enterprises_xlsx(out, n, s)
    elif k == "metrics":
        rows = write_metrics_csv(out, n, a.year, s, a.encoding)
    elif k == "designations":
        rows = write_designations_csv(out, n, a.firms, s, a.encoding)
    elif k == "credit":
        rows = write_credit_csv(out, a.firms or max(1, n // 3), n, s, a.encoding, a.mix)
    elif k == "specialists":
        rows = write_specialists_csv(out, n, s, a.encoding)
    elif k == "visits":
        rows = write_visits_csv(out, n, a.firms, seed=s, encoding=a.encoding)
    else:
        rows = write_names(out, n, s)
    import sys

    print(f"{k}: {rows} rows -> {out} in {time.perf_counter() - t0:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
