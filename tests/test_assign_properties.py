"""Property tests of the pure assignment rules (kqtools.assignment.plan)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from kqtools.assignment import Firm, Policy, Specialist, after_applied, plan, settled
from assignment_oracle import may_serve
from kqtools.rules import load_rules

RULES = load_rules("assignment").data     # what the oracle reads; the code under test gets POLICY
POLICY = Policy.from_rules(RULES)
DISTRICTS = ["湖塘镇", "牛塘镇", "南夏墅街道"]
KINDS = ["hte", "tass", "tsme", "zjtx", "gazelle", "innovative_sme"]
DEPARTMENTS = ["高新技术处", "中小企业服务处", "产业促进处", "社会发展处", "办公室", None]


specialist_st = st.builds(
    lambda i, districts, kinds, dep, cap, active: Specialist(
        f"S{i:02d}", f"专员{i}", dep, frozenset(districts), frozenset(kinds), cap, active),
    st.integers(0, 20),
    st.sets(st.sampled_from(DISTRICTS), max_size=2),
    st.sets(st.sampled_from(KINDS), max_size=2),
    st.sampled_from(DEPARTMENTS),
    st.one_of(st.none(), st.integers(0, 6)),
    st.booleans(),
)
specialists_st = st.lists(specialist_st, max_size=8, unique_by=lambda s: s.id)


@st.composite
def world(draw):
    specs = draw(specialists_st)
    ids = [s.id for s in specs] + ["S99"]   # S99: an assignment to someone no longer listed
    n = draw(st.integers(0, 40))
    firms = []
    for i in range(n):
        firms.append(Firm(
            f"F{i:03d}", f"企业{i}", draw(st.sampled_from(DISTRICTS + [None])),
            ",".join(sorted(draw(st.sets(st.sampled_from(KINDS), min_size=1, max_size=2)))),
            draw(st.sampled_from([None, "C2710", "C3911", "Q8411"])),
            draw(st.one_of(st.none(), st.sampled_from(ids))) if ids else None,
            draw(st.sampled_from(["2024-01-02", "2025-01-02", "2025-06-30"])),
        ))
    method = draw(st.sampled_from(["fewest", "round_robin"]))
    return specs, firms, Policy(**{**POLICY.__dict__, "method": method})


def apply(firms, p):
    moved = {c.uscc: c.to_specialist for c in p.changes if c.action != "unassigned"}
    return [f._replace(specialist_id=moved[f.uscc], assigned_on="2026-01-05") if f.uscc in moved else f
            for f in firms]


def final_map(firms, p):
    return {f.uscc: f.specialist_id for f in apply(firms, p) if f.specialist_id is not None}


@settings(max_examples=300, deadline=None)
@given(world())
def test_capacity_eligibility_and_no_one_left_behind(w):
    specs, firms, policy = w
    p = plan(firms, specs, policy)
    by_id = {s.id: s for s in specs}
    final = final_map(firms, p)
    load = {}
    for uscc, sid in final.items():
        load[sid] = load.get(sid, 0) + 1
    firm = {f.uscc: f for f in firms}
    for uscc, sid in final.items():
        f = firm[uscc]
        # every assigned firm's specialist exists, is active and eligible
        assert sid in by_id and may_serve(by_id[sid], f.district, f.kinds.split(","), f.industry_code, RULES)
    for sid, n in load.items():
        cap = by_id[sid].capacity
        assert cap is None or n <= cap, (sid, n, cap)
        assert p.loads[sid] == n
    # a firm left without a specialist: every eligible specialist is full
    for ch in p.unassigned:
        f = firm[ch.uscc]
        for s in specs:
            if may_serve(s, f.district, f.kinds.split(","), f.industry_code, RULES):
                assert s.capacity is not None and load.get(s.id, 0) >= s.capacity
        assert ch.reason


@settings(max_examples=200, deadline=None)
@given(world())
def test_sticky_and_idempotent(w):
    specs, firms, policy = w
    p = plan(firms, specs, policy)
    by_id = {s.id: s for s in specs}
    changed = {c.uscc for c in p.changes if c.action != "unassigned"}
    # kept where the specialist is still active and eligible and not over capacity
    valid = {}
    for f in firms:
        s = by_id.get(f.specialist_id)
        if s and may_serve(s, f.district, f.kinds.split(","), f.industry_code, RULES):
            valid.setdefault(s.id, []).append(f.uscc)
    for sid, usccs in valid.items():
        cap = by_id[sid].capacity
        if cap is None or len(usccs) <= cap:
            assert not changed.intersection(usccs)
        else:
            # keeps exactly its capacity: the longest-standing assignments (ties: lowest code)
            by_age = sorted((f for f in firms if f.uscc in usccs), key=lambda f: (f.assigned_on, f.uscc))
            assert set(usccs) - changed == {f.uscc for f in by_age[:cap]}
    # a second run on the result changes nothing
    again = plan(apply(firms, p), specs, policy)
    assert again.writes == []
    assert [c.uscc for c in again.unassigned] == [c.uscc for c in p.unassigned]
    # what kq assign remembers after applying p is exactly what the second plan says
    predicted = after_applied(p)
    assert (predicted.changes, predicted.in_scope, predicted.kept, predicted.counts) == \
        (again.changes, again.in_scope, again.kept, again.counts)


@settings(max_examples=100, deadline=None)
@given(world(), st.randoms(use_true_random=False))
def test_deterministic_whatever_the_input_order(w, rnd):
    specs, firms, policy = w
    p1 = plan(firms, specs, policy)
    firms2, specs2 = list(firms), list(specs)
    rnd.shuffle(firms2)
    rnd.shuffle(specs2)
    p2 = plan(firms2, specs2, policy)
    assert p1.changes == p2.changes


@given(st.integers(1, 12), st.integers(0, 200))
def test_fewest_first_balances_loads(n_specs, n_firms):
    specs = [Specialist(f"S{i:02d}", department="高新技术处", districts=frozenset({"湖塘镇"})) for i in range(n_specs)]
    firms = [Firm(f"F{i:04d}", None, "湖塘镇", "hte") for i in range(n_firms)]
    p = plan(firms, specs, POLICY)
    loads = sorted(p.loads.values())
    assert loads[-1] - loads[0] <= 1
    # ties go to the lowest id: the first firm goes to S00
    if n_firms:
        assert next(c for c in p.changes if c.uscc == "F0000").to_specialist == "S00"


def test_fewest_first_fills_a_newcomer_without_stealing():
    old = [Specialist("S01", department="高新技术处"), Specialist("S02", department="高新技术处")]
    firms = [Firm(f"F{i}", None, "湖塘镇", "hte", None, "S01" if i < 4 else "S02", "2025-01-02") for i in range(6)]
    new = [*old, Specialist("S03", department="高新技术处")]
    incoming = [*firms, *(Firm(f"G{i}", None, "湖塘镇", "hte") for i in range(3))]
    p = plan(incoming, new, POLICY)
    assert {c.uscc: c.to_specialist for c in p.changes} == {"G0": "S03", "G1": "S03", "G2": "S02"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["2024-01-02", "2025-01-02", "2025-06-30", "2026-01-05"]), min_size=1, max_size=15),
       st.integers(0, 15), st.booleans())
def test_over_capacity_the_longest_standing_assignments_stay(dates, cap, colleague):
    firms = [Firm(f"F{i:02d}", None, "湖塘镇", "hte", None, "S1", d) for i, d in enumerate(dates)]
    specs = [Specialist("S1", department="高新技术处", capacity=cap)]
    specs += [Specialist("S2", department="高新技术处")] if colleague else []
    p = plan(firms, specs, POLICY)
    oldest = {f.uscc for f in sorted(firms, key=lambda f: (f.assigned_on, f.uscc))[:cap]}
    assert {f.uscc for f in firms} - {c.uscc for c in p.changes} == oldest
    assert {c.action for c in p.changes} <= ({"move"} if colleague else {"release"})


@pytest.mark.parametrize("cap, stay", [(2, {"F2", "F3"}), (3, {"F2", "F3", "F0"}), (1, {"F2"})])
def test_lowered_capacity_keeps_the_oldest_assignments_and_moves_the_newest(cap, stay):
    """Issue 19's surviving mutant: the oldest firms moving instead of the newest."""
    firms = [Firm("F0", None, "湖塘镇", "hte", None, "S1", "2026-03-01"),
             Firm("F1", None, "湖塘镇", "hte", None, "S1", "2026-03-01"),
             Firm("F2", None, "湖塘镇", "hte", None, "S1", "2025-01-02"),
             Firm("F3", None, "湖塘镇", "hte", None, "S1", "2025-06-30")]
    specs = [Specialist("S1", department="高新技术处", capacity=cap), Specialist("S2", department="高新技术处")]
    p = plan(firms, specs, POLICY)
    assert {c.uscc for c in p.changes} == {"F0", "F1", "F2", "F3"} - stay
    assert all((c.from_specialist, c.to_specialist, c.action) == ("S1", "S2", "move") for c in p.changes)
    assert all(c.reason == f"specialist S1 over capacity (4 > {cap})" for c in p.changes)


