"""Shared by the report tests: the demo database (built once per test process) and workbook readers."""
from __future__ import annotations

import functools
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from conftest import run_kq

SUMMARY = "汇总"


@functools.lru_cache(maxsize=None)
def _demo_db() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="kq-report-demo-"))
    path = folder / "demo.db"
    r = run_kq("demo", "--db", path, timeout=600)
    assert path.exists(), r
    return path


def demo_copy(tmp_path: Path) -> Path:
    """A private copy of the demo database (lists built, 2025 scored, firms assigned, visits logged)."""
    target = tmp_path / "kq.db"
    shutil.copyfile(_demo_db(), target)
    return target


def sheets(path) -> dict[str, list[list]]:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    return {name: wb.get_sheet_by_name(name).to_python() for name in wb.sheet_names}


def chart_refs(path) -> list[list[str]]:
    """The ``<c:f>`` references of each chart part, in chart order."""
    with zipfile.ZipFile(path) as z:
        names = sorted((n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)),
                       key=lambda n: int(re.search(r"\d+", n).group()))
        return [re.findall(r"<c:f>(.*?)</c:f>", z.read(n).decode("utf-8")) for n in names]


def part(path, name: str) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(name).decode("utf-8")


def sheet_xml(path, index: int) -> str:
    return part(path, f"xl/worksheets/sheet{index}.xml")


def cells(summary: list[list], ref: str) -> list:
    """The values of a range like ``汇总!$A$17:$A$22`` (or one cell ``汇总!$B$16``) of the summary sheet."""
    m = re.fullmatch(r"'?(.+?)'?!\$([A-Z]+)\$(\d+)(?::\$([A-Z]+)\$(\d+))?", ref)
    assert m, ref
    assert m.group(1) == SUMMARY, ref
    col = _col(m.group(2))
    first, last = int(m.group(3)), int(m.group(5) or m.group(3))
    assert m.group(4) in (None, m.group(2)), ref
    return [summary[r - 1][col] if r - 1 < len(summary) and col < len(summary[r - 1]) else None
            for r in range(first, last + 1)]


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1
