"""Repository suites (``bakeoff repo PATH``): a repository turned into scored cases whose right
answers are known. Comprehension questions from tree-sitter facts, a review of seeded defects
against a review of the unmutated code, and the same questions at growing context depths; every
contender's prompts are packed to its own context with its own tokenizer. The cases are ordinary
cases with ordinary checks (``answer_set``, ``review``), so a repository suite runs, resumes and
reports like a suite file."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from bakeoff.checks import build_check
from bakeoff.errors import InputError
from bakeoff.suite.repo.defects import DESCRIPTIONS, Mutation, seed_defects
from bakeoff.suite.repo.depth import POSITIONS, pack_at_depth
from bakeoff.suite.repo.facts import collect_facts
from bakeoff.suite.repo.packing import Repository, SourceFile, load_repository, pack, render_file
from bakeoff.suite.repo.privacy import Redaction, guard, redact
from bakeoff.suite.repo.questions import ANSWER_RULE, Dropped, Question, all_questions, choose_questions, question_candidates
from bakeoff.suite.repo.tokens import budget_for
from bakeoff.suite.schema import Case

PREFIX = "repo/"
QUESTION_TOKENS = 160
REVIEW_TOKENS = 512
PROMPT_RESERVE = 400  # instructions and the chat template around the packed files
DEPTH_QUESTIONS = 3
INTRO = ("Below are files of one software repository. Each starts with a header '=== path (N lines) ===' "
         "and each line with its number.\n\n")


@dataclass
class RepoSuite:
    cases: dict[str, list[Case]]  # by contender spec (packed with that contender's tokenizer)
    questions: list[Question]
    mutations: list[Mutation]
    repository: Repository
    redactions: list[Redaction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    budgets: dict[str, dict] = field(default_factory=dict)  # spec -> context, counted_by, left out


def _question_case(case_id: str, q: Question, packed_text: str) -> Case:
    prompt = f"{INTRO}{packed_text}\nQuestion: {q.text}\n{ANSWER_RULE}"
    return Case(id=case_id, messages=[{"role": "user", "content": prompt}], max_tokens=QUESTION_TOKENS,
                temperature=0.0, tags=["repo", q.kind],
                checks=[build_check({"answer_set": {"expected": list(q.answer), "match": q.match,
                                                     **({"accept": dict(q.accept)} if q.accept else {})}})])


def review_prompt(packed_text: str) -> str:
    kinds = "\n".join(f"- {k}: {d}" for k, d in DESCRIPTIONS.items())
    return (f"{INTRO}{packed_text}\nReview this code. Look for defects of these kinds:\n{kinds}\n\n"
            'Report each defect as an object {"file": path, "line": number, "kind": one of the kinds above, '
            '"explanation": one sentence}. Reply with a JSON array of these objects and nothing else; '
            "[] if you find none.")


def build_repo_suite(path: str | Path, specs: list, questions: int = 12, defects: int = 4,
                     depths: list[int | str] | None = None, seed: int = 0, allow_cloud: bool = False,
                     tolerance: int = 3, pack_tokens: int | None = None) -> RepoSuite:
    cloud = guard(specs, allow_cloud)
    repo = load_repository(path)
    texts = repo.texts()
    facts = collect_facts(texts)  # ground truth from the code as written
    redactions: list[Redaction] = []
    notes: list[str] = []
    if cloud:
        texts, redactions = redact(texts)
        notes.append(f"{len(redactions)} secrets redacted before any contender saw the files (a cloud contender is "
                     "in the run, so every contender gets the redacted text)")
    files = [SourceFile(p, t) for p, t in sorted(texts.items())]
    by_path = {f.path: f for f in files}
    budgets = {spec.canonical: budget_for(spec) for spec in specs}
    for budget in budgets.values():  # the same rendered file is counted for many prompts
        budget.count = functools.lru_cache(maxsize=None)(budget.count)
    rooms = {}
    for name, budget in budgets.items():
        room = budget.context - PROMPT_RESERVE
        # Questions and the review pack at most PACK_TOKENS (all the context holds by default);
        # depth cases are sized by --depths alone.
        rooms[name] = (room, min(room, pack_tokens + QUESTION_TOKENS) if pack_tokens else room,
                       min(room, pack_tokens + REVIEW_TOKENS) if pack_tokens else room)
    def fits(paths, limit) -> bool:
        """Every contender can hold these files within LIMIT(its rooms) tokens."""
        return all(sum(budgets[n].count(render_file(by_path[p])) for p in set(paths) if p in by_path)
                   <= limit(rooms[n]) for n in budgets)

    holds = _KeyCheck(repo.texts(), files)  # the facts were read from the unredacted text

    def askable(q: Question) -> bool:
        """Every contender can hold the question's files, and the key read from exactly the files
        its prompt gets is the key asked (a file left out could have changed it)."""
        return fits(q.evidence, lambda r: r[1] - QUESTION_TOKENS) and all(
            holds(q, pack(files, rooms[n][1] - QUESTION_TOKENS, budgets[n].count, first=q.evidence).included)
            for n in budgets)

    # Only questions and defects whose files every contender can hold: the same suite for all.
    chosen = choose_questions(facts, questions, seed, keep=askable) if questions else []
    if questions and len(chosen) < questions:
        notes.append(f"{len(chosen)} of {questions} questions built: the repository offers no more whose files fit "
                     "every contender's context (Python, Ruby, JavaScript, TypeScript facts that tree-sitter reads)")
    per_file = (lambda r: (r[2] - REVIEW_TOKENS) // (max(defects, 1) + 1) - 64)  # room for each defect's file(s)
    allowed = {p for p in texts if fits([p], per_file)}
    mutated, mutations = seed_defects(texts, facts, defects, seed, allowed=allowed) if defects else (texts, [])
    if defects and len(mutations) < defects:
        notes.append(f"only {len(mutations)} of {defects} defects could be seeded in this repository's files that fit "
                     "the review's context")
    mutated_files = [SourceFile(p, t) for p, t in sorted(mutated.items())]
    numeric = [d for d in depths or [] if d != "max"]
    smallest = min(numeric) if numeric else min(r[0] for r in rooms.values())
    single = [q for q in all_questions(facts) if len(set(q.evidence)) == 1 and fits(q.evidence, lambda r: smallest // 2)]
    import random

    random.Random(seed).shuffle(single)
    depth_qs = single[:DEPTH_QUESTIONS]
    suite = RepoSuite({}, chosen, mutations, repo, redactions, notes)
    for spec in specs:
        budget = budgets[spec.canonical]
        room, pack_room, review_room = rooms[spec.canonical]
        cases: list[Case] = []
        left_out: dict[str, str] = {}
        for q in chosen:  # chosen only where its files fit: packing cannot refuse them
            packed = pack(files, pack_room - QUESTION_TOKENS, budget.count, first=q.evidence)
            left_out.update(dict(packed.left_out))
            cases.append(_question_case(f"{PREFIX}q/{q.id}", q, packed.text))
        if mutations:
            must = [m.file for m in mutations] + [p for m in mutations for p, _ in m.also]
            try:
                packed = pack(mutated_files, review_room - REVIEW_TOKENS, budget.count, first=must)
            except InputError as exc:
                notes.append(f"{spec.canonical}: the review is left out: {exc}")
            else:
                base_paths = [p for p in packed.included if p in by_path]
                baseline = "".join(render_file(by_path[p]) for p in base_paths)
                seeded = [m.to_seeded() for m in mutations]
                cases.append(Case(id=f"{PREFIX}review", messages=[{"role": "user", "content": review_prompt(packed.text)}],
                                  max_tokens=REVIEW_TOKENS, tags=["repo", "review"],
                                  checks=[build_check({"review": {"seeded": seeded, "tolerance": tolerance}})]))
                cases.append(Case(id=f"{PREFIX}baseline", messages=[{"role": "user", "content": review_prompt(baseline)}],
                                  max_tokens=REVIEW_TOKENS, tags=["repo", "baseline"]))
        for depth in depths or []:
            target = room - QUESTION_TOKENS if depth == "max" else int(depth)
            if target > room - QUESTION_TOKENS:
                notes.append(f"{spec.canonical}: depth {depth} tokens left out: the contender holds {budget.context} "
                             f"tokens ({budget.context_source}); raise it, e.g. ?ctx={int(depth) * 2}")
                continue
            for i, q in enumerate(depth_qs):
                position = POSITIONS[i % len(POSITIONS)]
                packed = pack_at_depth(files, q.evidence[0], target, position, budget.count, seed)
                if packed is None:
                    notes.append(f"{spec.canonical}: depth {depth}: the repository holds too few tokens to fill "
                                 f"{target} around {q.evidence[0]}")
                    break
                if not holds(q, packed.included):
                    notes.append(f"{spec.canonical}: depth {depth}: {q.id} left out: its key changes without the "
                                 "files this depth leaves out")
                    continue
                # The id carries the depth (the report's axis) and where the answering file sits.
                cases.append(_question_case(f"{PREFIX}depth/{target}/{q.id}@{position:.1f}", q, packed.text))
        suite.cases[spec.canonical] = cases
        suite.budgets[spec.canonical] = {"context": budget.context, "context_source": budget.context_source,
                                         "counted_by": budget.counted_by, "left_out": left_out}
    return suite


class _KeyCheck:
    """Whether a question keeps its key when the facts are read from only some files (those one
    prompt holds): the key must come from exactly the files the model sees."""

    def __init__(self, texts: dict[str, str], files: list[SourceFile]):
        self.texts, self.all = texts, {f.path for f in files}
        self.cache: dict[frozenset, dict[str, Question]] = {}

    def __call__(self, q: Question, included) -> bool:
        paths = frozenset(included)
        if paths >= self.all:
            return True
        if paths not in self.cache:
            self.cache[paths] = {x.id: x for x in all_questions(collect_facts({p: self.texts[p] for p in paths}))}
        same = self.cache[paths].get(q.id)
        return same is not None and same.answer == q.answer and same.accept == q.accept


def suite_document(suite: RepoSuite, spec: str) -> dict:
    """The suite as a suite file (``bakeoff run FILE`` runs it): the cases packed for SPEC."""
    cases = []
    for c in suite.cases[spec]:
        entry = {"id": c.id, "messages": c.messages, "max_tokens": c.max_tokens, "temperature": c.temperature,
                 "tags": c.tags}
        if c.checks:
            entry["checks"] = [{k["kind"]: k["params"]} for k in (ch.identity() for ch in c.checks)]
        cases.append(entry)
    return {"contenders": [spec], "cases": cases}


def suite_facts(suite: RepoSuite) -> dict:
    """What the suite holds, for ``bakeoff repo --json``."""
    return {"files": len(suite.repository.files), "git": suite.repository.git,
            "skipped": [{"path": p, "why": w} for p, w in suite.repository.skipped],
            "questions": [q.id for q in suite.questions],
            "defects": [{"kind": m.kind, "file": m.file, "lines": m.lines, "description": m.description}
                        for m in suite.mutations],
            "redactions": [str(r) for r in suite.redactions], "notes": suite.notes, "contexts": suite.budgets}


def list_questions(path: str | Path) -> dict:
    """Every question the repository offers with its key, and the ones dropped as uncertain (per
    kind, with the reason), for ``bakeoff repo PATH --list-questions``: the keys can be checked by
    hand without running a model."""
    repo = load_repository(path)
    candidates = question_candidates(collect_facts(repo.texts()))
    asked = [q for q in candidates if isinstance(q, Question)]
    dropped = [d for d in candidates if isinstance(d, Dropped)]
    kinds = sorted({c.kind for c in candidates})
    per_kind = {k: {"asked": sum(q.kind == k for q in asked), "dropped": sum(d.kind == k for d in dropped),
                    "reasons": _counts(d.reason for d in dropped if d.kind == k)} for k in kinds}
    return {"files": len(repo.files), "per_kind": per_kind,
            "questions": [{"id": q.id, "kind": q.kind, "text": q.text, "key": list(q.answer), "match": q.match,
                           "accepted_too": {alt: item for alt, item in q.accept}, "evidence": list(q.evidence)}
                          for q in asked],
            "dropped": [{"kind": d.kind, "subject": d.subject, "reason": d.reason} for d in dropped]}


def _counts(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def question_lines(listing: dict) -> list[str]:
    """The listing as text: each question and its key, then per kind how many were asked and dropped."""
    lines = []
    for q in listing["questions"]:
        lines += [f"[{q['kind']}] {q['id']}", f"  Q: {q['text']}", f"  key: {q['key']}"]
        if q["accepted_too"]:
            lines.append(f"  also accepted: {q['accepted_too']}")
    lines.append("")
    for kind, n in listing["per_kind"].items():
        total = n["asked"] + n["dropped"]
        lines.append(f"{kind}: {n['asked']} asked, {n['dropped']} dropped as uncertain"
                     + (f" ({n['dropped'] / total:.0%})" if total else ""))
        lines += [f"  {count} x {reason}" for reason, count in n["reasons"].items()]
    return lines


def summary_lines(suite: RepoSuite, path) -> list[str]:
    """What the user is told before the run: files packed and left out, redactions, each
    contender's context and token count, the seeded defects, notes."""
    repo = suite.repository
    skipped = ", ".join(f"{p} ({w})" for p, w in repo.skipped[:12]) + (" ..." if len(repo.skipped) > 12 else "")
    lines = [f"{path}: {len(repo.files)} files packed ({'git' if repo.git else 'plain directory'}), "
             f"{len(repo.skipped)} left out: " + (skipped or "none")]
    if suite.redactions:
        lines.append(f"redacted {len(suite.redactions)} secrets before sending: " + ", ".join(map(str, suite.redactions)))
    for spec, b in suite.budgets.items():
        lines.append(f"{spec}: context {b['context']} tokens ({b['context_source']}); tokens {b['counted_by']}; "
                     f"{len(suite.cases[spec])} cases" + (f"; {len(b['left_out'])} files left out of at least one "
                                                          "prompt (over the budget)" if b["left_out"] else ""))
    lines += [f"seeded {m.kind} in {m.file}:{','.join(map(str, m.lines))}" for m in suite.mutations]
    return lines + [f"note: {note}" for note in suite.notes]


def suite_label(path, questions: int, defects: int, depths, seed: int, pack_tokens: int | None = None) -> str:
    depth_text = ",".join(str(d) for d in depths) if depths else "none"
    return (f"repo:{path} (--questions {questions} --defects {defects} --depths {depth_text} --seed {seed}"
            + (f" --pack-tokens {pack_tokens}" if pack_tokens else "") + ")")
