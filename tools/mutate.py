#!/usr/bin/env python3
"""Mutation testing of kq's rule modules: small deliberate bugs, each run against its module's tests.

A mutant is one small change to one module — an operator (``+``/``-``, ``<``/``<=``, ``and``/``or``,
``min``/``max``), a constant (``n`` → ``n + 1``, ``True``/``False``), a dropped element of a literal
tuple/list/set (``FORMULA_STARTS`` without ``=``), a negated condition, a removed ``not`` — and the
tests of that module are run against it (``pytest -x``, slow tests left out). A mutant the tests
notice is *killed* (a failing test, or a run three times slower than the clean run: an endless
loop); one they do not notice *survived*: a bug the suite would let through, unless it is
*equivalent* (it cannot change behaviour; each is listed in ``EQUIVALENT`` with the reason).

``NAMED`` holds the mutants a mutation run of issue #19 found alive, written as source edits, so
that every run says whether each is killed now.

Why a script of our own rather than mutmut 3 or cosmic-ray: both were tried on paper against what
the suite does. mutmut 3 runs the tests in a copy of the project with trampolines in every function
and its own pytest plugin, and the suite starts ``python -m kqtools`` and helper processes
(``scope_worker.py``, run as a file) that would import the unmutated package; cosmic-ray mutates
the files in place (an interrupted run leaves a mutant in the working tree) and needs a session
database and a config per module. Here each mutant is a copy of the package put first on
``PYTHONPATH`` (subprocesses inherit it: every ``kq`` the tests start runs the mutant), the working
tree is never touched, and it is ~250 lines of standard library.

Usage (from the repository root, with the package and its test extras installed)::

    python tools/mutate.py                       # every module, at most --max mutants each (sampled)
    python tools/mutate.py uscc output --all     # every mutant of these modules
    python tools/mutate.py --list creditlists    # the mutants, not run
    python tools/mutate.py --named               # only the named mutants of issue 19
    python tools/mutate.py uscc --only 'uscc:80:34:1 -> 2'   # re-run one mutant (a survivor)
    python tools/mutate.py --json out.json ...   # also write every result
    python tools/mutate.py screening --deselect 'tests/test_screen.py::test_x'   # without a test failing anyway

The sample is drawn with a fixed seed from the sorted mutant ids, so a run is repeatable; the
report (Markdown, on stdout) is what ``bench/RESULTS.md`` quotes. Not run by ``.ci/run``: a full run
takes an hour or more on two shared cores.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 19

#: module -> (source file, test files or globs). Modules whose file is missing are skipped (the
#: rule modules of branches not merged yet).
MODULES = {
    "uscc": ("kqtools/uscc.py", ["tests/test_uscc.py"]),
    "output": ("kqtools/output.py", ["tests/test_output_safety.py", "tests/test_output_files.py"]),
    "scoring": ("kqtools/scoring.py", ["tests/test_scoring.py", "tests/test_scoring_groups.py",
                                       "tests/test_scoring_veto.py", "tests/test_scoring_benchmarks.py",
                                       "tests/test_scoring_adjustments.py"]),
    "creditlists": ("kqtools/creditlists.py", ["tests/test_lists_rules.py", "tests/test_lists_build.py",
                                               "tests/test_lists_boundaries.py", "tests/test_lists_parity.py"]),
    "creditterms": ("kqtools/creditterms.py", ["tests/test_lists_rules.py", "tests/test_lists_build.py",
                                               "tests/test_lists_boundaries.py", "tests/test_lists_parity.py"]),
    "screening": ("kqtools/screening.py", ["tests/test_screen.py"]),
    "assignment": ("kqtools/assignment.py", ["tests/test_assign_properties.py", "tests/test_assign.py",
                                             "tests/test_assign_first_run.py"]),
    "visits": ("kqtools/visits.py", ["tests/test_visits*.py"]),
    "requests": ("kqtools/requests.py", ["tests/test_requests*.py"]),
    "ladder": ("kqtools/ladder.py", ["tests/test_ladder.py", "tests/test_ladder_classes.py",
                                     "tests/test_ladder_candidates.py"]),
    "targets": ("kqtools/targets.py", ["tests/test_targets.py"]),
    "watch": ("kqtools/watch.py", ["tests/test_watch.py"]),
}

#: the mutants a run of issue #19 found alive, as source edits: (module whose tests judge it, id,
#: file, old text, new text). Rewritten against the code as it is now where the code has moved.
NAMED = [
    ("output", "named:formula-set-only-@", "kqtools/output.py",
     'FORMULA_STARTS = ("=", "+", "-", "@", "\\t", "\\r")', 'FORMULA_STARTS = ("@",)'),
    ("uscc", "named:slow-path-skips-org-check", "kqtools/uscc.py",
     "    if org_check_char(code[8:16]) != code[16]:", "    if False:"),
    ("uscc", "named:mod-11-10-loop-altered", "kqtools/uscc.py", "        p = (s * 2) % 11", "        p = (s * 3) % 11"),
    ("creditlists", "named:tax-prefilter-latest-year-only", "kqtools/creditterms.py",
     "            while bound.add(lr.publication(year_min - 1)) > as_of:", "            while False:"),
    ("creditlists", "named:designation-current-only-before-expiry", "kqtools/creditlists.py",
     "(expires + dt.timedelta(days=1) if expires else None, revoked)", "(expires if expires else None, revoked)"),
    ("creditlists", "named:override-takes-the-earlier-end", "kqtools/creditlists.py",
     "else max(entry.until, until)", "else min(entry.until, until)"),
    ("creditlists", "named:revoked-override-stays-active", "kqtools/creditlists.py",
     "        if self.revoked_at:\n            return False", "        if False:\n            return False"),
    ("screening", "named:branch-note-dropped", "kqtools/screening.py",
     "        elif qc.branch or lc.branch:", "        elif False:"),
    ("screening", "named:branch-label-dropped", "kqtools/screening.py",
     '    if why.get("branch"):\n        text += "; 分公司', '    if False:\n        text += "; 分公司'),
    ("assignment", "named:lowered-capacity-moves-the-oldest", "kqtools/assignment.py",
     'items.sort(key=lambda f: (f[6] or "", f[0]))', 'items.sort(key=lambda f: (f[6] or "", f[0]), reverse=True)'),
    ("scoring", "named:same-level-cites-the-earliest", "kqtools/scoring_adjust.py",
     "            if best is None or rank > best[0]:",
     "            if best is None or (rank[0], best[0][1]) > (best[0][0], on):"),
]

#: mutant id -> why it cannot change behaviour (reviewed by hand; ids are stable across runs while
#: the line they point at does not move)
EQUIVALENT: dict[str, str] = {
    "uscc:52:39:18 -> 19": "normalize's fast path for clean codes: the slow path returns the same text (NFKC, "
                           "stripping and upper case change nothing in clean ASCII), only slower",
    "uscc:132:75:16 -> 17": "org_check_char zips the characters with its 8 weights: a 9th is never read",
    "uscc:110:85:<= -> <": "'A' is in the code alphabet, so it never reaches this test of characters outside it",
    "uscc:110:65:<= -> <": "'0' is in the code alphabet, so it never reaches this test of characters outside it",
    "uscc:110:65:<= -> <#1": "'9' is in the code alphabet, so it never reaches this test of characters outside it",
    "output:116:15:== -> !=": "JSONL goes out in batches: flushing after every row instead writes the same bytes",
    "output:242:90:False -> True": "strings_to_formulas affects XlsxWriter's write() only; kq calls write_string",
    "output:325:15:is not -> is": "on POSIX the unlink below removes a sheet's temporary file open or not; the "
                                  "handle is closed when the abandoned workbook is freed",
    # the start days of the min <= max check of a lists rule file: every (min, max) pair of up to 1,199
    # days, 39 months or 3 years gets the same answer without day 1, 28, 29 or 30 (tried exhaustively);
    # the month ends are needed (425d against 14m differs only from 2024-12-31: a test checks it)
    "creditterms:213:92:drop element 1": "the min <= max check: day-1 starts add nothing the others miss (tried "
                                         "on every pair up to 1,199d/39m/3y)",
    "creditterms:213:92:drop element 28": "the min <= max check: day-28 starts add nothing (tried on every pair)",
    "creditterms:213:92:drop element 29": "the min <= max check: day-29 starts add nothing (tried on every pair)",
    "creditterms:213:92:drop element 30": "the min <= max check: day-30 starts add nothing (tried on every pair)",
    "creditterms:394:44:1 -> 2": "the SQL pre-filter's recent_after twice the minimum back: an earlier bound only "
                                 "lets more records through to the rules, which decide; the lists are the same",
    "assignment:318:11:> -> >=": "a specialist exactly at capacity: the branch sorts the kept list (read nowhere "
                                 "in order) and moves items[cap:], which is empty",
    "requests:258:65:drop unary -": "every message of expand_days starts with the prefix passed here, which ends in "
                                    "': ' (both catalogs keep {where} first): [1] and [-1] are the same part",
}


# ------------------------------------------------------------------------------------ mutations
@dataclass
class Mutant:
    module: str
    id: str
    line: int
    what: str
    status: str = ""        # killed | survived | timeout | equivalent | error
    seconds: float = 0.0
    note: str = ""


_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
          ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_CMPOP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
          ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Pow: "**", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
           ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
           ast.And: "and", ast.Or: "or"}


def _skipped_children(node: ast.AST) -> set[int]:
    """Parts never mutated: docstrings, annotations, decorators, f-strings, the message of a raise."""
    skip = set()
    body = getattr(node, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
            and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        skip.add(id(body[0]))
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        skip.update(id(d) for d in node.decorator_list)
        if node.returns is not None:
            skip.add(id(node.returns))
    if isinstance(node, ast.ClassDef):
        skip.update(id(d) for d in node.decorator_list)
    if isinstance(node, ast.arg) and node.annotation is not None:
        skip.add(id(node.annotation))
    if isinstance(node, ast.AnnAssign):
        skip.add(id(node.annotation))
    if isinstance(node, ast.Raise) and node.exc is not None:
        skip.add(id(node.exc))
    return skip


def _walk(tree: ast.AST):
    """Every node that may be mutated, in a fixed (depth-first) order."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.JoinedStr):
            continue
        yield node
        skip = _skipped_children(node)
        children = [c for c in ast.iter_child_nodes(node) if id(c) not in skip]
        stack.extend(reversed(children))


