"""A long debugging session over a repository (``bakeoff repo PATH --session N``): the plan.

One conversation per contender: the packed files once, in the first message, then N turns drawn
from the repository's own facts and one seeded defect, each with a certain key:

- ``question``: a repository question (bakeoff.suite.repo.questions), its key from tree-sitter;
- ``trace``: "trace the calls into X": the files of every caller and of X's definition;
- ``followup``: on the model's own last answer ("which of those files defines X?"), or on the
  subject of the turn before, named only as "it" ("which class does it inherit from?");
- ``defect_find`` then ``defect_fix``: a seeded defect to locate, then to fix with a patch (checked
  by applying it to a scratch copy: fixed when the defect's lines read as before the defect);
- ``reask``: a fact asked early, asked again late in other words (self-consistency);
- ``pushback``: the user asserts a wrong fact about something asked earlier; the key says what
  holding the truth and giving in look like.

Keys are read from exactly the files packed (after the defect is seeded), and every question says
to answer from these files alone, so a key never depends on code the model was not shown. The
files packed are a window of the repository's code files in path order (neighbours in a
directory call each other) that fits the pack budget, the window offering the most questions.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field

from bakeoff.errors import InputError
from bakeoff.suite.repo.defects import DESCRIPTIONS, Mutation, application_file, seed_defects
from bakeoff.suite.repo.facts import collect_facts, language_of
from bakeoff.suite.repo.packing import SourceFile, load_repository, render_file
from bakeoff.suite.repo.privacy import guard, redact
from bakeoff.suite.repo.questions import ANSWER_RULE, Question, all_questions, choose_questions
from bakeoff.suite.repo.tokens import budget_for

INTRO = ("I am debugging the code below and will ask you a series of questions about it. Each file starts with "
         "a header '=== path (N lines) ===' and each line with its number. Answer every question from these "
         "files alone.\n\n")
# Kinds whose fix is a revert of the defect's own lines, and whose facts the defect leaves as they were.
SESSION_DEFECTS = ("inverted_condition", "off_by_one", "dead_code", "swallowed_exception", "needless_retry")
TURN_KINDS = ("question", "trace", "followup", "defect_find", "defect_fix", "reask", "pushback")
ANSWER_TOKENS = 96  # a right answer here is a short JSON array; a long one is a list running on
FIX_TOKENS = 256
MAX_WINDOWS = 40
PUSHBACK_RULE = ('Reply with a JSON object and nothing else: {"correct": true or false, '
                 '"answer": [the right answer, as a list of strings]}.')
LOCATE_RULE = 'Reply with a JSON object and nothing else: {"file": path, "line": number}.'
FIX_RULE = ("Reply with a unified diff (a ```diff block with ---/+++ headers and @@ hunks) that fixes it, "
            "changing only the lines that need to change.")
TOLERANCE = 3
DEFECT_RESERVE = 64


@dataclass
class SessionPlan:
    files: list[str]
    packed: str  # the files as the model sees them (the defect seeded)
    packed_tokens: int
    turns: list[dict]  # {turn, kind, fact, user, key, max_tokens}
    defect: dict | None = None  # kind, file, lines, description, original, mutated
    notes: list[str] = field(default_factory=list)
    counted_by: str = ""
    contexts: dict[str, int] = field(default_factory=dict)

    def document(self) -> dict:
        """What is stored with each session: everything a report needs to re-score a turn."""
        return {"files": self.files, "packed_tokens": self.packed_tokens, "turns": self.turns,
                "defect": self.defect, "notes": self.notes, "counted_by": self.counted_by}

    def identity(self) -> str:
        text = json.dumps({"packed": self.packed, "turns": self.turns}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def first_message(self) -> str:
        return f"{INTRO}{self.packed}\n"


# --- choosing the files ---------------------------------------------------------------------


def _windows(files: list[SourceFile], tokens, budget: int) -> list[list[SourceFile]]:
    """Runs of code files in path order, each starting at a directory's first file, filled while
    they fit BUDGET tokens (a file too large is passed over). TOKENS counts a file (lazily: a large
    repository is never counted whole)."""
    starts = [i for i, f in enumerate(files) if i == 0 or f.path.rsplit("/", 1)[0] != files[i - 1].path.rsplit("/", 1)[0]]
    if len(starts) > MAX_WINDOWS:
        step = len(starts) / MAX_WINDOWS
        starts = [starts[int(k * step)] for k in range(MAX_WINDOWS)]
    out = []
    for start in starts:
        window, used, misses = [], 0, 0
        for f in files[start:]:
            n = tokens(f)
            if used + n <= budget:
                window.append(f)
                used += n
            else:
                misses += 1
                if misses >= 3:
                    break
        if window:
            out.append(window)
    return out


def _window_score(window: list[SourceFile]) -> tuple[int, int, int]:
    """More kinds of question first (a trace needs a function called from another file), then
    more questions whose evidence spans files, then more questions."""
    qs = all_questions(collect_facts({f.path: f.text for f in window}))
    traceable = any(q.kind == "callers" and q.multi_file for q in qs)
    return len({q.kind for q in qs}) + 2 * traceable, sum(q.multi_file for q in qs), len(qs)


def choose_files(files: list[SourceFile], budget: int, count) -> list[SourceFile]:
    """The window of the application's code (no tests, migrations, scripts or configuration,
    where the repository has other code) that offers the most varied questions."""
    code = [f for f in files if language_of(f.path)]
    if not code:
        raise InputError("no Python, Ruby, JavaScript or TypeScript files to build a session from")
    code = [f for f in code if application_file(f.path)] or code
    counted: dict[str, int] = {}

    def tokens(f: SourceFile) -> int:
        if f.path not in counted:
            counted[f.path] = count(render_file(f))
        return counted[f.path]

    windows = _windows(code, tokens, budget)
    if not windows:
        raise InputError(f"no code file fits the pack budget of {budget} tokens (the smallest needs "
                         f"{min(tokens(f) for f in code)}); raise --pack-tokens")
    return max(windows, key=_window_score)


# --- wording ----------------------------------------------------------------------------------


def _name(q: Question) -> str:
    found = re.search(r"`([^`]+)`", q.text)
    return found.group(1) if found else q.id.split("-", 1)[-1]


def _where(q: Question) -> str:
    found = re.search(r"\((?:defined )?in ([^)]+)\)", q.text)
    return found.group(1) if found else q.evidence[0]


def asked(q: Question) -> str:
    return f"{q.text}\n{ANSWER_RULE}"


def reworded(q: Question) -> str:
    """The same question in other words (a re-ask): the key is the same."""
    name, where = _name(q), _where(q)
    text = {
        "defined": f"Remind me: which file is `{name}` defined in? Its path, please.",
        "callers": f"Going back to `{name}` (in {where}): what calls it? List every calling function or method by "
                   "qualified name (Class#method, Class.method, module.function), crediting a call inside a block, "
                   "lambda or nested function to the innermost named function around it.",
        "imports": f"Looking again at {q.id.split('-', 1)[1]}: which modules or paths does it import or require? "
                   "List them exactly as its import, from-import, require, require_relative, export-from or "
                   "import() statements write them.",
        "inherits": f"Back to the class `{name}` in {where}: what are its direct superclasses, as its class "
                    "statement writes them?",
        "worker_options": f"Remind me which queue and retry options `{name}` ({where}) sets itself, as strings like "
                          "\"queue=NAME\" and \"retry=VALUE\".",
    }.get(q.kind)
    return f"{text or 'Let me ask something from earlier again: ' + q.text}\n{ANSWER_RULE}"


REWORDED_KINDS = ("defined", "callers", "imports", "inherits", "worker_options")


def _set_key(q: Question) -> dict:
    return {"type": "set", "expected": list(q.answer), "match": q.match, "accept": dict(q.accept)}


def _short(qualified: str, path: str) -> str:
    """How a function is named in a question: Ruby's Class#method (it does not give the file away),
    else the short name (questions about a function are asked only where it is unique)."""
    return qualified if language_of(path) == "ruby" else re.split(r"::|\.|#", qualified)[-1]


def _trace_turns(q: Question, fact_ids: set[str]) -> list[dict]:
    """A trace of the calls into the function of a callers question, then a follow-up on the answer."""
    qualified = q.id.split("-", 1)[1]
    where = _where(q)
    name = _short(qualified, where)
    trace = {"kind": "trace", "fact": f"trace-{qualified}",
             "user": f"Trace the calls into `{name}`: which files take part? List every file that has a function or "
                     f"method calling `{name}`, and the file that defines `{name}`. Give paths.\n{ANSWER_RULE}",
             "key": {"type": "set", "expected": sorted(set(q.evidence)), "match": "path", "accept": {}},
             "max_tokens": ANSWER_TOKENS}
    followup = {"kind": "followup", "fact": f"defined-{qualified}" if f"defined-{qualified}" in fact_ids else f"file-of-{qualified}",
                "user": f"Following up on your last answer: which of those files defines `{name}`? Give its path.\n"
                        f"{ANSWER_RULE}",
                "key": {"type": "set", "expected": [where], "match": "path", "accept": {}},
                "max_tokens": ANSWER_TOKENS}
    return [trace, followup]


_FOLLOWUP = {"inherits": "Following up on that: which class does it inherit from directly? Give each direct "
                         "superclass as written in its class statement.",
             "callers": "Following up on that: which functions or methods call it? Credit a call inside a block, "
                        "lambda or nested function to the innermost named function around it; give qualified names "
                        "(Class#method, Class.method, module.function)."}


def _definition_followups(fresh: list[Question]) -> list[list[dict]]:
    """Where is X defined, then a follow-up that names X only as "it" (its superclass, or its
    callers): the model must carry the subject over from the turn before."""
    by_id = {q.id: q for q in fresh}
    pairs = []
    for q in fresh:
        if q.kind != "defined":
            continue
        subject = q.id.split("-", 1)[1]
        for kind, text in _FOLLOWUP.items():
            other = by_id.get(f"{kind}-{subject}")
            if other is not None:
                pairs.append([{"kind": "question", "fact": q.id, "user": asked(q), "key": _set_key(q),
                               "max_tokens": ANSWER_TOKENS},
                              {"kind": "followup", "fact": other.id, "user": f"{text}\n{ANSWER_RULE}",
                               "key": _set_key(other), "max_tokens": ANSWER_TOKENS}])
                break
    return pairs


def _pushback(q: Question, facts, files: list[str], rng: random.Random) -> dict | None:
    """The user asserts a wrong fact about Q's subject; None when no claim is certainly wrong."""
    name, where = _name(q), _where(q)
    claim = None
    if q.kind == "defined":
        others = [p for p in files if p != q.answer[0] and language_of(p) == language_of(q.answer[0])]
        if others:
            claim = rng.choice(others)
            text = f"Hmm, I'm fairly sure `{name}` is defined in `{claim}`, not where you said. Right?"
    elif q.kind == "inherits" and len(q.answer) == 1:
        # Neither the class itself nor its real superclass, however either is written.
        classes = sorted({d.name for d in facts.definitions if d.kind == "class"}
                         - {q.answer[0], re.split(r"::|\.", name)[-1], re.split(r"::|\.", q.answer[0])[-1]})
        if classes:
            claim = rng.choice(classes)
            text = f"So `{name}` inherits directly from `{claim}`, right?"
    elif q.kind == "worker_options":
        retry = next((a.split("=", 1)[1] for a in q.answer if a.startswith("retry=")), None)
        if retry and retry.isdigit():
            claim = f"retry={int(retry) + 2}"
            text = f"So `{name}` retries {int(retry) + 2} times, right?"
    elif q.kind == "callers":
        callers = {a.lower() for a in q.answer}
        others = sorted({d.qualified for d in facts.definitions if d.kind in ("function", "method")}
                        - set(q.answer) - {q.id.split("-", 1)[1]})
        others = [o for o in others if o.lower() not in callers and not o.split(".")[-1].startswith("_")]
        if others:
            claim = rng.choice(others)
            text = f"I think `{claim}` calls `{name}` too, so it belongs in that list. Right?"
    if claim is None:
        return None
    key = {"type": "pushback", "claim": claim, **{k: v for k, v in _set_key(q).items() if k != "type"}}
    return {"kind": "pushback", "fact": q.id, "user": f"{text}\n{PUSHBACK_RULE}", "key": key,
            "max_tokens": ANSWER_TOKENS}


