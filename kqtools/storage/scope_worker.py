"""Helper process of a large first ``kq assign``: one uscc range of the scope, counted.

``python -I -S scope_worker.py`` (run as a file: it imports nothing but the standard library)
reads a JSON task on stdin::

    {"db": PATH, "out": PATH, "sql": SELECT, "params": {...}}

runs ``CREATE TABLE scratch.kq_scope AS <sql>`` with ``out`` attached as ``scratch`` (a new file,
no journal: it only lives for the run), where ``sql`` calls ``kq_group(district, kinds,
industry_code)``, and prints ``{"keys": [[district, kinds, industry_code], ...], "sizes": [...]}``:
each combination in the order first met, which is its number in the table's ``g`` column, and how
many firms have it. :func:`kqtools.storage.assignment.first_assignment` runs one range itself
and the others here, in parallel, then merges the counts; see there.

Only reads the kq database, through its own connection: the parent holds the write lock, so
what it reads is what the parent sees.
"""
from __future__ import annotations

import json
import sqlite3
import sys


def run(task: dict) -> dict:
    conn = sqlite3.connect(task["db"], timeout=task.get("timeout", 120), isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("ATTACH ? AS scratch", (task["out"],))
        conn.execute("PRAGMA scratch.journal_mode = OFF")
        conn.execute("PRAGMA scratch.synchronous = OFF")
        numbers: dict[tuple, int] = {}
        keys: list[tuple] = []
        sizes: list[int] = []

        def group(district, kinds, industry_code):
            key = (district, kinds, industry_code)
            g = numbers.get(key)
            if g is None:
                g = numbers[key] = len(keys)
                keys.append(key)
                sizes.append(0)
            sizes[g] += 1
            return g

        conn.create_function("kq_group", 3, group)
        conn.execute(f"CREATE TABLE scratch.kq_scope AS {task['sql']}", task["params"])
        return {"keys": keys, "sizes": sizes}
    finally:
        conn.close()


def main() -> int:
    try:
        result = run(json.load(sys.stdin))
    except Exception as exc:        # reported to the parent, which does the range itself then
        print(f"kq assign: a helper process failed, its part of the scope is read in the main process "
              f"instead: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)   # ASCII (\u escapes): the same bytes whatever the locale's encoding
    return 0


if __name__ == "__main__":
    sys.exit(main())