def _sites(tree: ast.AST):
    """(ordinal, alternative, line, col, description) of every mutation of the tree."""
    for n, node in enumerate(_walk(tree)):
        line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _BINOP:
            yield n, 0, line, col, f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[_BINOP[type(node.op)]]}"
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _CMPOP:
                    yield n, i, line, col, f"{_SYMBOL[type(op)]} -> {_SYMBOL[_CMPOP[type(op)]]}"
        elif isinstance(node, ast.BoolOp):
            yield n, 0, line, col, f"{_SYMBOL[type(node.op)]} -> {'or' if isinstance(node.op, ast.And) else 'and'}"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            yield n, 0, line, col, f"drop unary {'not' if isinstance(node.op, ast.Not) else '-'}"
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            value = node.value
            yield n, 0, line, col, f"{value!r} -> {(not value) if isinstance(value, bool) else value + 1!r}"
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)) and isinstance(getattr(node, "ctx", ast.Load()), ast.Load) \
                and len(node.elts) >= 2 and all(isinstance(e, ast.Constant) for e in node.elts):
            for i, e in enumerate(node.elts):
                yield n, i, line, col, f"drop element {e.value!r}"
        elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
            yield n, 0, line, col, "negate condition"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            yield n, 0, line, col, f"{node.func.id} -> {'max' if node.func.id == 'min' else 'min'}"


