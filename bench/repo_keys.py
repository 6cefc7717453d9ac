"""The comprehension questions `bakeoff repo` generates for an application, with their answer keys
and the files each prompt holds, for checking every key by hand against the code
(bench/repo-keys.md records the verdicts). Fetches nothing and runs no model: it builds the suite
with bakeoff's own API (no defects, no depths) and prints it.

    python bench/repo_keys.py APP_DIR [-c SPEC] [--questions N] [--seed S] [--json]

SPEC is the contender whose tokenizer and context decide what each prompt holds (default
qwen2.5-coder-1.5b?ctx=32768). The key of a question is meant to hold for exactly the files in its
prompt, so each question is printed with the list of those files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

HEADER = re.compile(r"^=== (.+?) \(\d+ lines\) ===$", re.M)
# The generator gives each dropped question its own reason (naming the name, the files); these
# patterns group them into the reasons of a kind, in the generator's words.
REASONS = [
    (r"is also used where the receiver is not known", "the name is also used where the receiver is not known to be "
     "the defining class or function (or as an association, attribute, column, symbol or callback)"),
    (r"is called by the framework too", "the method is called by the framework too (an action, callback or hook)"),
    (r"^the name .* is defined \d+ times|is defined \d+ times$", "the name is defined more than once"),
    (r"is defined in \d+ files", "the name is defined in more than one file"),
    (r"^called outside any named function", "called outside any named function"),
    (r"^two callers share a method", "two callers share a method name"),
    (r"computed (path|name)", "a require or import of a computed path or name"),
    (r"names a package, not a module", "`from . import ...` names a package, not a module"),
    (r"in a way not tied to", "a file names the model in a way not tied to it (an unresolved constant, a star "
     "import, a template not parsed)"),
    (r"shares the table of", "an STI subclass: shares its parent's table"),
    (r"^another model shares the table", "another model shares the table"),
    (r"table_name is not a plain string", "self.table_name is not a plain string"),
    (r"is not pluralized by the regular rules", "the table name is not pluralized by the regular rules"),
    (r"is created by no migration", "its table is created by no migration here"),
    (r"^tasks are routed to queues|^routed to a queue in", "the task is routed to a queue in the settings "
     "(task_routes), so the decorator's options are not the whole answer"),
    (r"which the question does not name", "the decorator sets another option the question does not name "
     "(e.g. base)"),
    (r"names its table .* in a way not read here", "another migration names the table in a way not read here "
     "(e.g. AlterModelTable onto it)"),
    (r"is also another app's model's", "its db_table is another app's model's table"),
    (r"^migrations touch .* in ways not read here", "a migration touches the table in a way not read here (a table "
     "name in a string or a loop)"),
]


def reason_group(reason: str) -> str:
    for pattern, group in REASONS:
        if re.search(pattern, reason):
            return group
    return reason


def grouped_reasons(reasons: dict[str, int]) -> dict[str, int]:
    counts: Counter = Counter()
    for reason, n in reasons.items():
        counts[reason_group(reason)] += n
    return dict(counts.most_common())


def build(app: Path, spec_text: str, questions: int, seed: int) -> dict:
    from bakeoff.spec import parse_spec
    from bakeoff.suite.repo import build_repo_suite

    spec = parse_spec(spec_text)
    started = time.monotonic()
    suite = build_repo_suite(app, [spec], questions=questions, defects=0, seed=seed)
    seconds = time.monotonic() - started
    cases = {c.id: c for c in suite.cases[spec.canonical]}
    rows = []
    for q in suite.questions:
        case = cases.get(f"repo/q/{q.id}")
        prompt = case.messages[0]["content"] if case else ""
        rows.append({"id": q.id, "kind": q.kind, "question": q.text, "key": list(q.answer), "match": q.match,
                     "evidence": list(q.evidence), "prompt_files": HEADER.findall(prompt)})
    out = {"app": str(app), "contender": spec.canonical, "seed": seed, "files": len(suite.repository.files),
           "skipped": len(suite.repository.skipped), "seconds": round(seconds, 1),
           "asked": dict(Counter(r["kind"] for r in rows)), "questions": rows, "notes": suite.notes,
           "budget": {k: v for k, v in suite.budgets[spec.canonical].items() if k != "left_out"}}
    try:  # every question the repository offers, and those dropped as uncertain, per kind with the reason
        from bakeoff.suite.repo import list_questions
    except ImportError:
        return out
    listing = list_questions(app)
    out["per_kind"] = listing["per_kind"]
    # A kind with certain questions none of which was asked: say how large its evidence is (its
    # files must all fit the contender's context for the question to be asked).
    from bakeoff.suite.repo.packing import render_file
    from bakeoff.suite.repo.tokens import budget_for

    by_path = {f.path: f for f in suite.repository.files}
    count = budget_for(spec).count
    out["certain_not_asked"] = {}
    for kind, n in listing["per_kind"].items():
        if n["asked"] and kind not in out["asked"]:
            sizes = sorted((sum(count(render_file(by_path[p])) for p in q["evidence"] if p in by_path), q["id"])
                           for q in listing["questions"] if q["kind"] == kind)
            out["certain_not_asked"][kind] = {"certain": n["asked"], "smallest_evidence_tokens": sizes[0][0],
                                              "question": sizes[0][1]}
    return out


def markdown(data: dict) -> str:
    lines = [f"# {data['app']}", "",
             f"{data['files']} files read ({data['skipped']} left out), contender {data['contender']}, "
             f"seed {data['seed']}, built in {data['seconds']} s", "",
             "| # | kind | question | key | files in the prompt |", "|---|---|---|---|---|"]
    for i, r in enumerate(data["questions"], 1):
        key = ", ".join(f"`{k}`" for k in r["key"]) or "(none)"
        lines.append(f"| {i} | {r['kind']} | {r['question'].replace('|', '/')} | {key} | {len(r['prompt_files'])} |")
    if "per_kind" in data:
        lines += ["", "| kind | offered | dropped as uncertain | share dropped | why |", "|---|---|---|---|---|"]
        for kind, n in data["per_kind"].items():
            total = n["asked"] + n["dropped"]
            why = "; ".join(f"{count} x {reason}" for reason, count in grouped_reasons(n["reasons"]).items()) or "-"
            share = f"{n['dropped'] / total:.0%}" if total else "-"
            lines.append(f"| {kind} | {total} | {n['dropped']} | {share} | {why} |")
    for kind, n in data.get("certain_not_asked", {}).items():
        lines.append(f"note: {kind}: {n['certain']} certain, none asked; the smallest ({n['question']}) needs "
                     f"{n['smallest_evidence_tokens']} tokens of files")
    lines += [f"note: {n}" for n in data["notes"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", type=Path)
    parser.add_argument("-c", "--contender", default="qwen2.5-coder-1.5b?ctx=32768")
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON (with each prompt's file list)")
    args = parser.parse_args()
    data = build(args.app, args.contender, args.questions, args.seed)
    print(json.dumps(data, indent=1, default=str) if args.json else markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
