"""Who may serve a firm, and who does: eligibility, strategy, sticky re-assignment.

Plain functions over plain data; no SQL, no click, no printing. The rules come from
the assignment rule file (``kq rules show assignment``), compiled into a :class:`Policy`.

Eligibility of an *active* specialist for a firm:

* district: the firm's district is one of the specialist's ``districts``; a specialist
  with no districts serves every district (and firms whose district is unknown) when
  ``eligibility.empty_districts = "all"`` (the default), nothing when ``"none"``;
* category: one of the firm's current designation kinds is a kind the specialist serves,
  or the firm's industry code starts with an industry prefix the specialist serves.
  The specialist's own ``kinds`` decide; where empty, the rule file's department
  mapping (``[departments."高新技术处"] kinds = ["hte", "tass"]``) decides.

:func:`plan` keeps every existing assignment that is still valid (sticky), ends the ones
whose specialist is gone, inactive, no longer eligible or over capacity, and places the
firms without a specialist by the strategy: ``fewest`` (the eligible specialist with
the fewest firms, ties by id) or ``round_robin``. Capacity is never exceeded; a firm no
eligible specialist can take stays unassigned, with the reason.

Over the ~500-line mark on purpose: :func:`plan`, :class:`FirstRun` (the first run on counts),
:func:`settled` and :func:`after_applied` (the re-run shortcuts) must give exactly the same
answer and share the private eligibility cache and placing order (:class:`_Eligibility`,
:func:`_placing_order`, the placement runs); split, they would be domain modules importing one
another's private parts.
"""
from __future__ import annotations

from operator import itemgetter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, NamedTuple, Sequence
from .i18n import _

NEW_IN_SCOPE = "new in scope"     # the reason of a first assignment
ALL_KINDS = ("zjtx", "hte", "tsme", "tass", "gazelle", "unicorn", "potential_unicorn", "innovative_sme")


@dataclass(frozen=True)
class Specialist:
    id: str
    name: str = ""
    department: str | None = None
    districts: frozenset = frozenset()
    kinds: frozenset = frozenset()
    capacity: int | None = None      # None = no limit
    active: bool = True              # serving on the day judged (the 在岗 flag, and not left by then)
    left_on: str | None = None       # the day they left (kq specialists deactivate --on), if any
    left_reason: str | None = None

    def inactive_reason(self) -> str:
        """Why an inactive specialist's firms move: ``specialist S02 inactive`` (the imported flag) or
        ``specialist S02 left on 2026-03-01: 调任``."""
        if self.left_on is None:
            return f"specialist {self.id} inactive"
        return f"specialist {self.id} left on {self.left_on}" + (f": {self.left_reason}" if self.left_reason else "")


class Firm(NamedTuple):
    """An in-scope firm as :func:`plan` needs it. ``kinds``: its current designation kinds
    (an iterable, or a comma-separated string as SQLite's group_concat gives it)."""
    uscc: str
    name: str | None
    district: str | None
    kinds: object
    industry_code: str | None = None
    specialist_id: str | None = None     # current assignment, if any
    assigned_on: str | None = None


class Change(NamedTuple):
    uscc: str
    name: str | None
    from_specialist: str | None
    to_specialist: str | None
    reason: str
    action: str          # assign | move | release | unassigned (reported, nothing written)


@dataclass
class Plan:
    changes: list[Change]               # any re-iterable sequence, in uscc order
    loads: dict[str, int]                # specialist id -> firms after the plan
    in_scope: int = 0
    kept: int = 0
    counts: dict[str, int] = field(default_factory=dict)   # action -> number
    left: list[Change] | None = None     # the unassigned firms, when known apart from ``changes``

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unassigned"]

    @property
    def unassigned(self) -> list[Change]:
        """In-scope firms left without a specialist (new ones, and released ones)."""
        if self.left is not None:
            return self.left
        return [c for c in self.changes if c.to_specialist is None and c.action in ("unassigned", "release")
                and not c.reason.startswith("out of scope")]


