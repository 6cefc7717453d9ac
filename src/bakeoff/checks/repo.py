"""Checks of repository suites (``bakeoff repo``).

``answer_set``: the answer is a set (a JSON array of strings, else a list one item a line or
comma-separated); scored with precision and recall against the known set after normalising paths
and names; the score is F1, and the case passes only on the exact set::

    - answer_set: {expected: [app/models/user.rb], match: path}

``review``: the answer is a code review as JSON, a list of findings {file, line, kind,
explanation}; the score is the recall of the seeded defects, a finding matching a defect when
its file and kind agree and its line is within ``tolerance`` lines of one of the defect's lines::

    - review: {seeded: [{file: a.py, lines: [12], kind: off_by_one}], tolerance: 3}

Findings that match nothing seeded are counted in the detail; whether they are false positives
is decided by the report, against the same contender's review of the unmutated repository.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from bakeoff.checks.base import Check, CheckParams
from bakeoff.util.answers import json_values

def answer_items(text: str) -> list[str]:
    """The items of a set answer: the first JSON array of strings, else lines / commas."""
    for value in json_values(text):
        if isinstance(value, dict):
            value = next((v for v in value.values() if isinstance(v, list)), None)
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            return [str(v) for v in value]
    # No whole JSON array (none, or one cut off by max_tokens): one item a line or between commas,
    # without list marks, brackets and quotes.
    parts = re.split(r"[\n,]", text)
    items = (re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", p).strip().strip("[]").strip().strip("`'\"") for p in parts)
    return [p for p in items if p]


def normalise(item: str, match: str) -> str:
    s = item.strip().strip("`'\"").strip()
    if match == "path":
        s = s.replace("\\", "/")
        s = re.sub(r":\d+(-\d+)?$", "", s)
        while s.startswith("./"):
            s = s[2:]
        return s.lstrip("/").lower()
    if match == "module":
        s = re.sub(r"\.(rb|py|js|ts|tsx|jsx|mjs)$", "", s)
        while s.startswith("./"):
            s = s[2:]
        return s.lower()
    if match == "option":
        s = re.sub(r"\s+", "", s.lower()).replace(":", "=").replace("'", "").replace('"', "")
        s = re.sub(r"=+", "=", s)
        return s.replace("max_retries=", "retry=")
    s = s.lstrip(":").removesuffix("()")
    s = re.split(r"::|\.|#", s)[-1] if not re.search(r"\[", s) else s.split("::")[-1]
    return s.lower()


def _qualified(item: str) -> str:
    """A name with its qualifiers, separators made one: Shop::Order#total -> shop.order.total; a
    qualifier written as the file (src/lib/session.ts#findSession) is the module it names."""
    s = item.strip().strip("`'\"").strip().lstrip(":").removesuffix("()")
    s = re.sub(r"\.(?:rb|py|jsx?|tsx?|mjs|cjs)(?=#|::|\.)", "", s)
    return re.sub(r"::|#", ".", s).lower()


def _same_name(given: str, want: set[str]) -> str:
    """The expected name a given one means: the same, or the one expected name it is a qualified
    tail of (bill for billing.Service.bill), or the one it qualifies further (django_otp.Device for
    Device); an answer that fits two expected names matches neither."""
    if given in want:
        return given
    fits = [w for w in want if w.endswith("." + given) or given.endswith("." + w)]
    return fits[0] if len(fits) == 1 else given


def set_scores(output: str, expected: list[str], match: str,
               accept: dict[str, str] | None = None) -> tuple[float, float, list[str]]:
    """(precision, recall, normalised items given). ACCEPT: another answer that counts as an expected
    item (a call inside a nested function: the enclosing function is accepted for the inner one)."""
    norm = _qualified if match == "name" else (lambda s: normalise(s, match))
    want = {norm(e) for e in expected}
    also = {norm(alt): norm(item) for alt, item in (accept or {}).items()}
    got = {norm(g) for g in answer_items(output)} - {""}
    if match == "name":  # a partly qualified answer means the one expected (or accepted) name it fits
        got = {_same_name(g, want | set(also)) for g in got}
    got = {g if g in want else also.get(g, g) for g in got}
    hits = len(want & got)
    precision = hits / len(got) if got else (1.0 if not want else 0.0)
    recall = hits / len(want) if want else (1.0 if not got else 0.0)
    return precision, recall, sorted(got)


class AnswerSet(Check):
    """The answer's set equals the known set (scored F1 of precision and recall)."""

    kind = "answer_set"

    class Params(CheckParams):
        what: ClassVar[str] = "answer_set check"
        expected: list[str]
        match: Literal["path", "name", "module", "option"] = "name"
        accept: dict[str, str] = Field(default_factory=dict)  # another answer -> the expected item it counts as

    def run(self, output: str, case: Any) -> tuple[float, str]:
        p, r, got = set_scores(output, self.params.expected, self.params.match, self.params.accept)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return f1, f"precision {p:.2f}, recall {r:.2f}; expected {sorted(self.params.expected)}, got {got}"


# --- reviews ---

# The kinds of seeded defect (bakeoff.suite.repo.defects seeds them; a review names them).
DEFECT_KINDS = {
    "duplicate": "logic duplicated from another file under a new name",
    "needless_retry": "a retry loop around a call that does not need retrying",
    "migration": "a migration that contradicts or undoes an earlier one",
    "dead_code": "a code path that can never run",
    "renamed_call": "a call to a function that no longer exists under that name (it was renamed)",
    "inverted_condition": "a condition that tests the opposite of what it should",
    "off_by_one": "a boundary that is off by one (< where <= is meant, or the reverse)",
    "swallowed_exception": "an exception caught and silently ignored",
}
REVIEW_KINDS = (*DEFECT_KINDS, "other")
_KIND_WORDS = [("duplic", "duplicate"), ("retry", "needless_retry"), ("migrat", "migration"), ("dead", "dead_code"),
               ("unreach", "dead_code"), ("rename", "renamed_call"), ("undefined", "renamed_call"),
               ("no such", "renamed_call"), ("invert", "inverted_condition"), ("negat", "inverted_condition"),
               ("off", "off_by_one"), ("boundary", "off_by_one"), ("swallow", "swallowed_exception"),
               ("exception", "swallowed_exception"), ("silent", "swallowed_exception")]


def review_kind(text: str) -> str:
    t = str(text).strip().lower().replace("-", "_").replace(" ", "_")
    if t in REVIEW_KINDS:
        return t
    for word, kind in _KIND_WORDS:
        if word in t:
            return kind
    return "other"


class Seeded(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str
    lines: list[int] = Field(min_length=1)
    kind: str
    also: list[tuple[str, int]] = Field(default_factory=list)  # other places that reveal it (file, line)


def findings(output: str) -> list[dict[str, Any]]:
    """The review's findings {file, line, kind}: the first JSON list of objects with a file."""
    for value in json_values(output):
        if isinstance(value, dict):
            value = next((v for v in value.values() if isinstance(v, list)), [value] if "file" in value else None)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out = []
            for v in value:
                try:
                    line = int(str(v.get("line", 0)).split("-")[0].strip() or 0)
                except ValueError:
                    line = 0
                out.append({"file": normalise(str(v.get("file", "")), "path"), "line": line,
                            "kind": review_kind(v.get("kind", "")), "explanation": str(v.get("explanation", ""))[:300]})
            return out
        if isinstance(value, list) and not value:
            return []
    return []


def matches(finding: dict, seeded: Seeded, tolerance: int) -> bool:
    if finding["kind"] != review_kind(seeded.kind):
        return False
    places = [(seeded.file, ln) for ln in seeded.lines] + list(seeded.also)
    return any(finding["file"] == normalise(f, "path") and abs(finding["line"] - ln) <= tolerance for f, ln in places)


def review_scores(output: str, seeded: list[Seeded], tolerance: int) -> tuple[int, list[dict], list[dict]]:
    """(seeded defects found, findings matching a seeded defect, findings matching none)."""
    got = findings(output)
    found = sum(1 for s in seeded if any(matches(f, s, tolerance) for f in got))
    matched = [f for f in got if any(matches(f, s, tolerance) for s in seeded)]
    return found, matched, [f for f in got if f not in matched]


class Review(Check):
    """Recall of the seeded defects in a JSON code review."""

    kind = "review"

    class Params(CheckParams):
        what: ClassVar[str] = "review check"
        seeded: list[Seeded]
        tolerance: int = Field(default=3, ge=0)

    def run(self, output: str, case: Any) -> tuple[float, str]:
        found, _, unmatched = review_scores(output, self.params.seeded, self.params.tolerance)
        total = len(self.params.seeded)
        return (found / total if total else 1.0,
                f"found {found} of {total} seeded defects; {len(unmatched)} findings match none")