def test_round_robin_takes_turns():
    specs = [Specialist(f"S{i}", department="高新技术处") for i in (1, 2, 3)]
    firms = [Firm(f"F{i}", None, "湖塘镇", "hte") for i in range(7)]
    p = plan(firms, specs, Policy(**{**POLICY.__dict__, "method": "round_robin"}))
    assert [c.to_specialist for c in p.changes] == ["S1", "S2", "S3", "S1", "S2", "S3", "S1"]


@pytest.mark.parametrize("rules", ["shipped", "strict"])
def test_eligibility_examples_agree_with_the_oracle(rules):
    data = RULES if rules == "shipped" else {**RULES, "eligibility": {"empty_districts": "none"}}
    policy = Policy.from_rules(data)
    own = Specialist("S1", department="高新技术处", kinds=frozenset({"tsme"}))
    medical = Specialist("S2", department="社会发展处", districts=frozenset({"湖塘镇"}))
    alias = Specialist("S3", department="社会科技处")
    wide = Specialist("S4", department="高新技术处")
    local = Specialist("S5", department="高新技术处", districts=frozenset({"湖塘镇"}))
    gone = Specialist("S6", department="高新技术处", districts=frozenset({"湖塘镇"}), active=False)
    nowhere = Specialist("S7", department="办公室", districts=frozenset({"湖塘镇"}))
    cases = [  # (specialist, district, kinds, industry code, expected with the shipped rules)
        (own, "湖塘镇", ["tsme"], None, True), (own, "湖塘镇", ["hte"], None, False),   # own kinds replace the dept
        (medical, "湖塘镇", ["tsme"], "C2710", True),      # 医药制造
        (medical, "湖塘镇", ["hte"], "Q8411", True),       # 卫生
        (medical, "湖塘镇", ["hte"], "C3911", False), (medical, "牛塘镇", ["hte"], "C2710", False),
        (alias, None, ["hte"], "C2720", True),            # a department by its alias; no district: bureau-wide
        (wide, "湖塘镇", ["hte"], None, True), (wide, None, ["hte"], None, True),
        (local, None, ["hte"], None, False), (local, " 湖塘镇 ", ["tass"], None, True),
        (gone, "湖塘镇", ["hte"], None, False), (nowhere, "湖塘镇", ["hte"], None, False),
    ]
    for spec, district, kinds, industry, shipped in cases:
        expected = shipped and (rules == "shipped" or bool(spec.districts))
        assert may_serve(spec, district, kinds, industry, data) is expected, (spec.id, district, kinds, industry)
        assert policy.eligible(spec, district, kinds, industry) is expected, (spec.id, district, kinds, industry)


