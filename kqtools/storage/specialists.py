"""Specialists: who they are, what they serve and their load (table ``specialists``, 0001_core.sql).

No click, no printing.
"""
from __future__ import annotations

from ..assignment import Policy
from .scope import as_policy, load_specialists


def specialists_with_load(db, policy: Policy | None = None) -> list[dict]:
    """Specialists with what they serve (own kinds, else the department mapping) and their load."""
    loads = dict(db.conn.execute("SELECT specialist_id, count(*) FROM assignments GROUP BY specialist_id"))
    policy = as_policy(policy)
    out = []
    for s in load_specialists(db):
        kinds, prefixes = policy.served(s)
        out.append({
            "id": s.id, "name": s.name, "department": s.department or "",
            "districts": "、".join(sorted(s.districts)) or ("(all)" if policy.empty_districts == "all" else ""),
            "serves": ", ".join([*sorted(kinds), *prefixes]),
            "load": loads.get(s.id, 0), "capacity": s.capacity, "active": s.active,
        })
    return out
