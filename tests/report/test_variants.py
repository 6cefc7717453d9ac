"""bakeoff.report.variants on the real bake-off database (tests/report_db.py, a temperature
sweep of one model): the sweep's points grouped under their base contender, one reference, how
often each variant's answers differ from it, and the model file's size."""

from __future__ import annotations

import os
import sqlite3

import pytest

from bakeoff.report.variants import variant_rows
from bakeoff.store import Database
from report_db import SPECS, real_db


@pytest.fixture(scope="module")
def db_path(tmp_path_factory, smollm2):
    return real_db(tmp_path_factory)


def test_a_sweep_is_one_group_of_variants_against_one_reference(db_path, smollm2):
    db = Database(db_path)
    try:
        (group,) = variant_rows(db)
    finally:
        db.close()
    assert group["base"] == "llamacpp:smollm2-135m?threads=1"  # the swept option taken out
    by_spec = {v["spec"]: v for v in group["variants"]}
    assert set(by_spec) == set(SPECS)
    assert [v["reference"] for v in group["variants"]].count(True) == 1
    assert by_spec[group["reference"]]["compared_with_reference"] == 6  # 3 cases x 2 repeats, all answered
    with sqlite3.connect(db_path) as conn:
        outputs = {(spec, case, repeat): out for spec, case, repeat, out in conn.execute(
            "SELECT spec, case_id, repeat, output FROM trials WHERE status = 'ok'")}
    other = next(v for v in group["variants"] if not v["reference"])
    pairs = [(k, out) for k, out in outputs.items() if k[0] == other["spec"]
             and (group["reference"], k[1], k[2]) in outputs]
    assert other["compared_with_reference"] == len(pairs) > 0
    assert other["sweep"] == {"temperature": 1.5} or other["sweep"] == {"temperature": 0.0}
    model_file = os.path.realpath(smollm2)
    assert other["file_mb"] == pytest.approx(os.path.getsize(model_file) / 1e6, rel=0.01)


def test_no_sweep_no_variants(tmp_path):
    db = Database(tmp_path / "empty.db")
    try:
        assert variant_rows(db) == []
    finally:
        db.close()
