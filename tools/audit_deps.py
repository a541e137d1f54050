#!/usr/bin/env python3
"""Audit kqtools' installed runtime dependencies for known vulnerabilities (``pip-audit``); run by ``.ci/run``.

The runtime set is what ``pip install kqtools`` brings: the package's requirements without extras,
followed recursively through the installed distributions, each pinned to its installed version.
``pip-audit`` checks that list (``--no-deps --disable-pip``: nothing is resolved or downloaded)
against a vulnerability service, PyPI's JSON API first, then OSV.

Exit 1: a runtime dependency has a known vulnerability (each printed with its id and the versions
that fix it). Exit 0: none known; or no service could be asked (no network, a mirror without the JSON
API, pip-audit not installed): then a warning says that the audit was not done and why, so that a
closed network never makes CI fail, and never lets it pass silently either.

    python tools/audit_deps.py [--osv-url URL] [--service pypi --service osv] [--timeout S]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def runtime_set(package: str = "kqtools") -> dict[str, str]:
    """name -> installed version of every distribution ``package`` needs at run time (no extras)."""
    from packaging.requirements import Requirement   # pip-audit needs packaging: it is there with it

    found: dict[str, str] = {}
    todo = [package]
    while todo:
        dist = metadata.distribution(todo.pop())
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue                                   # an extra's requirement, or another platform's
            name = _name(req.name)
            if name in found:
                continue
            try:
                found[name] = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                print(f"audit: warning: {req.name} is required but not installed", file=sys.stderr)
                continue
            todo.append(req.name)
    return found


def audit(pins: dict[str, str], service: str, osv_url: str | None, timeout: int) -> tuple[dict | None, str]:
    """pip-audit's JSON answer for ``pins`` from one service, or (None, why it could not be had)."""
    with tempfile.TemporaryDirectory(prefix="kq-audit-") as tmp:
        req = Path(tmp) / "runtime.txt"
        req.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())), encoding="utf-8")
        cmd = [sys.executable, "-m", "pip_audit", "-r", str(req), "--no-deps", "--disable-pip", "-f", "json",
               "--progress-spinner", "off", "-s", service, "--timeout", str(timeout), "--cache-dir",
               str(Path(tmp) / "cache")]
        if osv_url and service == "osv":
            cmd += ["--osv-url", osv_url]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * (len(pins) + 2))
        except subprocess.TimeoutExpired:
            return None, f"{service}: no answer within {timeout * (len(pins) + 2)} s"
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"{service}: {last[:200]}"
    deps = answer.get("dependencies", [])
    if deps and all("skip_reason" in d for d in deps):
        return None, f"{service}: could not audit any dependency ({deps[0]['skip_reason'][:120]})"
    return answer, ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--service", action="append", choices=["pypi", "osv"],
                    help="vulnerability services to try in order (default: pypi, then osv)")
    ap.add_argument("--osv-url", help="an OSV API other than api.osv.dev (a mirror)")
    ap.add_argument("--timeout", type=int, default=15, help="seconds per request (default 15)")
    args = ap.parse_args(argv)
    try:
        import pip_audit  # noqa: F401
    except ImportError:
        print("audit: warning: dependency audit NOT done: pip-audit is not installed", file=sys.stderr)
        return 0
    pins = runtime_set()
    why = []
    for service in args.service or ["pypi", "osv"]:
        answer, reason = audit(pins, service, args.osv_url, args.timeout)
        if answer is None:
            why.append(reason)
            continue
        vulnerable = [d for d in answer["dependencies"] if d.get("vulns")]
        skipped = [d for d in answer["dependencies"] if "skip_reason" in d]
        for d in skipped:
            print(f"audit: warning: {d['name']} not audited: {d['skip_reason']}", file=sys.stderr)
        for d in vulnerable:
            for v in d["vulns"]:
                fixed = ", ".join(v.get("fix_versions") or []) or "no fixed version yet"
                print(f"audit: {d['name']} {d['version']}: {v['id']} (fixed in {fixed}): "
                      f"{(v.get('description') or '')[:160]}")
        if vulnerable:
            print(f"audit: {len(vulnerable)} of {len(pins)} runtime dependencies have known vulnerabilities "
                  f"({service})", file=sys.stderr)
            return 1
        print(f"audit: no known vulnerabilities in {len(pins) - len(skipped)} runtime dependencies ({service})",
              file=sys.stderr)
        return 0
    print("audit: warning: dependency audit NOT done: no vulnerability service could be reached ("
          + "; ".join(why) + ")", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