def _apply(tree: ast.AST, ordinal: int, alt: int) -> ast.AST:
    tree = copy.deepcopy(tree)
    node = next(node for n, node in enumerate(_walk(tree)) if n == ordinal)
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        node.op = _BINOP[type(node.op)]()
    elif isinstance(node, ast.Compare):
        node.ops[alt] = _CMPOP[type(node.ops[alt])]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.UnaryOp):
        return _replace(tree, node, node.operand)
    elif isinstance(node, ast.Constant):
        node.value = (not node.value) if isinstance(node.value, bool) else node.value + 1
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        del node.elts[alt]
    elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
        node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
    elif isinstance(node, ast.Call):
        node.func = ast.Name(id="max" if node.func.id == "min" else "min", ctx=ast.Load())
    return ast.fix_missing_locations(tree)


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> ast.AST:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
    return tree


def mutants_of(module: str) -> dict[str, tuple[Mutant, str, str]]:
    """id -> (Mutant, file, mutated source of that file) for every generated and named mutant of ``module``."""
    rel = MODULES[module][0]
    source = (ROOT / rel).read_text(encoding="utf-8")
    tree = ast.parse(source)
    found = {}
    for ordinal, alt, line, col, what in _sites(tree):
        mid = f"{module}:{line}:{col}:{what}"
        if mid in found:
            mid += f"#{alt}"
        found[mid] = (Mutant(module, mid, line, what), ordinal, alt)
    out = {mid: (m, rel, ast.unparse(_apply(tree, ordinal, alt))) for mid, (m, ordinal, alt) in found.items()}
    for mod, mid, file, old, new in NAMED:
        if mod != module or not (ROOT / file).exists():
            continue
        text = (ROOT / file).read_text(encoding="utf-8")
        if old not in text:
            print(f"warning: {mid}: its text is no longer in {file}; update NAMED", file=sys.stderr)
            continue
        line = text[:text.index(old)].count("\n") + 1
        out[mid] = (Mutant(module, mid, line, f"{file}: {old.strip()} -> {new.strip()}"), file, text.replace(old, new, 1))
    return out


