"""LLM judges: a rubric check graded by a model, and the pieces pairwise judging shares.

In a suite::

    - judge: {rubric: "Names the missing index and says how to add it.",
              judge: "qwen2.5-coder-0.5b?threads=1", scale: 1-5, pass_at: 4}

The judge is any contender spec. Its reply is constrained to a JSON object
``{"reasons": str, "score": int}`` (reasons first, so a small model explains before it scores;
the schema becomes a GBNF grammar for llama.cpp and ``response_format: json_schema`` for an
OpenAI-compatible server). A judge check is *deferred*: at trial time it is only marked
``pending`` (so the judge model neither shares memory with the contender nor slows its timed
trials); the judge phase (bakeoff.run.judges) grades every pending check after the contenders,
writes its result and recomputes the trial's verdict. A reply that cannot be parsed (or a judge
that fails on the request) is recorded as ``judge_error``: it counts as neither pass nor fail and
is left out of the trial's verdict.

The check passes when the judge's score reaches ``pass_at``; its score in the verdict is then 1,
else 0 (the judge's own score is kept in the detail and in the ``judgements`` table).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, field_validator, model_validator

from bakeoff.checks.base import Check, CheckConfigError, CheckParams, scalar_text
from bakeoff.errors import InputError

if TYPE_CHECKING:
    from bakeoff.suite.schema import Case

#: check_results.detail of a judge check not graded yet; of one whose reply could not be used.
PENDING = "pending"
JUDGE_ERROR = "judge_error"
KIND = "judge"

DEFAULT_MAX_TOKENS = 96
Text = Annotated[str, BeforeValidator(scalar_text)]
_SCALE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


def is_pending(kind: str, detail: str | None) -> bool:
    return kind == KIND and (detail or "").startswith(PENDING)


def is_judge_error(kind: str, detail: str | None) -> bool:
    return kind == KIND and (detail or "").startswith(JUDGE_ERROR)


@dataclass(frozen=True)
class Scale:
    """``1-5`` (any LO-HI of integers) or ``pass/fail`` (scored 1 or 0)."""

    low: int
    high: int
    binary: bool = False

    @classmethod
    def parse(cls, text: str) -> Scale:
        if text.strip().lower() in ("pass/fail", "pass-fail", "passfail"):
            return cls(0, 1, binary=True)
        m = _SCALE.match(text)
        if not m:
            raise ValueError(f"scale is LO-HI (e.g. 1-5) or pass/fail, got {text!r}")
        low, high = int(m.group(1)), int(m.group(2))
        if not low < high or high - low > 100:
            raise ValueError(f"scale {text!r}: LO must be below HI, at most 100 apart")
        return cls(low, high)

    def __str__(self) -> str:
        return "pass/fail" if self.binary else f"{self.low}-{self.high}"

    @property
    def default_pass_at(self) -> int:
        return 1 if self.binary else self.low + math.ceil(0.75 * (self.high - self.low))

    def instruction(self) -> str:
        """How the judge is told to score, in its prompt."""
        if self.binary:
            return "score 1 if the response meets the rubric, 0 if it does not"
        return f"score from {self.low} (worst) to {self.high} (best)"


def reply_schema(scale: Scale, reasons_chars: int, score_key: str = "score",
                 values: list[Any] | None = None) -> dict[str, Any]:
    """The JSON schema a judge's reply is constrained to: reasons first, then the score.

    ``maxLength`` on the reasons keeps a grammar-constrained reply inside its max_tokens (an
    unbounded string is how a small model runs out of tokens before it closes the object).
    """
    return {
        "type": "object",
        "properties": {
            "reasons": {"type": "string", "maxLength": reasons_chars},
            score_key: {"enum": values} if values is not None
            else {"type": "integer", "enum": list(range(scale.low, scale.high + 1))},
        },
        "required": ["reasons", score_key],
        "additionalProperties": False,
    }


def reasons_chars(max_tokens: int) -> int:
    """How long the reasons may be so the whole reply fits in max_tokens (about 2 characters a
    token, with room for the JSON around them)."""
    return max(16, min(400, 2 * (max_tokens - 16)))


class ReplyError(ValueError):
    """A judge's reply that cannot be used (not JSON, wrong shape, score off the scale)."""


def parse_reply(text: str, allowed: list[Any], score_key: str = "score") -> tuple[Any, str]:
    """(score, reasons) from a judge's reply, or ReplyError saying why not.

    Accepts the JSON object alone, in a fenced block, or as the outermost ``{...}`` of the
    text (judges without constrained decoding often add a sentence around it).
    """
    stripped = (text or "").strip()
    if not stripped:
        raise ReplyError("empty reply")
    candidates = [stripped]
    fence = re.search(r"```(?:json)?\s*(.*?)```", stripped, re.DOTALL)
    if fence:
        candidates.append(fence.group(1).strip())
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start:end + 1])
    data: Any = None
    for candidate in candidates:
        try:
            data = json.loads(candidate)
            break
        except ValueError:
            continue
    else:
        raise ReplyError(f"not JSON: {stripped[:80]!r}" + ("..." if len(stripped) > 80 else ""))
    if not isinstance(data, dict):
        raise ReplyError(f"not a JSON object: {type(data).__name__}")
    if score_key not in data:
        raise ReplyError(f"no {score_key!r} in the reply")
    value = data[score_key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):  # "tie" / "Tie": judges without a grammar vary the case
        value = next((a for a in allowed if isinstance(a, str) and a.lower() == value.strip().lower()), value)
    if isinstance(value, bool) or value not in allowed:
        raise ReplyError(f"{score_key} {value!r} is not one of {allowed}")
    reasons = data.get("reasons", "")
    return value, reasons if isinstance(reasons, str) else json.dumps(reasons)


