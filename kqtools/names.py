"""Company names (企业名称) for matching: cleaning, and fuzzy matching in batches. Pure functions.

``clean_name`` turns a registered name into the part that identifies the firm::

    苏州科达科技股份有限公司  -> 科达科技   (stripped: 股份有限公司, region 苏州)
    科达科技(苏州)有限公司    -> 科达科技   (stripped: 有限公司, region (苏州))
    华为技术有限公司深圳分公司 -> 华为技术深圳分公司  (branch: a branch is another entity)

Steps (CREDIT.md, Screening): NFKC; a bracketed region name is dropped (other brackets
keep their text); legal forms are removed longest first (股份有限公司 before 有限公司);
whitespace and punctuation are dropped; one or two leading region names are dropped as long
as at least two characters remain. ``分公司`` is kept and flagged.

``match_names`` compares cleaned names with rapidfuzz ``fuzz.ratio`` (imported lazily),
blocking pairs by the characters their names start with (see :func:`block_keys`).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Sequence

BRANCH = "分公司"

# Longest first when compiled; bracketed forms are matched after NFKC turns （） into ().
LEGAL_FORMS = (
    "股份有限公司", "有限责任公司", "集团有限公司", "集团股份有限公司", "股份合作公司", "有限公司",
    "股份公司", "有限合伙", "普通合伙", "合伙企业", "个人独资企业", "集团", "总公司", "公司",
)

# Provinces and autonomous regions (with and without their suffix), municipalities,
# provincial capitals and other large cities. Rule files add more (screening.regions).
PROVINCES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
    "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
    "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
)
CITIES = (
    "石家庄", "太原", "沈阳", "长春", "哈尔滨", "南京", "杭州", "合肥", "福州", "南昌", "济南", "郑州", "武汉",
    "长沙", "广州", "海口", "成都", "贵阳", "昆明", "西安", "兰州", "西宁", "呼和浩特", "南宁", "拉萨", "银川",
    "乌鲁木齐", "深圳", "厦门", "宁波", "青岛", "大连", "苏州", "无锡", "常州", "南通", "扬州", "镇江", "泰州",
    "徐州", "盐城", "淮安", "连云港", "宿迁", "温州", "嘉兴", "湖州", "绍兴", "金华", "台州", "衢州", "丽水",
    "舟山", "东莞", "佛山", "珠海", "中山", "惠州", "汕头", "江门", "湛江", "肇庆", "泉州", "漳州", "莆田",
    "烟台", "潍坊", "临沂", "淄博", "威海", "济宁", "洛阳", "唐山", "保定", "廊坊", "芜湖", "蚌埠", "宜昌",
    "襄阳", "株洲", "湘潭", "岳阳", "绵阳", "柳州", "桂林", "三亚", "赣州", "九江", "包头", "鄂尔多斯",
    "昆山", "江阴", "张家港", "常熟", "太仓", "宜兴", "义乌", "慈溪", "晋江", "武进", "吴江", "吴中", "相城",
    "姑苏", "虎丘", "新吴", "滨湖", "梁溪", "锡山", "惠山", "新北", "天宁", "钟楼", "金坛", "溧阳", "浦东",
)
NEW_AREAS = ("浦东新区", "滨海新区", "两江新区", "雄安新区", "苏州工业园区")
AUTONOMOUS = ("内蒙古自治区", "广西壮族自治区", "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区",
              "香港特别行政区", "澳门特别行政区")
REGION_SUFFIXES = ("省", "市", "区", "县")
_EXTRA_REGIONS = ("中国", "中华")

_BRACKETS = re.compile(r"[(\[{【〔［（](.*?)[)\]}】〕］）]")
_PUNCT = re.compile(r"[^\w]|_", re.UNICODE)


@dataclass(frozen=True)
class Cleaned:
    raw: str
    name: str                                  # what is compared
    stripped: tuple[str, ...] = ()             # what was removed, in order
    branch: bool = False                       # 分公司: a branch is another entity
    parent: str = ""                           # for a branch: the cleaned name of the firm it belongs to

    def as_dict(self) -> dict:
        return {"raw": self.raw, "clean": self.name, "stripped": list(self.stripped), "branch": self.branch,
                "parent": self.parent}


@dataclass(frozen=True)
class Cleaner:
    """Compiled cleaning rules (legal forms, region names); build once with :func:`make_cleaner`."""
    legal: re.Pattern
    regions: frozenset[str]
    leading: re.Pattern
    branch: str = BRANCH
    max_leading: int = 2
    min_left: int = 2

    def __call__(self, raw: object) -> Cleaned:
        return clean_name(raw, self)


def region_names(extra: Iterable[str] = ()) -> list[str]:
    """Every region spelling (江苏, 江苏省, 苏州, 苏州市 …) plus the rule file's additions, longest first."""
    names = set(_EXTRA_REGIONS) | set(AUTONOMOUS) | set(NEW_AREAS)
    for base in PROVINCES:
        names.update((base, base + "省", base + "市"))
    for base in CITIES:
        names.update((base, base + "市", base + "区", base + "县"))
    for name in extra:
        name = unicodedata.normalize("NFKC", name).strip()
        if name:
            names.add(name)
            if name.endswith(REGION_SUFFIXES) and len(name) > 2:
                names.add(name[:-1])
    return sorted(names, key=lambda s: (-len(s), s))


def make_cleaner(legal_forms: Sequence[str] = LEGAL_FORMS, extra_regions: Iterable[str] = (),
                 branch: str = BRANCH, max_leading: int = 2, min_left: int = 2) -> Cleaner:
    forms = sorted({unicodedata.normalize("NFKC", f) for f in legal_forms if f}, key=lambda s: (-len(s), s))
    regions = region_names(extra_regions)
    legal = re.compile("|".join(re.escape(f) for f in forms)) if forms else re.compile(r"(?!)")
    leading = re.compile("^(?:" + "|".join(re.escape(r) for r in regions) + ")")
    return Cleaner(legal, frozenset(regions), leading, branch, max_leading, min_left)


