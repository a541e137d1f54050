"""The ladder part of the demo: its fixtures are made by a script, and `kq demo` runs the step."""
from __future__ import annotations

import csv
import subprocess
import sys

from conftest import ROOT

LADDER_DEMO = ROOT / "fixtures" / "demo" / "ladder"


def test_make_ladder_demo_reproduces_the_committed_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_ladder_demo.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    committed = sorted(p.name for p in LADDER_DEMO.iterdir())
    assert committed == ["pool.csv", "targets.csv"]
    for name in committed:
        assert (tmp_path / name).read_bytes() == (LADDER_DEMO / name).read_bytes(), name


def test_kq_demo_shows_ladder_status_classes_and_targets(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kqtools", "demo", "--db", str(tmp_path / "demo.db")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    pool = list(csv.DictReader((LADDER_DEMO / "pool.csv").open(encoding="utf-8-sig")))
    assert f"kq import designations pool.csv (培育库): {len(pool)} read, {len(pool)} inserted, 0 rejected" in out
    assert "kq targets import targets.csv: 10 targets" in out
    assert "kq ladder status --as-of 2025-12-31 (movement since 2024-12-31):" in out
    for tier in ("tsme", "hte", "gazelle", "potential_unicorn", "unicorn", "innovative_sme", "zjtx_sme",
                 "little_giant"):
        assert f" {tier} " in out
    assert "class 1:" in out and "class 2:" in out and "class 3:" in out
    progress = out[out.index("kq targets progress"):].splitlines()[1:11]
    assert all(line.rstrip().endswith(("ahead", "on_pace", "behind")) for line in progress), progress
    # the pool list imported by this step is a demo file: the demo database can be made again
    again = subprocess.run([sys.executable, "-m", "kqtools", "demo", "--db", str(tmp_path / "demo.db")],
                           capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