def transcript(messages: list[dict[str, str]]) -> str:
    """The task as the contender saw it: the last user message alone, or the whole
    conversation when there were earlier turns (system prompt left out)."""
    turns = [m for m in messages if m.get("role") != "system"]
    if len(turns) == 1:
        return turns[0]["content"]
    return "\n".join(f"[{m['role']}] {m['content']}" for m in turns)


RUBRIC_SYSTEM = "Grade the RESPONSE to the TASK against the RUBRIC. Reply with JSON: reasons (one short sentence), then score."


def rubric_messages(rubric: str, scale: Scale, task: str, output: str) -> list[dict[str, str]]:
    user = f"TASK:\n{task}\n\nRESPONSE:\n{output}\n\nRUBRIC:\n{rubric}\n\nScore: {scale.instruction()}."
    return [{"role": "system", "content": RUBRIC_SYSTEM}, {"role": "user", "content": user}]


class JudgeCheck(Check):
    """Rubric grading by a judge model (deferred to the judge phase)."""

    kind = KIND
    deferred: ClassVar[bool] = True  # evaluate() marks it pending; bakeoff.run.judges grades it

    class Params(CheckParams):
        what: ClassVar[str] = "judge check"
        rubric: Text
        judge: Text = Field(description="the judge: any contender spec")
        scale: Text = "1-5"
        pass_at: int | None = Field(None, strict=True)
        max_tokens: int = Field(DEFAULT_MAX_TOKENS, gt=8, le=4096, strict=True,
                                description="tokens the judge may write (its reasons are bounded to fit)")

        @field_validator("rubric", "judge")
        @classmethod
        def _not_blank(cls, value: str) -> str:
            if not value.strip():
                raise ValueError("must not be empty")
            return value

        @field_validator("scale")
        @classmethod
        def _scale(cls, value: str) -> str:
            return str(Scale.parse(value))

        @model_validator(mode="after")
        def _pass_at_on_scale(self) -> JudgeCheck.Params:
            scale = Scale.parse(self.scale)
            if self.pass_at is not None and not scale.low <= self.pass_at <= scale.high:
                raise ValueError(f"pass_at {self.pass_at} is outside the scale {scale}")
            return self

    params: Params

    def prepare(self) -> None:
        from bakeoff.spec import parse_contender

        try:
            self.spec = parse_contender(self.params.judge)
        except InputError as exc:
            raise CheckConfigError(f"judge: {exc.message}", ("judge",)) from None
        self.scale = Scale.parse(self.params.scale)
        self.pass_at = self.params.pass_at if self.params.pass_at is not None else self.scale.default_pass_at

    def identity(self) -> Any:
        # The judge spec in canonical form: option order and aliases do not make a new trial.
        return {**self.params.model_dump(mode="json", exclude_none=True), "judge": self.spec.canonical}

    def run(self, output: str, case: Case | None) -> tuple[float | bool, str]:
        # Only reached when something evaluates without deferring (evaluate() defers it).
        return 0.0, f"{PENDING}: graded by {self.spec.canonical} in the judge phase"

    def pending_detail(self) -> str:
        return f"{PENDING}: graded by {self.spec.canonical} after the contenders"

    # --- used by the judge phase --------------------------------------------------------

    @property
    def judge_max_tokens(self) -> int:
        return int(self.spec.options.get("max_tokens") or self.params.max_tokens)

    def schema(self) -> dict[str, Any]:
        return reply_schema(self.scale, reasons_chars(self.judge_max_tokens))

    def messages(self, case_messages: list[dict[str, str]], output: str) -> list[dict[str, str]]:
        return rubric_messages(self.params.rubric, self.scale, transcript(case_messages), output or "")

    def grade(self, reply: str) -> tuple[float, bool, int, str, str]:
        """(check score, passed, judge's score, reasons, detail) from a reply; ReplyError if unusable."""
        allowed = list(range(self.scale.low, self.scale.high + 1))
        value, reasons = parse_reply(reply, allowed)
        passed = value >= self.pass_at
        shown = ("pass" if value else "fail") if self.scale.binary else f"{value}/{self.scale.high}"
        at = "" if self.scale.binary else f" (pass at {self.pass_at})"
        return (1.0 if passed else 0.0), passed, value, reasons, f"{shown}{at}: {reasons}"


def judge_from_identity(params: dict[str, Any]) -> JudgeCheck:
    """Rebuild a judge check from the identity stored with a trial (case_json.checks[i].params)."""
    return JudgeCheck(JudgeCheck.Params.model_validate(params))
