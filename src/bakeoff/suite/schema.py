"""The suite file format (pydantic models, unknown keys are errors) and the objects a loaded
suite is made of (Suite, Case, ContenderRef).

The pydantic models describe the file as written; ``bakeoff.suite.loader`` checks what a
schema cannot (one of prompt/messages, unique ids, checks, placeholders, contender specs)
and builds the Case objects the runner consumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bakeoff.checks.base import CheckSpec, scalar_text
from bakeoff.spec import ContenderSpec

DEFAULT_MAX_TOKENS = 256
DEFAULT_TEMPERATURE = 0.0
DEFAULT_PASS_THRESHOLD = 1.0

Text = Annotated[str, BeforeValidator(scalar_text)]
MaxTokens = Annotated[int, Field(gt=0, strict=True)]
Temperature = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]
Threshold = Annotated[float, Field(ge=0, le=1, strict=True, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DefaultsModel(_Model):
    what: ClassVar[str] = "defaults"
    max_tokens: MaxTokens = DEFAULT_MAX_TOKENS
    temperature: Temperature = DEFAULT_TEMPERATURE
    system: Text | None = None
    pass_threshold: Threshold = DEFAULT_PASS_THRESHOLD


class MessageModel(_Model):
    what: ClassVar[str] = "message"
    role: Literal["system", "user", "assistant"]
    content: Text
    images: list[Text] | None = None  # image files (PNG, JPEG, WebP) attached to a user message


def _user_turn(value: Any) -> Any:
    """A turn may be written as its text alone: ``- What is 2 + 2?``."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"user": value}
    if not isinstance(value, dict):
        raise ValueError("a turn is the user's text, or a mapping {user: ..., checks: [...]}")  # noqa: TRY004 (pydantic)
    return value


def _one_or_many(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    return value


class TurnModel(_Model):
    what: ClassVar[str] = "turn"
    user: Text
    checks: list[Any] = Field(default_factory=list)


class EstablishModel(_Model):
    what: ClassVar[str] = "establish"
    user: Text
    checks: list[Any] = Field(default_factory=list)
    truth: bool = False  # also check this first reply against the probe's truth


class GenerateModel(_Model):
    what: ClassVar[str] = "distractors"
    generate: Annotated[int, Field(ge=0, le=200, strict=True)]
    seed: Annotated[int, Field(strict=True)] = 0


class ProbeModel(_Model):
    what: ClassVar[str] = "probe"
    establish: Annotated[EstablishModel, BeforeValidator(_user_turn)]
    distractors: Any = None  # a list of turns, or {generate: K, seed: S}: checked by the loader
    ask: Annotated[list[Text], BeforeValidator(_one_or_many), Field(min_length=1)]
    truth: Any = None  # text (contains), one check entry, or a list of them: checked by the loader


class ToolModel(_Model):
    what: ClassVar[str] = "tool"
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]
    description: Text = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    python: Text | None = None  # module:function that runs the tool in an agent loop


DEFAULT_TOOL_TIMEOUT_S = 30.0


class AgentModel(_Model):
    what: ClassVar[str] = "agent"
    max_steps: Annotated[int, Field(ge=1, le=100, strict=True)] = 8
    repo: Text | None = None  # a directory: the built-in read-only repository tools work inside it
    # a tool call that has not returned by then is abandoned, and the model is told so
    tool_timeout_s: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_TOOL_TIMEOUT_S


class CaseModel(_Model):
    what: ClassVar[str] = "case"
    id: Text | None = None
    prompt: Text | None = None
    messages: list[MessageModel] | None = None
    images: list[Text] | None = None  # image files attached to the prompt (the last user message)
    turns: list[Annotated[TurnModel, BeforeValidator(_user_turn)]] | None = None
    probe: ProbeModel | None = None
    vars: dict[str, Text] | None = None
    tags: list[Text] = Field(default_factory=list)
    max_tokens: MaxTokens | None = None
    temperature: Temperature | None = None
    system: Text | None = None
    pass_threshold: Threshold | None = None
    checks: list[Any] = Field(default_factory=list)
    tools: list[ToolModel] | None = None
    agent: AgentModel | None = None