@dataclass(frozen=True)
class Policy:
    scope_kinds: frozenset = frozenset(ALL_KINDS)
    release_out_of_scope: bool = True
    empty_districts: str = "all"                          # all | none
    departments: Mapping[str, tuple] = field(default_factory=dict)   # name or alias -> (kinds, prefixes)
    method: str = "fewest"                                # fewest | round_robin
    period_months: int = 3                                # key firms: one visit per period
    coverage_goal: float = 0.30                           # every served firm: this share a year, on pace
    coordinators: tuple = ()                              # addresses for firms nobody can take
    key_classes: frozenset = frozenset()                  # cultivation classes whose firms are key firms

    @classmethod
    def from_rules(cls, data: Mapping) -> "Policy":
        scope = data.get("scope", {})
        deps: dict[str, tuple] = {}
        for name, d in data.get("departments", {}).items():
            entry = (frozenset(d.get("kinds", ())), tuple(d.get("industry_prefixes", ())))
            for n in (name, *d.get("aliases", ())):
                deps[n.strip()] = entry
        return cls(
            scope_kinds=frozenset(scope.get("kinds", ALL_KINDS)),
            release_out_of_scope=scope.get("release_out_of_scope", True),
            empty_districts=data.get("eligibility", {}).get("empty_districts", "all"),
            departments=deps,
            method=data.get("strategy", {}).get("method", "fewest"),
            period_months=data.get("visits", {}).get("period_months", 3),
            coverage_goal=data.get("visits", {}).get("yearly_coverage_goal", 0.30),
            coordinators=tuple(data.get("visits", {}).get("coordinators", ())),
            key_classes=frozenset(data.get("visits", {}).get("key_classes", ())),
        )

    def served(self, spec: Specialist) -> tuple[frozenset, tuple]:
        """(designation kinds, industry prefixes) the specialist serves."""
        if spec.kinds:
            return frozenset(spec.kinds), ()
        return self.departments.get((spec.department or "").strip(), (frozenset(), ()))

    def covers_district(self, spec: Specialist, district: str | None) -> bool:
        if not spec.districts:
            return self.empty_districts == "all"
        district = norm_district(district)      # compared after trimming, as plan() does
        return district is not None and district in spec.districts

    def eligible(self, spec: Specialist, district: str | None, kinds: Iterable[str],
                 industry_code: str | None = None) -> bool:
        return self.why_not(spec, district, kinds, industry_code) is None

    def why_not(self, spec: Specialist, district: str | None, kinds: Iterable[str],
                industry_code: str | None = None) -> str | None:
        """None when ``spec`` may serve the firm, else a short reason."""
        if not spec.active:
            return spec.inactive_reason()
        if not self.covers_district(spec, district):
            return f"specialist {spec.id} does not cover district {district or '(unknown)'}"
        served_kinds, prefixes = self.served(spec)
        if served_kinds.intersection(_kinds(kinds)):
            return None
        if industry_code and any(industry_code.startswith(p) for p in prefixes):
            return None
        return f"specialist {spec.id} does not serve {_describe(kinds, industry_code)}"


def _kinds(raw) -> frozenset:
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        return frozenset(k for k in raw.split(",") if k)
    return frozenset(raw)


def _describe(kinds, industry_code) -> str:
    text = "/".join(sorted(_kinds(kinds))) or "no designation"
    return f"{text} (industry {industry_code})" if industry_code else text


