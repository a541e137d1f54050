"""The bundled demo data (fixtures/demo): lists as of 2026-06-30 and the applicant list, as the manifest says."""
from __future__ import annotations

import datetime as dt
import json
from importlib import resources

import pytest

DEMO = resources.files("kqtools.fixtures").joinpath("demo")
pytestmark = pytest.mark.skipif(not DEMO.joinpath("applicants.csv").is_file()
                                or not DEMO.joinpath("manifest.json").is_file(), reason="demo fixtures not present")


@pytest.fixture
def demo_db(db):
    from kqtools.importer import run_import
    from kqtools.readers import open_table
    from kqtools.storage.lists import build_lists

    for kind, name in (("enterprises", "enterprises.csv"), ("designations", "designations.xlsx"),
                       ("credit", "credit.jsonl")):
        with DEMO.joinpath(name).open("rb") as fh:
            run_import(db, open_table(fh, name), kind)
    build_lists(db, dt.date(2026, 6, 30))
    return db


def manifest():
    return json.loads(DEMO.joinpath("manifest.json").read_text(encoding="utf-8"))


def role(m, prefix):
    return {f["uscc"] for k, v in m["roles"].items() if k.startswith(prefix) for f in v}


def test_demo_lists_match_the_manifest(demo_db):
    from kqtools.storage.lists import entries, latest_blacklist

    m = manifest()
    assert latest_blacklist(demo_db) == role(m, "blacklist:")
    white = {e["uscc"] for e in entries(demo_db, "whitelist", 1)}
    assert role(m, "zjtx national 2025 + provincial 2023") <= white
    assert not (role(m, "no whitelist:") | role(m, "warning: abnormal") | role(m, "blacklist:")) & white


def test_demo_applicants_screen_as_the_manifest_says(demo_db, kq):
    with DEMO.joinpath("applicants.csv").open("rb") as fh:
        data = fh.read()
    r = kq("screen", "-", input=data)
    assert r.returncode == 1, r
    hits = {}
    for h in r.jsonl():
        hits.setdefault(h["line"], []).append(h)
    expected = {}
    for a in manifest()["applicants"]:
        text = a["illustrates"]
        if text.startswith("blacklisted, by code"):
            expected[a["line"]] = "listed"
        elif "(review)" in text or text.startswith("branch"):
            expected[a["line"]] = "review"
        else:
            expected[a["line"]] = None
    got = {line: hits[line][0]["verdict"] if line in hits else None for line in expected}
    assert got == expected
    branch = next(a["line"] for a in manifest()["applicants"] if a["illustrates"].startswith("branch"))
    assert hits[branch][0]["branch"] is True