# ------------------------------------------------------------------------------------ running
def test_files(module: str) -> list[str]:
    files = []
    for pattern in MODULES[module][1]:
        files += sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern))
    return files


#: tests left out of every run (``--deselect``): a test that fails without any mutant (a regression
#: on main someone else owns) would otherwise stop the module's run at its clean run
DESELECT: list[str] = []


def run_tests(package_root: Path, tests: list[str], timeout: float) -> tuple[str, float, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package_root), os.environ.get("PYTHONPATH", "")]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    # -P: `python -m` would put the working directory (the repository, with the clean package) first
    cmd = [sys.executable, "-P", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
           *(f"--deselect={t}" for t in DESELECT), *tests]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start, ""
    took = time.monotonic() - start
    tail = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode == 0:
        return "survived", took, tail
    if proc.returncode == 1:
        failed = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")), tail)
        return "killed", took, failed[:200]
    return "error", took, tail          # 2-5: collection error, usage: the mutant broke the import


def run_module(module: str, ids: list[str], mutants: dict, workdir: Path) -> list[Mutant]:
    tests = test_files(module)
    rel = MODULES[module][0]
    package_root = workdir / module
    shutil.copytree(ROOT / "kqtools", package_root / "kqtools", ignore=shutil.ignore_patterns("__pycache__"))
    target = package_root / rel
    original = (ROOT / rel).read_text(encoding="utf-8")
    originals = {rel: original}
    probe = subprocess.run([sys.executable, "-P", "-c", f"import {rel[:-3].replace('/', '.')} as m; print(m.__file__)"],
                           env={**os.environ, "PYTHONPATH": str(package_root)}, capture_output=True, text=True, cwd=ROOT)
    if not probe.stdout.strip().startswith(str(package_root)):
        sys.exit(f"{module}: the copy is not what Python imports ({probe.stdout.strip() or probe.stderr.strip()})")
    target.write_text(ast.unparse(ast.parse(original)), encoding="utf-8")   # the clean run: same formatting
    status, clean, tail = run_tests(package_root, tests, timeout=3600)
    if status != "survived":
        sys.exit(f"{module}: the tests fail without any mutant ({tail}); fix that first")
    print(f"{module}: {len(ids)} mutants, clean run {clean:.0f} s ({', '.join(tests)})", file=sys.stderr)
    results = []
    for i, mid in enumerate(ids, 1):
        mutant, file, source = mutants[mid]
        if mid in EQUIVALENT:
            mutant.status, mutant.note = "equivalent", EQUIVALENT[mid]
        else:
            originals.setdefault(file, (ROOT / file).read_text(encoding="utf-8"))
            (package_root / file).write_text(source, encoding="utf-8")
            mutant.status, mutant.seconds, mutant.note = run_tests(package_root, tests, timeout=3 * clean + 60)
            (package_root / file).write_text(originals[file] if file != rel else ast.unparse(ast.parse(original)),
                                             encoding="utf-8")
        print(f"  [{i}/{len(ids)}] {mutant.status:<10} {mid}", file=sys.stderr)
        results.append(mutant)
    target.write_text(original, encoding="utf-8")
    return results


