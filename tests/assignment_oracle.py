"""Who may serve a firm, written again from the rules' text (docs/specialists.md, "Who may serve a
firm (eligibility)") over the rule file as parsed: an oracle for the assignment tests that shares
no code with :class:`kqtools.assignment.Policy` (issue 19, item 7).

1. The specialist is active.
2. District: the firm's district is one of the specialist's districts (compared after trimming).
   A specialist with no districts serves every district, and firms whose district is unknown,
   when ``[eligibility] empty_districts`` is "all" (the default); nothing when it is "none".
3. Category: one of the firm's current designation kinds is a kind the specialist serves, or the
   firm's industry code starts with an industry prefix the specialist serves. The specialist's
   own kinds decide (and then no prefixes apply); where they are empty, the department mapping of
   the rule file decides, the department found by its name or one of its aliases. A department
   not in the mapping serves nothing.
"""
from __future__ import annotations


def may_serve(spec, district, kinds, industry_code, rules: dict) -> bool:
    """``spec``: anything with id, active, districts, kinds, department; ``kinds``: the firm's
    current designation kinds; ``rules``: the assignment rule file as parsed (a dict)."""
    if not spec.active:
        return False
    firm_district = (district or "").strip() or None
    own_districts = {d.strip() for d in spec.districts if d and d.strip()}
    if own_districts:
        if firm_district not in own_districts:
            return False
    elif rules.get("eligibility", {}).get("empty_districts", "all") != "all":
        return False
    if spec.kinds:
        served_kinds, prefixes = set(spec.kinds), []
    else:
        served_kinds, prefixes = set(), []
        department = (spec.department or "").strip()
        for name, entry in rules.get("departments", {}).items():
            names = [name.strip()] + [a.strip() for a in entry.get("aliases", [])]
            if department and department in names:
                served_kinds = set(entry.get("kinds", []))
                prefixes = list(entry.get("industry_prefixes", []))
    firm_kinds = {k for k in kinds if k}
    if served_kinds & firm_kinds:
        return True
    return bool(industry_code) and any(industry_code.startswith(p) for p in prefixes)