_DEFAULT: Cleaner | None = None


def default_cleaner() -> Cleaner:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = make_cleaner()
    return _DEFAULT


def clean_name(raw: object, cleaner: Cleaner | None = None) -> Cleaned:
    """The identifying part of a company name, with what was stripped (see the module docstring)."""
    c = cleaner or default_cleaner()
    text = "" if raw is None else unicodedata.normalize("NFKC", str(raw))
    original = text.strip()
    stripped: list[str] = []

    def bracket(m: re.Match) -> str:
        inner = re.sub(r"\s+", "", m.group(1))
        if inner in c.regions:
            stripped.append(f"({inner})")
            return ""
        if c.legal.fullmatch(inner):
            stripped.append(f"({inner})")
            return ""
        return inner

    text = _BRACKETS.sub(bracket, text)
    text = _PUNCT.sub("", text).upper()
    branch = c.branch in text
    if branch:
        text = text.replace(c.branch, "\x00")       # keep 分公司: its 公司 is not a legal form

    def legal(m: re.Match) -> str:
        stripped.append(m.group(0))
        return ""

    parent = _parent(text, c) if branch else ""
    text = c.legal.sub(legal, text).replace("\x00", c.branch)
    for _ in range(c.max_leading):
        m = c.leading.match(text)
        if not m or len(text) - m.end() < c.min_left:
            break
        stripped.append(m.group(0))
        text = text[m.end():]
    if not text:                                    # a name that is nothing but a legal form
        text, stripped = _PUNCT.sub("", original).upper(), []
    return Cleaned(original, text, tuple(stripped), branch, parent)


def _parent(text: str, c: Cleaner) -> str:
    """The firm a branch belongs to: 华盛精密机械有限公司无锡\x00 -> 华盛精密机械 (cleaned)."""
    head = text[: text.rfind("\x00")]
    last = None
    for last in c.legal.finditer(head):
        pass
    if last is not None and last.start() > 0:
        head = head[: last.start()]
    else:
        for region in sorted(c.regions, key=len, reverse=True):   # 华盛精密机械无锡 -> 华盛精密机械
            if head.endswith(region) and len(head) - len(region) >= c.min_left:
                head = head[: -len(region)]
                break
    return clean_name(head.replace("\x00", ""), c).name if head else ""


# ---------------------------------------------------------------- thresholds and blocking
def threshold_for(a: str, b: str, base: float, short: Sequence[tuple[int, float]] = ()) -> float:
    """The score a pair needs: ``base``, raised for short names.

    ``short`` holds (max length, points): when the shorter cleaned name has at most that many
    characters the threshold rises by the points (the largest rise that applies), capped at 100.
    """
    n = min(len(a), len(b))
    rise = max((points for max_len, points in short if n <= max_len), default=0)
    return min(100.0, base + rise)


def block_keys(name: str, width: int = 3) -> set[str]:
    """Blocking keys of a cleaned name: every pair of characters, in order, among its first ``width``.

    科达科技 -> {科达, 科科, 达科}. Two names are compared when they share a key. At a threshold
    of 90, two names with fewer than 20 characters together can only match when one is the
    other with at most one character inserted or deleted; such a pair always shares a key, so
    blocking loses nothing there (longer pairs could be missed only when two of their first
    three characters differ). Names of one or two characters are their own key.
    """
    head = name[:width]
    if len(head) <= 2:
        return {head} if head else set()
    return {head[i] + head[j] for i in range(len(head)) for j in range(i + 1, len(head))}


@dataclass
class NameHit:
    query: int          # index into the queries
    choice: int         # index into the choices
    score: float


@dataclass
class NameIndex:
    """Cleaned list names blocked by :func:`block_keys`, ready for many queries."""
    names: list[str]
    blocks: dict[str, list[int]] = field(default_factory=dict)
    width: int = 3

    @classmethod
    def build(cls, names: Sequence[str], width: int = 3) -> "NameIndex":
        idx = cls(list(names), width=width)
        for i, name in enumerate(idx.names):
            if not name:
                continue
            for key in block_keys(name, width):
                idx.blocks.setdefault(key, []).append(i)
        return idx


def match_names(queries: Sequence[str], index: "NameIndex", base: float,
                short: Sequence[tuple[int, float]] = (), limit: int = 5) -> list[NameHit]:
    """Every (query, list name) pair scoring at least its threshold, best first per query.

    Each query is compared, by one rapidfuzz ``process.extract`` call with ``score_cutoff``,
    with the list names that share a blocking key with it (:func:`block_keys`).
    ``limit`` caps hits per query.
    """
    from rapidfuzz import fuzz, process

    names, blocks, width = index.names, index.blocks, index.width
    extract, ratio = process.extract, fuzz.ratio
    hits: list[NameHit] = []
    for qi, q in enumerate(queries):
        if not q:
            continue
        cands: set[int] = set()
        for key in block_keys(q, width):
            members = blocks.get(key)
            if members:
                cands.update(members)
        if not cands:
            continue
        cand = list(cands)
        found = []
        for _, score, pos in extract(q, [names[i] for i in cand], scorer=ratio, processor=None,
                                     score_cutoff=base, limit=None):
            ci = cand[pos]
            if short and score < threshold_for(q, names[ci], base, short):
                continue
            found.append((-score, ci))
        found.sort()
        hits.extend(NameHit(qi, ci, -neg) for neg, ci in found[:limit])
    return hits


def raw_ratio(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return fuzz.ratio(a, b)