def report(results: list[Mutant], sampled: dict[str, tuple[int, int]]) -> str:
    lines = ["| module | mutants (of all) | killed | survived | equivalent | score |", "| --- | --- | --- | --- | --- | --- |"]
    for module in dict.fromkeys(m.module for m in results):
        ms = [m for m in results if m.module == module]
        killed = sum(m.status in ("killed", "timeout", "error") for m in ms)
        survived = sum(m.status == "survived" for m in ms)
        equivalent = sum(m.status == "equivalent" for m in ms)
        score = killed / (len(ms) - equivalent) if len(ms) > equivalent else 1.0
        run, total = sampled[module]
        lines.append(f"| {module} | {run} (of {total}) | {killed} | {survived} | {equivalent} | {score:.0%} |")
    survivors = [m for m in results if m.status == "survived"]
    if survivors:
        lines += ["", "Survivors:", ""]
        lines += [f"- `{m.id}` (line {m.line})" for m in survivors]
    named = [m for m in results if m.id.startswith("named:")]
    if named:
        lines += ["", "Named mutants (issue 19):", ""]
        lines += [f"- `{m.id}` ({m.module}): {m.status}" for m in named]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help=f"modules (default: all present of {', '.join(MODULES)})")
    ap.add_argument("--max", type=int, default=60, help="mutants per module, sampled with a fixed seed (default 60)")
    ap.add_argument("--all", action="store_true", help="every mutant (no sampling)")
    ap.add_argument("--named", action="store_true", help="only the named mutants of issue 19")
    ap.add_argument("--only", nargs="+", metavar="ID", help="only these mutants (ids as --list prints them)")
    ap.add_argument("--list", action="store_true", help="list the mutants, do not run them")
    ap.add_argument("--json", metavar="FILE", help="also write every result as JSON")
    ap.add_argument("--deselect", action="append", default=[], metavar="NODEID",
                    help="leave this test out (one that fails without any mutant; say so in the report)")
    args = ap.parse_args(argv)
    DESELECT[:] = args.deselect
    modules = args.modules or [m for m, (path, _) in MODULES.items() if (ROOT / path).exists()]
    results, sampled = [], {}
    with tempfile.TemporaryDirectory(prefix="kq-mutate-") as tmp:
        for module in modules:
            if not (ROOT / MODULES[module][0]).exists():
                print(f"{module}: {MODULES[module][0]} does not exist here; skipped", file=sys.stderr)
                continue
            mutants = mutants_of(module)
            named = [mid for mid in mutants if mid.startswith("named:")]
            generated = sorted(mid for mid in mutants if not mid.startswith("named:"))
            if args.only:
                ids = [mid for mid in args.only if mid in mutants]
                if not ids:
                    continue
            elif args.named:
                ids = named
            elif args.all or len(generated) <= args.max:
                ids = generated + named
            else:
                ids = sorted(random.Random(SEED).sample(generated, args.max)) + named
            sampled[module] = (len(ids), len(generated) + len(named))
            if args.list:
                for mid in ids:
                    print(mid)
                continue
            results += run_module(module, ids, mutants, Path(tmp))
    if args.list:
        return 0
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(m) for m in results], ensure_ascii=False, indent=1) + "\n",
                                   encoding="utf-8")
    print(f"Mutation run of {time.strftime('%Y-%m-%d')} (seed {SEED}, at most {args.max} per module"
          f"{', all' if args.all else ''}{'; left out: ' + ', '.join(DESELECT) if DESELECT else ''}):\n")
    print(report(results, sampled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
