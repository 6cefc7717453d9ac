"""Trial rows built by hand, with the columns the report modules read, for tests that need a
situation no small model run gives on request (tagged cases, tool loops, cached prefixes)."""

from __future__ import annotations

import itertools
import json
from typing import Any

_ids = itertools.count()


def trial(spec: str = "llamacpp:a", case_id: str = "c1", repeat: int = 0, **columns: Any) -> dict[str, Any]:
    """One ok, passed trial row; ``columns`` override (``tags`` and ``tool_summary`` as Python values)."""
    row = {"id": f"t{next(_ids)}", "spec": spec, "case_id": case_id, "repeat": repeat, "status": "ok",
           "passed": 1, "score": 1.0, "output": "4", "reasoning": None, "error": None,
           "ttft_ms": 100.0, "e2e_ms": 500.0, "decode_tps": 40.0, "engine_decode_tps": None,
           "engine_prefill_tps": None, "output_tokens": 10, "prompt_tokens": 20, "peak_mem_mb": 300.0,
           "tags": None, "tool_summary": None, "tool_calls": None, "cache_label": None, "cache_warm": None,
           "cache_cold": None, "cached_tokens": None, "cache_bust": None,
           "case_json": json.dumps({"messages": [{"role": "user", "content": f"question {case_id}"}]})}
    row.update(columns)
    for key in ("tags", "tool_summary", "tool_calls"):
        if row[key] is not None and not isinstance(row[key], str):
            row[key] = json.dumps(row[key])
    return row