def norm_district(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def load_limit(spec: Specialist) -> float:
    return float("inf") if spec.capacity is None else spec.capacity


class _Eligibility:
    """Eligible specialists per group of alike firms, computed once per group."""

    def __init__(self, policy: Policy, specialists: Sequence[Specialist]):
        self.policy = policy
        self.active = sorted((s for s in specialists if s.active), key=lambda s: s.id)
        self.by_district: dict[str, list[Specialist]] = {}
        self.everywhere = [s for s in self.active if not s.districts and policy.empty_districts == "all"]
        for s in self.active:
            for d in s.districts:
                self.by_district.setdefault(d, []).append(s)
        self.served = {s.id: policy.served(s) for s in self.active}
        self.prefixes = sorted({p for _, ps in self.served.values() for p in ps})
        self._kinds: dict[object, frozenset] = {}
        self._industry: dict[str | None, frozenset] = {}
        self._groups: dict[tuple, tuple[str, ...]] = {}
        self._sets: dict[tuple, frozenset] = {}

    def key(self, district, kinds_raw, industry_code) -> tuple:
        kinds = self._kinds.get(kinds_raw)
        if kinds is None:
            kinds = self._kinds[kinds_raw] = _kinds(kinds_raw)
        sig = self._industry.get(industry_code)
        if sig is None:
            sig = self._industry[industry_code] = frozenset(
                p for p in self.prefixes if industry_code and industry_code.startswith(p))
        return (district, kinds, sig)

    def ids(self, key: tuple) -> tuple[str, ...]:
        """Eligible specialist ids for a group key, sorted by id."""
        found = self._groups.get(key)
        if found is None:
            district, kinds, sig = key
            pool = self.everywhere + (self.by_district.get(district, []) if district is not None else [])
            ids = set()
            for s in pool:
                served_kinds, prefixes = self.served[s.id]
                if served_kinds & kinds or (sig and sig.intersection(prefixes)):
                    ids.add(s.id)
            found = self._groups[key] = tuple(sorted(ids))
            self._sets[key] = frozenset(found)
        return found

    def id_set(self, key: tuple) -> frozenset:
        if key not in self._sets:
            self.ids(key)
        return self._sets[key]

    def explain(self, key: tuple, full: bool) -> str:
        district, kinds, sig = key
        what = "/".join(sorted(kinds)) or "no designation"
        if sig:
            what += " or industry " + "/".join(sorted(sig))
        if full:
            return f"all {len(self.ids(key))} eligible specialists are at capacity"
        if district is None:
            if not self.everywhere:
                return "firm's district is unknown and no active specialist covers every district"
            return f"no active district-wide specialist serves {what}"
        if not self.everywhere and not self.by_district.get(district):
            return f"no active specialist covers district {district}"
        return f"no active specialist in district {district} serves {what}"


def plan(firms: Iterable, specialists: Sequence[Specialist], policy: Policy,
         out_of_scope: Iterable[tuple[str, str | None, str, str | None]] = ()) -> Plan:
    """Decide the assignment changes.

    ``firms``: in-scope firms as :class:`Firm` (or plain tuples in that order), best sorted
    by uscc. ``out_of_scope``: (uscc, name, specialist_id, assigned_on) of current
    assignments whose firm is no longer in scope. Deterministic for a given input.
    """
    spec_by_id = {s.id: s for s in specialists}
    elig = _Eligibility(policy, specialists)
    limit = {s.id: load_limit(s) for s in specialists}
    kept: dict[str, list] = {}                              # sid -> firms it keeps
    pending: dict[tuple, list[tuple]] = {}                  # group key -> [(uscc, firm, reason)]
    changes: list[Change] = []
    counts = {"assign": 0, "move": 0, "release": 0, "unassigned": 0}
    in_scope = 0

    for uscc, name, spec_id, assigned_on in out_of_scope:
        if policy.release_out_of_scope:
            changes.append(Change(uscc, name, spec_id, None, "out of scope: no current designation", "release"))
        else:   # kept as is; a stand-in firm record that is never re-placed
            kept.setdefault(spec_id, []).append(Firm(uscc, name, None, None, None, spec_id, assigned_on))
    stand_ins = {id(f) for fs in kept.values() for f in fs}

    key_of = elig.key
    new: dict[tuple, list] = {}                              # group key -> firms new in scope
    groups: dict[tuple, tuple] = {}      # (district, kinds, industry) as read -> (group key, eligible ids)
    for firm in firms:
        in_scope += 1
        raw = (firm[2], firm[3], firm[4])
        group = groups.get(raw)
        if group is None:
            key = key_of(norm_district(firm[2]), firm[3], firm[4])
            group = groups[raw] = (key, elig.id_set(key))
        spec_id = firm[5]
        if spec_id is not None:
            if spec_id in group[1]:
                bucket = kept.get(spec_id)
                if bucket is None:
                    kept[spec_id] = [firm]
                else:
                    bucket.append(firm)
                continue
            spec = spec_by_id.get(spec_id)
            if spec is None:
                reason = f"specialist {spec_id} no longer listed"
            elif not spec.active:
                reason = spec.inactive_reason()
            else:
                reason = (policy.why_not(spec, norm_district(firm[2]), _kinds(firm[3]), firm[4])
                          or f"specialist {spec_id} not eligible")
                reason = reason.replace(f"specialist {spec_id} ", f"specialist {spec_id} no longer eligible: ", 1)
        else:           # new in scope: the common case, kept apart without a reason per firm
            fresh = new.get(group[0])
            if fresh is None:
                new[group[0]] = [firm]
            else:
                fresh.append(firm)
            continue
        pending.setdefault(group[0], []).append((firm[0], firm, reason))

    loads: dict[str, int] = {}
    kept_total = 0
    for sid, items in kept.items():
        cap = limit.get(sid, float("inf"))
        if len(items) > cap:
            # keep the longest-standing assignments; the most recent ones (ties: highest code) move
            items.sort(key=lambda f: (f[6] or "", f[0]))
            n, cap = len(items), int(cap)
            reason = f"specialist {sid} over capacity ({n} > {cap})"
            for firm in items[cap:]:
                if id(firm) in stand_ins:   # out of scope, kept by the rule file: released instead
                    changes.append(Change(firm[0], firm[1], sid, None, f"out of scope; {reason}", "release"))
                    continue
                key = key_of(norm_district(firm[2]), firm[3], firm[4])
                pending.setdefault(key, []).append((firm[0], firm, reason))
            items = items[:cap]
        loads[sid] = len(items)
        kept_total += len(items) - (sum(1 for f in items if id(f) in stand_ins) if stand_ins else 0)

    for s in specialists:
        loads.setdefault(s.id, 0)

    place = _round_robin if policy.method == "round_robin" else _fewest
    order = _placing_order(elig, {*pending, *new})
    for key in order:
        ids = elig.ids(key)
        if key not in pending:          # only new firms: one list comprehension for those placed
            items = new[key]
            items.sort(key=itemgetter(0))     # by uscc (unique): deterministic whatever the input order
            chosen = place(items, ids, loads, limit)
            placed = len(chosen) - chosen.count(None)
            changes.extend([Change(f[0], f[1], None, sid, NEW_IN_SCOPE, "assign")
                            for f, sid in zip(items, chosen[:placed])])
            if placed < len(items):
                why = elig.explain(key, full=bool(ids))
                changes.extend([Change(f[0], f[1], None, None, why, "unassigned") for f in items[placed:]])
            continue
        items = pending[key]
        items.extend((f[0], f, NEW_IN_SCOPE) for f in new.get(key, ()))
        items.sort(key=itemgetter(0))       # by uscc (unique): deterministic whatever order the firms came in
        chosen = place(items, ids, loads, limit)
        for (_, firm, reason), sid in zip(items, chosen):
            uscc, name, current = firm[0], firm[1], firm[5]
            if sid is not None:
                changes.append(Change(uscc, name, current, sid, reason, "move" if current else "assign"))
            else:
                why = elig.explain(key, full=bool(ids))
                if current:
                    changes.append(Change(uscc, name, current, None, f"{reason}{_UNASSIGNED}{why}", "release"))
                else:
                    changes.append(Change(uscc, name, None, None, why, "unassigned"))

    for c in changes:
        counts[c.action] += 1
    changes.sort(key=itemgetter(0))
    return Plan(changes, loads, in_scope, kept_total, counts)


def _placing_order(elig: _Eligibility, keys) -> list[tuple]:
    """Most constrained groups first (fewest eligible specialists), then by key text: deterministic."""
    return sorted(keys, key=lambda k: (len(elig.ids(k)), k[0] or "", sorted(k[1]), sorted(k[2])))


class FirstRun:
    """:func:`plan` for a scope in which no firm has a specialist yet, fed one firm at a time
    without keeping the firms: what ``kq assign`` does on its first run over a million firms.

    1. :meth:`group` (district, kinds, industry_code) of each in-scope firm, in any order: its
       group number (alike firms share one), counting the firms per group (:meth:`add`: many
       alike firms at once, counted elsewhere);
    2. :meth:`place`: the placement runs of every group, in :func:`plan`'s order and by its strategy;
    3. :meth:`pick` (group number, uscc) of each firm again, now in uscc order: the
       specialist, or None when nobody eligible with room can take it (:attr:`unplaced` keeps it,
       :meth:`reason` says why).

    Firm by firm the result is exactly :func:`plan`'s on the same firms with no current assignment
    (property-tested): within a group, firms are placed in uscc order.
    """

    def __init__(self, specialists: Sequence[Specialist], policy: Policy):
        self.policy = policy
        self.specialists = list(specialists)
        self.elig = _Eligibility(policy, specialists)
        self._raw: dict[tuple, int] = {}
        self._by_key: dict[tuple, int] = {}
        self.keys: list[tuple] = []          # group number -> group key
        self.sizes: list[int] = []           # group number -> firms
        self.loads: dict[str, int] = {s.id: 0 for s in specialists}
        self.unplaced: list[tuple] = []      # (uscc, group number) of the firms nobody can take
        self._flat: list[list[str]] = []
        self._next: list[int] = []
        self._last = None

    def group(self, district, kinds, industry_code) -> int:
        raw = (district, kinds, industry_code)
        g = self._raw.get(raw)
        if g is None:
            g = self._number(raw)
        self.sizes[g] += 1
        return g

    def add(self, district, kinds, industry_code, firms: int) -> int:
        """``firms`` firms of one (district, kinds, industry_code), counted elsewhere (a part of the
        scope counted by a helper process): their group number."""
        raw = (district, kinds, industry_code)
        g = self._raw.get(raw)
        if g is None:
            g = self._number(raw)
        self.sizes[g] += firms
        return g

    def _number(self, raw: tuple) -> int:
        key = self.elig.key(norm_district(raw[0]), raw[1], raw[2])
        g = self._by_key.get(key)
        if g is None:
            g = self._by_key[key] = len(self.keys)
            self.keys.append(key)
            self.sizes.append(0)
        self._raw[raw] = g
        return g

    @property
    def in_scope(self) -> int:
        return sum(self.sizes)

    def place(self) -> None:
        limit = {s.id: load_limit(s) for s in self.specialists}
        runs_of = round_robin_runs if self.policy.method == "round_robin" else fewest_runs
        self._flat = [[] for _ in self.keys]
        self._next = [0] * len(self.keys)
        for key in _placing_order(self.elig, self._by_key):
            g = self._by_key[key]
            runs = runs_of(self.sizes[g], self.elig.ids(key), self.loads, limit)
            self._flat[g] = flatten(runs)

    def pick(self, g: int, uscc: str) -> str | None:
        """The specialist of the next firm of group ``g``. Firms must come in uscc order, as
        :func:`plan` places them: anything else raises rather than give a different result."""
        if self._last is not None and not uscc > self._last:
            raise RuntimeError(f"firms out of uscc order ({uscc!r} after {self._last!r})")
        self._last = uscc
        p = self._next[g]
        self._next[g] = p + 1
        flat = self._flat[g]
        if p < len(flat):
            return flat[p]
        self.unplaced.append((uscc, g))
        return None

    def picker(self, numbers: Sequence[int]):
        """:meth:`pick` for firms numbered by another counter: ``numbers[i]`` is the group of its ``i``."""
        pick = self.pick
        return lambda i, uscc: pick(numbers[i], uscc)

    def reason(self, g: int) -> str:
        key = self.keys[g]
        return self.elig.explain(key, full=bool(self.elig.ids(key)))


def settled(groups: Iterable[tuple], specialists: Sequence[Specialist], policy: Policy) -> Plan | None:
    """The plan when no assignment is to change, judged on counts; None when :func:`plan` must run.

    ``groups``: (district, kinds, industry_code, specialist_id, uscc, name, firms) — in-scope firms
    with a specialist counted per identical (district, kinds, industry_code, specialist_id) with
    ``uscc`` and ``name`` None; firms without a specialist one by one (``firms`` 1). Nothing is
    written exactly when every assigned firm's specialist is eligible for it, nobody is above
    capacity and every firm without a specialist has only full eligible specialists (callers
    also check that no assignment is out of scope). Then :func:`plan` would return what this
    returns (kept firms, the unassigned ones reported) without per-firm work on the kept ones.
    """
    elig = _Eligibility(policy, specialists)
    limit = {s.id: load_limit(s) for s in specialists}
    loads: dict[str, int] = {}
    cache: dict[tuple, tuple] = {}
    waiting = []
    total = kept = 0
    for district, kinds, industry, sid, uscc, name, n in groups:
        total += n
        raw = (district, kinds, industry)
        group = cache.get(raw)
        if group is None:
            key = elig.key(norm_district(district), kinds, industry)
            group = cache[raw] = (key, elig.id_set(key))
        if sid is None:
            waiting.append((uscc, name, group[0]))
            continue
        if sid not in group[1]:
            return None
        loads[sid] = loads.get(sid, 0) + n
        kept += n
    if any(n > limit.get(sid, float("inf")) for sid, n in loads.items()):
        return None
    changes = []
    for uscc, name, key in waiting:
        ids = elig.ids(key)
        if any(loads.get(i, 0) < limit[i] for i in ids):
            return None
        changes.append(Change(uscc, name, None, None, elig.explain(key, full=bool(ids)), "unassigned"))
    changes.sort(key=itemgetter(0))
    for s in specialists:
        loads.setdefault(s.id, 0)
    return Plan(changes, loads, total, kept, {"assign": 0, "move": 0, "release": 0, "unassigned": len(changes)})


def after_applied(p: Plan) -> Plan | None:
    """What :func:`plan` returns on the result of ``p`` once applied (same specialists, rule file and
    scope): nothing to write, the firms ``p`` left without a specialist reported again as unassigned
    with the reason why nobody took them, every other in-scope firm kept (property-tested against a
    second plan). None when a reason cannot be told apart (a district named like the separator)."""
    unassigned = []
    for c in p.changes:
        if c.action == "unassigned":
            unassigned.append(c)
        elif c.action == "release" and c.to_specialist is None and not c.reason.startswith("out of scope"):
            if c.reason.count(_UNASSIGNED) != 1:
                return None
            why = c.reason.split(_UNASSIGNED, 1)[1]
            unassigned.append(Change(c.uscc, c.name, None, None, why, "unassigned"))
    unassigned.sort(key=itemgetter(0))
    return Plan(unassigned, dict(p.loads), p.in_scope, p.in_scope - len(unassigned),
                {"assign": 0, "move": 0, "release": 0, "unassigned": len(unassigned)})


_UNASSIGNED = "; unassigned: "


def in_window(window: Sequence, day: str) -> bool:
    """True when the same designations are current on ``day`` as on the day the window was read for.

    ``window``: (rec_le, rec_gt, exp_lt, exp_ge) = the latest ``recognized_on`` <= that day, the
    earliest > it, the latest ``expires_on`` < it, the earliest >= it (None where there is none).
    A row is current on t when ``recognized_on <= t <= expires_on`` (no expiry: open), so every row
    is current on ``day`` exactly as on the original day when ``rec_le <= day < rec_gt`` and
    ``exp_lt < day <= exp_ge``. ISO text compares as dates; a boundary that is not text (a date
    stored some other way) is never trusted: False."""
    rec_le, rec_gt, exp_lt, exp_ge = window
    if any(b is not None and not isinstance(b, str) for b in window):
        return False
    return ((rec_le is None or rec_le <= day) and (rec_gt is None or day < rec_gt)
            and (exp_lt is None or exp_lt < day) and (exp_ge is None or day <= exp_ge))


def _fewest(items, ids, loads, limit) -> list[str | None]:
    """Each firm of ``items`` to the eligible specialist with the fewest firms (ties: lowest id);
    None for each firm nobody with room can take. The flat form of :func:`fewest_runs`."""
    return flatten(fewest_runs(len(items), ids, loads, limit), len(items))


def _round_robin(items, ids, loads, limit) -> list[str | None]:
    """Eligible specialists in turn, by id, skipping full ones. The flat form of :func:`round_robin_runs`."""
    return flatten(round_robin_runs(len(items), ids, loads, limit), len(items))


def fewest_runs(n: int, ids, loads: dict, limit: Mapping) -> list[tuple[tuple[str, ...], int]]:
    """Place ``n`` firms, each on the eligible specialist with the fewest firms (ties: lowest id).

    Firm by firm this is "take the smallest (load, id)"; here it is done a level at a time
    (water-filling): the specialists at the lowest load take one firm each in id order, round
    after round, until one of them reaches the next load level present or a capacity. Same
    sequence, as runs: ``(members, take)`` means the next ``take`` firms go to ``members`` in
    turn (firm ``k`` of the run to ``members[k % len(members)]``). Updates ``loads``; the firms
    beyond the runs' total are the ones nobody with room can take.
    """
    need = n
    runs: list[tuple[tuple[str, ...], int]] = []
    avail = sorted((loads[i], i) for i in ids if loads[i] < limit[i])
    members: list[str] = []
    pos, level = 0, 0
    while need and (members or pos < len(avail)):
        if not members:
            level = avail[pos][0]
        while pos < len(avail) and avail[pos][0] == level:
            members.append(avail[pos][1])
            pos += 1
        members.sort()
        upto = min(avail[pos][0] if pos < len(avail) else float("inf"), min(limit[m] for m in members))
        need, level = _rounds(members, upto - level, need, loads, runs), upto
        members = [m for m in members if loads[m] < limit[m]]
    return runs


def round_robin_runs(n: int, ids, loads: dict, limit: Mapping) -> list[tuple[tuple[str, ...], int]]:
    """Place ``n`` firms on the eligible specialists in turn, by id, skipping full ones; runs as in
    :func:`fewest_runs`."""
    need = n
    runs: list[tuple[tuple[str, ...], int]] = []
    members = [i for i in ids if loads[i] < limit[i]]
    while need and members:
        need = _rounds(members, min(limit[m] - loads[m] for m in members), need, loads, runs)
        members = [m for m in members if loads[m] < limit[m]]
    return runs


def flatten(runs, n: int = 0) -> list[str | None]:
    """The specialist of each firm placed by ``runs``, in order; padded with None to ``n`` firms."""
    out: list[str | None] = []
    for members, take in runs:
        full, rest = divmod(take, len(members))
        out.extend(members * full)
        out.extend(members[:rest])
    out.extend([None] * (n - len(out)))
    return out


def _rounds(members: list[str], rounds, need: int, loads: dict, runs: list) -> int:
    """Up to ``rounds`` rounds of one firm to each of ``members`` in order, at most ``need`` firms;
    appends the run to ``runs``, updates ``loads`` and returns the firms still to place."""
    width = len(members)
    take = need if rounds == float("inf") else min(need, int(rounds) * width)
    if take:
        runs.append((tuple(members), take))
    full, rest = divmod(take, width)
    for k, m in enumerate(members):
        loads[m] += full + (k < rest)
    return need - take


def specialist_from_row(row: Mapping, as_of: str | None = None) -> Specialist:
    """A ``specialists`` table row (districts and kinds as JSON lists) as a :class:`Specialist`.

    Active when the row's ``active`` flag is set and, judged on ``as_of`` (ISO), the specialist has
    not left by then (``left_on`` <= ``as_of``); without ``as_of`` a leaving date in the row makes
    them inactive whatever its day."""
    import json

    def as_list(value):
        if value in (None, ""):
            return []
        if isinstance(value, (list, tuple)):
            return list(value)
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            parsed = [value]
        return parsed if isinstance(parsed, list) else [parsed]

    districts = frozenset(d for d in (norm_district(x) for x in as_list(row.get("districts"))) if d)
    kinds = frozenset(str(k).strip() for k in as_list(row.get("kinds")) if str(k).strip())
    cap = row.get("capacity")
    left_on = row.get("left_on") or None
    active = bool(row.get("active", 1)) and (left_on is None or (as_of is not None and as_of < left_on))
    return Specialist(
        id=str(row["id"]), name=row.get("name") or "", department=row.get("department"),
        districts=districts, kinds=kinds, capacity=None if cap in (None, "") else int(cap),
        active=active, left_on=left_on, left_reason=row.get("left_reason") or None)