class SuiteModel(_Model):
    what: ClassVar[str] = "the suite file"
    contenders: list[str] | None = None
    defaults: DefaultsModel | None = None
    cases: list[CaseModel]


@dataclass(frozen=True)
class ContenderRef:
    """A contender named in a suite file, with the line it was written on."""

    spec: ContenderSpec
    line: int | None = None


@dataclass
class Turn:
    """One user turn of a conversation case; the model's reply to it joins the history."""

    user: str
    checks: list[CheckSpec] = field(default_factory=list)
    role: str = "turn"  # turn | establish | distractor | ask (the last three: consistency probes)
    line: int | None = None

    def identity(self) -> dict[str, Any]:
        return {"user": self.user, "checks": [c.identity() for c in self.checks], "role": self.role}


@dataclass
class Case:
    """One task, fully rendered: what is sent, how long an answer may be, how it is scored."""

    id: str
    messages: list[dict[str, str]]
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = DEFAULT_TEMPERATURE
    tags: list[str] = field(default_factory=list)
    checks: list[CheckSpec] = field(default_factory=list)
    pass_threshold: float = DEFAULT_PASS_THRESHOLD
    line: int | None = None
    vars: dict[str, str] = field(default_factory=dict)
    # A conversation: one request per turn, the model's own replies kept in the history. Then
    # ``messages`` is what the first request sends (the system prompt, if any, and turn 1).
    turns: list[Turn] = field(default_factory=list)
    probe: dict[str, Any] | None = None  # consistency probe facts, e.g. {"establish_truth": True}
    # Tool use (bakeoff.tools): the declared tools (name, description, parameters) the model is
    # offered; their Python implementations; an agent loop's settings {max_steps, repo, repo_as_written}.
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_functions: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    tool_sources: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    agent: dict[str, Any] | None = None
    # Why an attached image cannot be sent (bakeoff.suite.images): the case's trials are errors.
    image_error: str | None = None

    @property
    def prompt(self) -> str:
        """The last user message (what a one-turn case asks)."""
        return self.messages[-1]["content"] if self.messages else ""

    def identity(self) -> dict[str, Any]:
        """Everything that defines the task, JSON-serialisable and stable across loads.

        Not the id, tags or line: renaming or moving a case does not change what it asks.
        ``vars`` are included because a python check may read them.
        """
        out = {
            "messages": [_message_identity(m) for m in self.messages],
            "max_tokens": int(self.max_tokens),
            "temperature": float(self.temperature),
            "checks": [c.identity() for c in self.checks],
            "pass_threshold": float(self.pass_threshold),
            "vars": dict(sorted(self.vars.items())),
        }
        # Only conversations carry these keys, so the identity of a one-turn case is unchanged.
        if self.turns:
            out["turns"] = [t.identity() for t in self.turns]
        if self.probe is not None:
            out["probe"] = dict(self.probe)
        if self.tools:
            out["tools"] = [dict(t, python=self.tool_sources.get(t["name"])) if t["name"] in self.tool_sources else t
                            for t in self.tools]
        if self.agent is not None:
            out["agent"] = {"max_steps": self.agent["max_steps"], "repo": self.agent.get("repo_as_written")}
            if self.agent.get("tool_timeout_s", DEFAULT_TOOL_TIMEOUT_S) != DEFAULT_TOOL_TIMEOUT_S:
                out["agent"]["tool_timeout_s"] = self.agent["tool_timeout_s"]  # the default keeps older identities
        return out


def _message_identity(m: dict[str, Any]) -> dict[str, Any]:
    out = {"role": m["role"], "content": m["content"]}
    if m.get("images"):  # only then: the identity of a text case is unchanged
        out["images"] = [i["sha256"] for i in m["images"]]
    return out


@dataclass
class Suite:
    path: str | None
    contenders: list[ContenderRef] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)

    def case(self, case_id: str) -> Case:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)

    @property
    def tags(self) -> list[str]:
        return sorted({t for c in self.cases for t in c.tags})
