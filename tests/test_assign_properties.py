"""Property tests of the pure assignment rules (kqtools.assignment.plan)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from kqtools.assignment import Firm, Policy, Specialist, after_applied, plan, settled
from kqtools.rules import load_rules

POLICY = Policy.from_rules(load_rules("assignment").data)
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
        assert sid in by_id and policy.eligible(by_id[sid], f.district, f.kinds.split(","), f.industry_code)
    for sid, n in load.items():
        cap = by_id[sid].capacity
        assert cap is None or n <= cap, (sid, n, cap)
        assert p.loads[sid] == n
    # a firm left without a specialist: every eligible specialist is full
    for ch in p.unassigned:
        f = firm[ch.uscc]
        for s in specs:
            if policy.eligible(s, f.district, f.kinds.split(","), f.industry_code):
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
        if s and policy.eligible(s, f.district, f.kinds.split(","), f.industry_code):
            valid.setdefault(s.id, []).append(f.uscc)
    for sid, usccs in valid.items():
        cap = by_id[sid].capacity
        if cap is None or len(usccs) <= cap:
            assert not changed.intersection(usccs)
        else:
            assert len(set(usccs) - changed) == cap       # keeps exactly its capacity
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


def test_round_robin_takes_turns():
    specs = [Specialist(f"S{i}", department="高新技术处") for i in (1, 2, 3)]
    firms = [Firm(f"F{i}", None, "湖塘镇", "hte") for i in range(7)]
    p = plan(firms, specs, Policy(**{**POLICY.__dict__, "method": "round_robin"}))
    assert [c.to_specialist for c in p.changes] == ["S1", "S2", "S3", "S1", "S2", "S3", "S1"]


def test_own_kinds_override_the_department():
    s = Specialist("S1", department="高新技术处", kinds=frozenset({"tsme"}))
    assert POLICY.eligible(s, "湖塘镇", ["tsme"]) and not POLICY.eligible(s, "湖塘镇", ["hte"])
    medical = Specialist("S2", department="社会发展处", districts=frozenset({"湖塘镇"}))
    assert POLICY.eligible(medical, "湖塘镇", ["tsme"], "C2710")       # 医药制造
    assert POLICY.eligible(medical, "湖塘镇", ["hte"], "Q8411")        # 卫生
    assert not POLICY.eligible(medical, "湖塘镇", ["hte"], "C3911")
    assert not POLICY.eligible(medical, "牛塘镇", ["hte"], "C2710")
    alias = Specialist("S3", department="社会科技处")
    assert POLICY.eligible(alias, None, ["hte"], "C2720")


def test_empty_districts_rule():
    s = Specialist("S1", department="高新技术处")
    assert POLICY.eligible(s, "湖塘镇", ["hte"]) and POLICY.eligible(s, None, ["hte"])
    strict = Policy(**{**POLICY.__dict__, "empty_districts": "none"})
    assert not strict.eligible(s, "湖塘镇", ["hte"])
    assert not strict.eligible(Specialist("S2", department="高新技术处", districts=frozenset({"湖塘镇"})), None, ["hte"])


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