def _groups(firms):
    """Firms as the storage layer counts them for :func:`settled`."""
    counted = {}
    for f in firms:
        key = (f.district, f.kinds, f.industry_code, f.specialist_id,
               *((f.uscc, f.name) if f.specialist_id is None else (None, None)))
        counted[key] = counted.get(key, 0) + 1
    return [(*k, n) for k, n in counted.items()]


@settings(max_examples=300, deadline=None)
@given(world())
def test_settled_on_counts_agrees_with_the_full_plan(w):
    specs, firms, policy = w
    p = plan(firms, specs, policy)
    once = apply(firms, p)          # a settled world: what a re-run sees
    for state in (firms, once):
        quick = settled(_groups(state), specs, policy)
        full = plan(state, specs, policy)
        if quick is None:
            assert full.writes != [], "settled() may only give up when something is to change"
        else:
            assert full.writes == []
            assert (quick.changes, quick.loads, quick.in_scope, quick.kept, quick.counts) == \
                (full.changes, full.loads, full.in_scope, full.kept, full.counts)
    assert settled(_groups(once), specs, policy) is not None


def _fewest_one_by_one(n, ids, loads, limit):
    """Reference: each firm to the smallest (load, id) with room."""
    out = []
    for _ in range(n):
        room = [(loads[i], i) for i in ids if loads[i] < limit[i]]
        if not room:
            out.append(None)
            continue
        sid = min(room)[1]
        loads[sid] += 1
        out.append(sid)
    return out


