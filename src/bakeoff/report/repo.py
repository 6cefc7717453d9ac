"""Repository-suite figures per contender (the ``repo`` object of ``bakeoff report --json``).

- comprehension_precision, comprehension_recall: means over the comprehension questions
  (``repo/q/...``) of the set answer's precision and recall (a trial that ended in an error
  counts 0 for both)
- defect_recall: seeded defects found / seeded, over the reviews (``repo/review``)
- false_positives: findings of a review that match no seeded defect and nothing the same
  contender reported in its review of the unmutated code (``repo/baseline``: same file and kind,
  line within the tolerance), so real pre-existing findings are not counted against the model
- depth_accuracy: context tokens -> questions answered exactly / asked (``repo/depth/N/...``)
All figures are recomputed from the stored answers and the cases' stored checks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from bakeoff.checks.repo import Seeded, findings, review_scores, set_scores

PREFIX = "repo/"  # suite.repo.PREFIX, not imported: reading a report needs no tree-sitter


def _check(case: dict, kind: str) -> dict | None:
    return next((c["params"] for c in case.get("checks", []) if c.get("kind") == kind), None)


def _answer_scores(t, case: dict) -> tuple[float, float]:
    """Precision and recall of a question's answer set (an error trial: 0 and 0)."""
    if t["status"] != "ok":
        return 0.0, 0.0
    params = _check(case, "answer_set")
    return set_scores(t["output"] or "", params["expected"], params.get("match", "name"), params.get("accept"))[:2]


def repo_figures(trials: list[Any]) -> dict[str, dict[str, Any]]:
    by_spec: dict[str, list] = defaultdict(list)
    for t in trials:
        if (t["case_id"] or "").startswith(PREFIX):
            by_spec[t["spec"]].append(t)
    out = {}
    for spec, ts in by_spec.items():
        precisions, recalls = [], []
        found = seeded_total = false_pos = matched_baseline = 0
        # the contender's review of the unmutated code (the last one stored)
        base = next((t for t in reversed(ts) if t["case_id"] == PREFIX + "baseline"), None)
        before = findings(base["output"] or "") if base is not None and base["status"] == "ok" else []
        depth_targets: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # context tokens -> exact, asked
        for t in ts:
            case = json.loads(t["case_json"])
            cid = t["case_id"]
            if cid.startswith(PREFIX + "q/"):
                p, r = _answer_scores(t, case)
                precisions.append(p)
                recalls.append(r)
            elif cid.startswith(PREFIX + "depth/"):
                p, r = _answer_scores(t, case)
                target = depth_targets[int(cid.split("/")[2])]
                target[0] += int(p == 1.0 and r == 1.0)
                target[1] += 1
            elif cid == PREFIX + "review":
                params = _check(case, "review")
                seeded = [Seeded.model_validate(s) for s in params["seeded"]]
                tolerance = params.get("tolerance", 3)
                seeded_total += len(seeded)
                if t["status"] != "ok":
                    continue
                n, _, unmatched = review_scores(t["output"] or "", seeded, tolerance)
                found += n
                for f in unmatched:
                    if any(b["file"] == f["file"] and b["kind"] == f["kind"] and abs(b["line"] - f["line"]) <= tolerance
                           for b in before):
                        matched_baseline += 1
                    else:
                        false_pos += 1
        out[spec] = {
            "questions": len(precisions),
            "comprehension_precision": sum(precisions) / len(precisions) if precisions else None,
            "comprehension_recall": sum(recalls) / len(recalls) if recalls else None,
            "seeded_defects": seeded_total,
            "defects_found": found,
            "defect_recall": found / seeded_total if seeded_total else None,
            "false_positives": false_pos if seeded_total else None,
            "findings_also_in_baseline": matched_baseline,
            "depth_accuracy": {str(k): v[0] / v[1] for k, v in sorted(depth_targets.items())},
            "depth_cases": {str(k): v[1] for k, v in sorted(depth_targets.items())},
            "errors": sum(1 for t in ts if t["status"] != "ok"),
            "units": {"depth_accuracy": "context tokens (the contender's tokenizer, or an estimate where it has "
                                        "none) -> fraction of questions answered with exactly the right set"},
        }
    return out


def print_repo(data: dict, console) -> None:
    rows = [r for r in data["contenders"] if r.get("repo")]
    if not rows:
        return
    from rich.table import Table

    from bakeoff.report.matrix import fmt

    depths = sorted({int(k) for r in rows for k in r["repo"]["depth_accuracy"]})
    table = Table(title="repository suite", title_justify="left")
    for header in ("contender", "questions", "precision", "recall", "defects found", "false pos.",
                   *(f"@{d // 1024}k" if d % 1024 == 0 else f"@{d}" for d in depths)):
        table.add_column(header, justify="left" if header == "contender" else "right", overflow="fold")
    for r in rows:
        x = r["repo"]
        table.add_row(r["spec"], str(x["questions"]), fmt(x["comprehension_precision"], "pct"),
                      fmt(x["comprehension_recall"], "pct"),
                      f"{x['defects_found']}/{x['seeded_defects']}" if x["seeded_defects"] else "–",
                      "–" if x["false_positives"] is None else str(x["false_positives"]),
                      *(fmt(x["depth_accuracy"].get(str(d)), "pct") for d in depths))
    console.print(table)
    console.print("[dim]precision, recall: means over the comprehension questions' answer sets. defects found: "
                  "seeded defects a review named (file and kind, line within the tolerance). false pos.: findings "
                  "matching no seeded defect and nothing in the contender's review of the unmutated code. @N: "
                  "questions answered exactly with the answering file inside N tokens of context.[/dim]")
