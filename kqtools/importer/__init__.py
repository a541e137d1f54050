"""The import pipeline: raw rows -> header plan -> generated row check -> upsert, in one transaction.

One module per stage:

- :mod:`.plan`     which column feeds which field (pure);
- :mod:`.rowcode`  the per-header generated function that converts and checks a row (pure);
- :mod:`.checks`   cross-field checks, a list of small named functions per kind (pure);
- :mod:`.records`  a source's rows -> the staged tuples of the valid rows, rejects as data (pure);
- :mod:`.write`    the SQL: upserts chunk by chunk inside one transaction, counts, rejects kept.

Like beancount's loader, bad rows are *data*: every problem becomes a :class:`Reject` (line, column,
field, value, reason), all of them are reported together, and valid rows are never held back by
invalid ones (unless ``strict``). Design notes: docs/design.md, "Import".
"""
from __future__ import annotations

from .plan import (HEADER_SCAN_ROWS, Plan, Reject, UnknownField, check_plan, column_letter, merge_columns,
                   plan_header, resolve_constants, resolve_mapping, stage_columns)
from .checks import CHECKS, run_checks, visit_guard
from .records import records
from .rowcode import _is_simple, compile_row, normalize_row
from .write import CHUNK, ImportResult, run_import

__all__ = [
    "CHECKS", "CHUNK", "HEADER_SCAN_ROWS", "ImportResult", "Plan", "Reject", "UnknownField", "check_plan", "column_letter",
    "compile_row", "merge_columns", "normalize_row", "plan_header", "records", "resolve_constants", "resolve_mapping", "run_import",
    "run_checks", "stage_columns", "visit_guard", "_is_simple",
]