def _round_robin_one_by_one(n, ids, loads, limit):
    """Reference: specialists in turn by id, skipping full ones."""
    out, pos = [], 0
    for _ in range(n):
        chosen = None
        for step in range(len(ids)):
            sid = ids[(pos + step) % len(ids)]
            if loads[sid] < limit[sid]:
                chosen, pos = sid, (pos + step + 1) % len(ids)
                break
        if chosen is not None:
            loads[chosen] += 1
        out.append(chosen)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.one_of(st.none(), st.integers(0, 9))), max_size=7),
       st.integers(0, 40))
def test_level_at_a_time_placement_equals_one_by_one(specs, n):
    from kqtools.assignment import _fewest, _round_robin

    ids = [f"S{i}" for i in range(len(specs))]
    limit = {i: float("inf") if cap is None else cap for i, (_, cap) in zip(ids, specs)}
    start = {i: load for i, (load, _) in zip(ids, specs)}
    for fast, slow in ((_fewest, _fewest_one_by_one), (_round_robin, _round_robin_one_by_one)):
        a, b = dict(start), dict(start)
        assert fast(range(n), ids, a, limit) == slow(n, ids, b, limit)
        assert a == b


DAYS = ["2025-12-31", "2026-01-01", "2026-01-02", "2026-03-31", "2026-04-01", "2026-04-30", "2026-05-01"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(DAYS), st.sampled_from([None, ""] + DAYS)), max_size=12),
       st.sampled_from(DAYS), st.sampled_from(DAYS))
def test_stored_window_means_the_same_designations_are_current(rows, day, other):
    """kq assign re-uses a settled run's state on another day only inside the window read for it:
    there exactly the same designations are current (SQL of storage.assignment, real SQLite)."""
    import sqlite3

    from kqtools.assignment import in_window
    from kqtools.storage.assignment import _WINDOW_SQL
    from kqtools.storage.scope import _CURRENT

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE designations (recognized_on TEXT NOT NULL, expires_on TEXT)")
    conn.executemany("INSERT INTO designations VALUES (?, ?)", rows)
    window = conn.execute(_WINDOW_SQL, {"a": day}).fetchone()

    def current(d):
        return sorted(r[0] for r in conn.execute(
            f"SELECT rowid FROM designations WHERE {_CURRENT.format(p='')}", {"as_of": d}))

    assert in_window(window, day)
    if in_window(window, other):
        assert current(other) == current(day)