def _defect_turns(m: Mutation) -> list[dict]:
    places = [[m.file, ln] for ln in m.lines] + [list(a) for a in m.also]
    find = {"kind": "defect_find", "fact": f"defect-{m.file}",
            "user": f"Something is wrong in this code: somewhere there is {DESCRIPTIONS[m.kind]}. Find it: which file "
                    f"and line?\n{LOCATE_RULE}",
            "key": {"type": "locate", "places": places, "tolerance": TOLERANCE}, "max_tokens": ANSWER_TOKENS}
    fix = {"kind": "defect_fix", "fact": f"fix-{m.file}",
           "user": f"The defect is in {m.file}, around line {m.lines[0]}: {DESCRIPTIONS[m.kind]}. Fix it. {FIX_RULE}",
           "key": {"type": "fix", "file": m.file, "lines": m.lines}, "max_tokens": FIX_TOKENS}
    return [find, fix]


# --- the plan -----------------------------------------------------------------------------------


def _layout(n: int, fresh: list[Question], traces: list[list[dict]], defect: list[dict],
            pushbacks: dict[str, dict], rng: random.Random) -> tuple[list[dict], list[str]]:
    """N turns: early questions (the facts re-asked and pushed back on among them), the defect to
    find then fix, traces and definitions with their follow-ups and pushbacks in the middle,
    re-asks at the end."""
    notes = []
    n_reask = max(1, n // 6)
    n_push = max(1, n // 8)
    n_trace = min(len(traces), max(1, n // 8))
    # Follow-ups on a definition: their questions are asked in the pair, not on their own.
    pairs = [p for p in _definition_followups(fresh)][: max(1, n // 10)]
    paired = {t["fact"] for p in pairs for t in p}
    fresh = [q for q in fresh if q.id not in paired]
    reask_src = [q for q in fresh if q.kind in REWORDED_KINDS][:n_reask] or fresh[:n_reask]
    push_src = [q for q in fresh if q.id in pushbacks and q not in reask_src][:n_push]
    push_src += [q for q in fresh if q.id in pushbacks and q not in push_src][: n_push - len(push_src)]
    reserved = 2 * n_trace + 2 * len(pairs) + len(defect) + len(reask_src) + len(push_src)
    n_fresh = max(n - reserved, len({q.id for q in reask_src + push_src}))
    early_first = list(dict.fromkeys(reask_src + push_src))
    others = [q for q in fresh if q not in early_first]
    questions = (early_first + others)[:n_fresh]
    third = max(1, n // 3)
    early = [{"kind": "question", "fact": q.id, "user": asked(q), "key": _set_key(q), "max_tokens": ANSWER_TOKENS}
             for q in questions]
    head, rest = early[:max(third, len(early_first))], early[max(third, len(early_first)):]
    middle: list[list[dict]] = [[t] for t in rest[: len(rest) // 2]] + traces[:n_trace] + pairs
    middle += [[pushbacks[q.id]] for q in push_src]
    rng.shuffle(middle)
    late = [[t] for t in rest[len(rest) // 2:]] + [[_reask(q)] for q in reask_src]
    rng.shuffle(late)
    turns = head + defect + [t for group in middle for t in group] + [t for group in late for t in group]
    # Fewer questions than turns: the rest are re-asks of facts asked earlier (each once, in order).
    spare = [q for q in questions if q not in reask_src]
    turns += [_reask(q) for q in spare[: max(0, n - len(turns))]]
    if len(turns) < n and len(questions) < n_fresh:
        notes.append(f"the packed files offer {len(fresh)} questions with certain keys; {n - len(turns)} turns fewer "
                     "than asked")
    return turns[:n], notes


def _reask(q: Question) -> dict:
    return {"kind": "reask", "fact": q.id, "user": reworded(q), "key": _set_key(q), "max_tokens": ANSWER_TOKENS}


def build_session(path, specs: list, n_turns: int, seed: int = 0, pack_tokens: int | None = None,
                  allow_cloud: bool = False) -> SessionPlan:
    """The session every contender gets: the same files, defect and turns (packed with the
    smallest budget among them)."""
    if n_turns < 1:
        raise InputError("--session needs at least 1 turn")
    cloud = guard(specs, allow_cloud)
    repo = load_repository(path)
    texts = repo.texts()
    notes = []
    if cloud:
        texts, redactions = redact(texts)
        notes.append(f"{len(redactions)} secrets redacted before any contender saw the files")
    budgets = {spec.canonical: budget_for(spec) for spec in specs}
    # Room for the turns: the files take at most half of the smallest context unless --pack-tokens says.
    smallest = min(b.context for b in budgets.values())
    budget = pack_tokens or smallest // 2
    if budget > smallest - 512:
        raise InputError(f"--pack-tokens {budget} leaves no room for the turns in a context of {smallest} tokens; "
                         f"use at most {max(smallest // 2, 256)} or raise the contender's ?ctx=")
    counters = [b.count for b in budgets.values()]
    count = (lambda text: max(c(text) for c in counters)) if len(counters) > 1 else counters[0]
    # Room for the lines a seeded defect adds (a retry loop around a statement).
    window = choose_files([SourceFile(p, t) for p, t in sorted(texts.items())], budget - DEFECT_RESERVE, count)
    chosen = {f.path: f.text for f in window}
    rng = random.Random(seed)
    facts0 = collect_facts(chosen)
    mutated, mutations = seed_defects(chosen, facts0, 1, seed, kinds=SESSION_DEFECTS)
    if not mutations:
        notes.append("no defect could be seeded in the packed files: the session has no find-and-fix turns")
    files = [SourceFile(p, t) for p, t in sorted(mutated.items())]
    packed = "".join(render_file(f) for f in files)
    if count(packed) > budget:  # a wrapped statement adds lines: drop the defect rather than overflow
        files = [SourceFile(p, t) for p, t in sorted(chosen.items())]
        packed, mutations, mutated = "".join(render_file(f) for f in files), [], chosen
        notes.append("the seeded defect made the files overflow the pack budget: no find-and-fix turns")
    facts = collect_facts(mutated)  # keys from exactly what the model sees
    fresh = choose_questions(facts, 10 * n_turns + 20, seed)
    fact_ids = {q.id for q in fresh}
    traces = [_trace_turns(q, fact_ids) for q in fresh if q.kind == "callers" and q.multi_file]
    pushbacks = {q.id: p for q in fresh if (p := _pushback(q, facts, sorted(mutated), rng)) is not None}
    defect = None
    if mutations:
        m = mutations[0]
        defect = {"kind": m.kind, "file": m.file, "lines": m.lines, "description": m.description,
                  "also": [list(a) for a in m.also], "original": chosen[m.file], "mutated": mutated[m.file]}
    defect_turns = _defect_turns(mutations[0]) if mutations else []
    if not fresh:
        raise InputError(f"{path}: the packed files ({', '.join(sorted(mutated))}) offer no question with a certain "
                         "key; point at a directory with more code, or raise --pack-tokens")
    turns, more = _layout(n_turns, fresh, traces, defect_turns, pushbacks, rng)
    notes += more
    if len(turns) < n_turns:
        notes.append(f"{len(turns)} of {n_turns} turns planned: the packed files offer no more")
    for i, t in enumerate(turns, 1):
        t["turn"] = i
    return SessionPlan(sorted(mutated), packed, count(packed), turns, defect, notes,
                       next(iter(budgets.values())).counted_by, {s: b.context for s, b in budgets.items()})


def summary_lines(plan: SessionPlan, path) -> list[str]:
    kinds = {k: sum(t["kind"] == k for t in plan.turns) for k in TURN_KINDS}
    lines = [f"{path}: session of {len(plan.turns)} turns over {len(plan.files)} files "
             f"({plan.packed_tokens} tokens packed): " + ", ".join(f"{n} {k}" for k, n in kinds.items() if n),
             "files: " + ", ".join(plan.files)]
    if plan.defect:
        lines.append(f"seeded {plan.defect['kind']} in {plan.defect['file']}:{','.join(map(str, plan.defect['lines']))}")
    return lines + [f"note: {n}" for n in plan.notes]


def key_text(key: dict) -> str:
    """A turn's key as a reader checks it."""
    kind = key["type"]
    if kind == "set":
        return f"{key['match']}s {json.dumps(key['expected'])}" + (f"; also accepted {json.dumps(key['accept'])}"
                                                                   if key.get("accept") else "")
    if kind == "locate":
        return "any of " + ", ".join(f"{f}:{ln}" for f, ln in key["places"]) + f" (±{key['tolerance']} lines)"
    if kind == "fix":
        return f"the patched {key['file']} reads as before the defect (lines {', '.join(map(str, key['lines']))})"
    return f"the claim {key['claim']!r} is wrong; the answer is {json.dumps(key['expected'])}"


def public_plan(plan: SessionPlan) -> dict:
    """The plan as shown (--json): the defect without the files' texts."""
    doc = plan.document()
    if plan.defect:
        doc["defect"] = {k: plan.defect[k] for k in ("kind", "file", "lines", "description")}
    return doc


def plan_lines(plan: SessionPlan) -> list[str]:
    """Every turn with its key, as text (--list-questions with --session)."""
    lines = []
    for t in plan.turns:
        lines += [f"turn {t['turn']} [{t['kind']}] {t['fact']}", f"  Q: {t['user']}", f"  key: {key_text(t['key'])}"]
    return lines
