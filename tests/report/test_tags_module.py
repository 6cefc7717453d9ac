"""bakeoff.report.tags on hand-built trials: one row per (tag, contender), a trial counted under
each of its tags, errors apart from the judged trials, and the terminal table's cells.
(tests/report/test_tags.py runs the same through the CLI on a real model.)"""

from __future__ import annotations

import io

from rich.console import Console

from bakeoff.report.tags import print_tags, tag_rows
from report_rows import trial


def test_a_trial_counts_under_each_of_its_tags_and_errors_are_not_judged():
    trials = [trial(case_id="add", tags=["math", "easy"]),
              trial(case_id="mul", tags=["math"], passed=0, score=0.0),
              trial(case_id="div", tags=["math"], status="error", passed=None, error="timeout"),
              trial(case_id="cap", tags=["geo"], spec="llamacpp:b"),
              trial(case_id="plain")]
    rows = {(r["tag"], r["spec"]): r for r in tag_rows(trials)}
    assert set(rows) == {("easy", "llamacpp:a"), ("math", "llamacpp:a"), ("geo", "llamacpp:b")}
    math = rows[("math", "llamacpp:a")]
    assert (math["trials"], math["errors"], math["judged"], math["passed"]) == (3, 1, 2, 1)
    assert math["pass_rate"] == 0.5
    low, high = math["pass_rate_ci"]
    assert 0 < low < 0.5 < high < 1
    assert rows[("easy", "llamacpp:a")]["pass_rate"] == 1.0


def test_the_table_shows_rate_counts_and_errors_and_nothing_without_tags():
    trials = [trial(tags=["math"]), trial(case_id="x", tags=["math"], status="error", passed=None)]
    out = io.StringIO()
    print_tags(tag_rows(trials), Console(file=out, width=200), lambda v, kind: f"{v:.0%}")
    text = out.getvalue()
    assert "pass rate by tag" in text and "100% (1/1) 1 E" in text
    empty = io.StringIO()
    print_tags(tag_rows([trial()]), Console(file=empty), lambda v, kind: str(v))
    assert empty.getvalue() == ""
