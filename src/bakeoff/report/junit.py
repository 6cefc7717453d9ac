"""`bakeoff report --junit FILE`: JUnit XML for CI dashboards (GitLab, Jenkins, GitHub test reporters).

One <testsuite> per contender, one <testcase> per trial (named by the case, plus the repeat
when a case ran more than once). A trial whose checks failed is a <failure> carrying every
check's verdict and detail; a trial that ended in an error is an <error>; a case without
checks is <skipped> (it has no verdict). The answer goes to <system-out>.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict

from bakeoff.report.sandbox import sandbox_warnings
from bakeoff.store import Database

# XML 1.0 cannot carry most control characters, even escaped; a model can emit them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value) -> str:
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def _threshold(trial) -> float | None:
    try:
        return float(json.loads(trial["case_json"] or "{}").get("pass_threshold"))
    except (TypeError, ValueError, AttributeError):
        return None


def _seconds(trial) -> str:
    return f"{(trial['e2e_ms'] or 0) / 1000:.3f}"


def _unconfined_runs(db: Database) -> dict[str, str]:
    """Run id -> its warning, for the runs whose model-written code ran unconfined."""
    runs = [{"id": r["id"], "environment": json.loads(r["environment"] or "{}")} for r in db.runs()]
    return {r["id"]: line for r in runs for line in sandbox_warnings([r])}


def to_junit(db: Database, run_id: str | None = None) -> str:
    trials = db.trials(run_id)
    checks = db.check_results_by_trial({t["id"] for t in trials})
    by_spec: dict[str, list] = defaultdict(list)
    for t in trials:
        by_spec[t["spec"]].append(t)
    root = ET.Element("testsuites", name="bakeoff")
    totals = Counter()
    unconfined = _unconfined_runs(db)
    for spec, ts in by_spec.items():
        repeats = Counter(t["case_id"] for t in ts)
        suite = ET.SubElement(root, "testsuite", name=xml_text(spec))
        warnings = sorted({unconfined[t["run_id"]] for t in ts if t["run_id"] in unconfined})
        if warnings:  # code of these trials ran with no isolation (--allow-unconfined-code)
            props = ET.SubElement(suite, "properties")
            for line in warnings:
                ET.SubElement(props, "property", name="warning", value=xml_text(line))
        counts = Counter(tests=len(ts))
        seconds = 0.0
        for t in ts:
            name = t["case_id"] if repeats[t["case_id"]] == 1 else f"{t['case_id']} [repeat {t['repeat']}]"
            case = ET.SubElement(suite, "testcase", classname=xml_text(spec), name=xml_text(name), time=_seconds(t))
            seconds += (t["e2e_ms"] or 0) / 1000
            if t["status"] != "ok":
                counts["errors"] += 1
                err = ET.SubElement(case, "error", type="trial error",
                                    message=xml_text((t["error"] or "error").splitlines()[0][:300]))
                err.text = xml_text(t["error"])
                continue
            if t["passed"] is None:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message="no checks: the case has no verdict")
            elif not t["passed"]:
                counts["failures"] += 1
                results = checks.get(t["id"], [])
                failed = [c for c in results if not c["passed"]]
                threshold = _threshold(t)
                message = (f"score {t['score']:.2f} below the pass threshold {threshold:.2f}; " if t["score"] is not None
                           and threshold is not None else "") + f"{len(failed)} of {len(results)} checks failed"
                fail = ET.SubElement(case, "failure", type="checks", message=xml_text(message))
                fail.text = xml_text("\n".join(
                    f"{'pass' if c['passed'] else 'FAIL'} {c['kind']} (score {c['score']:.2f}, weight {c['weight']:g})"
                    + (f": {c['detail']}" if c["detail"] else "") for c in results))
            out = ET.SubElement(case, "system-out")
            out.text = xml_text(t["output"])
        for key in ("tests", "failures", "errors", "skipped"):
            suite.set(key, str(counts[key]))
            totals[key] += counts[key]
        suite.set("time", f"{seconds:.3f}")
        if ts:
            suite.set("timestamp", xml_text(ts[0]["started_at"]))
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(db: Database, path, run_id: str | None = None):
    from bakeoff.report.html import write_report_file

    return write_report_file(path, to_junit(db, run_id))
